{{ config(materialized='view') }}

-- ICP/BANT qualification per deal from crm.lead.qualified: the first qualification time, and
-- the latest assessment (a re-qualification replaces the scores). Nullable for the left join.
with qualified as (
    select * from {{ ref('stg_masterdeal__raw_events') }}
    where event_type = 'crm.lead.qualified'
),

per_deal as (
    select
        master_deal_id,
        min(event_at)                               as qualified_at,
        argMax(payload_json, (event_at, event_id))  as payload_json
    from qualified
    group by master_deal_id
),

final as (
    select
        master_deal_id,
        toNullable(qualified_at)                                          as qualified_at,
        toNullable(JSONExtractFloat(payload_json, 'icp_score'))           as icp_score,
        toNullable(JSONExtractBool(payload_json, 'bant_budget') = 1)      as is_bant_budget,
        toNullable(JSONExtractBool(payload_json, 'bant_authority') = 1)   as is_bant_authority,
        toNullable(JSONExtractBool(payload_json, 'bant_need') = 1)        as is_bant_need,
        toNullable(JSONExtractBool(payload_json, 'bant_timing') = 1)      as is_bant_timing
    from per_deal
)

select * from final
