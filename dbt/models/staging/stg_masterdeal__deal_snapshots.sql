{{ config(materialized='view') }}

-- Latest snapshot per deal (FINAL keeps the highest version) with the gate and fact times
-- extracted from the SPEC §6 JSON; a gate's time is NULL while the gate is false.
{%- set gates = ['has_brief', 'mediaplan_ready', 'offer_approved', 'contract_signed',
                 'campaign_started', 'invoice_issued', 'closeout_completed'] %}
{%- set facts = ['deal_created', 'lead_qualified', 'cancelled'] %}

with source as (
    select * from {{ source('masterdeal', 'deal_snapshots') }} final
),

renamed as (
    select
        master_deal_id,
        version                                                         as snapshot_version,
        toString(stage)                                                 as stage,
        updated_at,
        toUInt32(JSONExtractUInt(body, 'event_count'))                  as event_count,
        {%- for gate in gates %}
        JSONExtractBool(body, 'gates', '{{ gate }}', 'value') = 1       as is_{{ gate }},
        if(is_{{ gate }},
           parseDateTime64BestEffortOrNull(JSONExtractString(body, 'gates', '{{ gate }}', 'event_ts'), 3, 'UTC'),
           NULL)                                                        as {{ gate }}_at,
        {%- endfor %}
        {%- for fact in facts %}
        if(JSONExtractBool(body, 'facts', '{{ fact }}', 'value') = 1,
           parseDateTime64BestEffortOrNull(JSONExtractString(body, 'facts', '{{ fact }}', 'event_ts'), 3, 'UTC'),
           NULL)                                                        as {{ fact }}_at,
        {%- endfor %}
        body                                                            as snapshot_json,
        ingested_at
    from source
)

select * from renamed
