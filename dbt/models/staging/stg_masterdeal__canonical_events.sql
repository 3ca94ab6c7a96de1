{{ config(materialized='view') }}

-- Canonical outputs of the processor, one row per distinct canonical_id, with the fields of
-- SPEC §6 extracted (NULL where a type does not carry the field).
with source as (
    select * from {{ source('masterdeal', 'canonical_events') }} final
),

renamed as (
    select
        canonical_id,
        toString(type)                                                          as canonical_type,
        master_deal_id,
        event_ts                                                                as event_at,
        nullIf(JSONExtractString(body, 'from_stage'), '')                       as from_stage,
        nullIf(JSONExtractString(body, 'to_stage'), '')                         as to_stage,
        nullIf(JSONExtractString(body, 'cause_event_id'), '')                   as cause_event_id,
        JSONExtractBool(body, 'compensation') = 1                               as is_compensation,
        nullIf(JSONExtractString(body, 'sla'), '')                              as sla_name,
        parseDateTime64BestEffortOrNull(JSONExtractString(body, 'started_at'), 3, 'UTC')  as sla_started_at,
        parseDateTime64BestEffortOrNull(JSONExtractString(body, 'deadline_at'), 3, 'UTC') as sla_deadline_at,
        body                                                                    as canonical_json,
        ingested_at
    from source
)

select * from renamed
