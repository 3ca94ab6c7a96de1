{{ config(
    materialized='incremental',
    incremental_strategy='delete_insert',
    unique_key='campaign_day_id',
    engine='MergeTree()',
    partition_by='toYYYYMM(kpi_date)',
    order_by='(campaign_id, kpi_date)'
) }}
-- ORDER BY serves "delivery vs plan for a campaign over time"; monthly partitions serve date ranges.
-- Grain: campaign x day. Several mediapush.campaign.kpi reports for one campaign-day are
-- corrections: the latest (event time, then event_id) replaces the earlier ones.
-- Incremental: campaign-days with any report ingested since the last run are recomputed from
-- all their reports (delete+insert by campaign_day_id), so late and re-delivered reports are correct.

with kpi_events as (
    select
        event_id,
        master_deal_id,
        event_at,
        ingested_at,
        JSONExtractString(payload_json, 'campaign_id')                          as campaign_id,
        coalesce(toDateOrNull(JSONExtractString(payload_json, 'date')), toDate(event_at)) as kpi_date,
        payload_json
    from {{ ref('stg_masterdeal__raw_events') }}
    where event_type = 'mediapush.campaign.kpi'
),

{% if is_incremental() %}
touched as (
    select distinct campaign_id, kpi_date
    from kpi_events
    where {{ incremental_since('ingested_at', 'last_ingested_at') }}
),
{% endif %}

latest as (
    select
        campaign_id,
        kpi_date,
        argMax(master_deal_id, (event_at, event_id))  as master_deal_id,
        argMax(payload_json, (event_at, event_id))    as payload_json,
        max(event_at)                                 as reported_at,
        count()                                       as report_count,
        max(ingested_at)                              as last_ingested_at
    from kpi_events
    {% if is_incremental() %}
    where (campaign_id, kpi_date) in (select campaign_id, kpi_date from touched)
    {% endif %}
    group by campaign_id, kpi_date
),

final as (
    select
        concat(campaign_id, ':', toString(kpi_date))                    as campaign_day_id,
        campaign_id,
        kpi_date,
        master_deal_id,
        toUInt64(JSONExtractUInt(payload_json, 'impressions'))          as impressions,
        toUInt64(JSONExtractUInt(payload_json, 'plan_impressions'))     as plan_impressions,
        toUInt64(JSONExtractUInt(payload_json, 'clicks'))               as clicks,
        toUInt64(JSONExtractUInt(payload_json, 'conversions'))          as conversions,
        JSONExtractFloat(payload_json, 'spend_rub')                     as spend_rub,
        JSONExtractFloat(payload_json, 'plan_spend_rub')                as plan_spend_rub,
        -- Ratios are NULL where the denominator is zero (no division by zero, no fake 0).
        if(plan_impressions = 0, NULL, impressions / plan_impressions)  as impressions_delivery_rate,
        if(plan_spend_rub = 0, NULL, spend_rub / plan_spend_rub)        as spend_delivery_rate,
        if(impressions = 0, NULL, clicks / impressions)                 as ctr,
        if(conversions = 0, NULL, spend_rub / conversions)              as cpa_rub,
        reported_at,
        report_count,
        last_ingested_at
    from latest
)

select * from final
