-- KPI delivery vs plan per campaign: delivered / planned impressions and spend, CTR, CPA.
select
    campaign_id,
    any(master_deal_id)                                                   as deal_id,
    min(kpi_date)                                                         as first_day,
    max(kpi_date)                                                         as last_day,
    sum(impressions)                                                      as total_impressions,
    sum(plan_impressions)                                                 as total_plan_impressions,
    round(total_impressions / nullIf(total_plan_impressions, 0), 4)       as impressions_delivery_rate,
    round(sum(spend_rub), 2)                                              as total_spend_rub,
    round(sum(plan_spend_rub), 2)                                         as total_plan_spend_rub,
    round(sum(spend_rub) / nullIf(sum(plan_spend_rub), 0), 4)             as spend_delivery_rate,
    round(sum(clicks) / nullIf(sum(impressions), 0), 5)                   as campaign_ctr,
    round(sum(spend_rub) / nullIf(sum(conversions), 0), 2)                as campaign_cpa_rub
from {{ ref('fact_kpi') }}
group by campaign_id
order by campaign_id
