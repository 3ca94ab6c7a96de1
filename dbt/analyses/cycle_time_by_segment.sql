-- Cycle time (creation to close/cancel, days) by industry, budget segment and client type.
select
    industry,
    budget_segment,
    client_type,
    countIf(stage = 'closed')                                  as closed_deals,
    countIf(stage = 'cancelled')                               as cancelled_deals,
    round(avgIf(cycle_time_days, stage = 'closed'), 2)         as avg_days_to_close,
    round(quantileExactIf(0.5)(cycle_time_days, stage = 'closed'), 2) as median_days_to_close
from {{ ref('fact_deal') }}
where cycle_time_days is not null
group by industry, budget_segment, client_type
order by industry, budget_segment, client_type
