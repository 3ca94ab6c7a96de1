{{ config(materialized='table', engine='MergeTree()', order_by='(nps_category, industry, survey_id)') }}
-- ORDER BY serves "NPS by industry" (category counts per industry).

-- FactNPS: one row per survey answer (okk.nps.submitted). A survey answered twice (distinct
-- event ids, same survey_id) keeps its latest answer.
with nps_events as (
    select
        coalesce(nullIf(JSONExtractString(payload_json, 'survey_id'), ''), event_id) as survey_id,
        event_id,
        master_deal_id,
        event_at,
        payload_json                                                                  as answer_json
    from {{ ref('stg_masterdeal__raw_events') }}
    where event_type = 'okk.nps.submitted'
),

latest as (
    select
        survey_id,
        argMax(master_deal_id, (event_at, event_id))  as master_deal_id,
        argMax(answer_json, (event_at, event_id))     as payload_json,
        max(event_at)                                 as answered_at
    from nps_events
    group by survey_id
),

clients as (
    select * from {{ ref('int_deal_clients') }}
),

final as (
    select
        latest.survey_id                                             as survey_id,
        latest.master_deal_id                                        as master_deal_id,
        latest.answered_at                                           as answered_at,
        toUInt8(JSONExtractUInt(latest.payload_json, 'score'))       as score,
        {{ nps_category('score') }}                                  as nps_category,
        JSONExtractString(latest.payload_json, 'comment')            as comment,
        coalesce(clients.industry, 'unknown')                        as industry,
        coalesce(clients.client_type, 'unknown')                     as client_type,
        coalesce(clients.budget_segment, 'unknown')                  as budget_segment
    from latest
    left join clients on clients.master_deal_id = latest.master_deal_id
)

select * from final
