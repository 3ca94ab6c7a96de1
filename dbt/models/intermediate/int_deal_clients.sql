{{ config(materialized='view') }}

-- Client attributes per deal from crm.deal.created. Should a deal get several creation events
-- (distinct event_ids, e.g. a CRM re-import), the earliest one (event time, then event_id) wins.
-- Attributes are Nullable so a deal without a creation event joins as NULL, not ''/0.
with deal_created as (
    select * from {{ ref('stg_masterdeal__raw_events') }}
    where event_type = 'crm.deal.created'
),

first_creation as (
    select
        master_deal_id,
        argMin(payload_json, (event_at, event_id)) as payload_json,
        min(event_at)                              as created_at
    from deal_created
    group by master_deal_id
),

final as (
    select
        master_deal_id,
        toNullable(JSONExtractString(payload_json, 'client_id'))     as client_id,
        toNullable(JSONExtractString(payload_json, 'client_name'))   as client_name,
        toNullable(JSONExtractString(payload_json, 'industry'))      as industry,
        toNullable(JSONExtractString(payload_json, 'client_type'))   as client_type,
        toNullable(JSONExtractFloat(payload_json, 'budget_rub'))     as budget_rub,
        toNullable({{ budget_segment('JSONExtractFloat(payload_json, \'budget_rub\')') }}) as budget_segment,
        toNullable(created_at)                                       as created_at
    from first_creation
)

select * from final
