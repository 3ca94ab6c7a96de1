-- Bottleneck stages: for each stage, the SLA that runs while deals sit in it, its median time and
-- breach rate, and how many open deals sit there now. The top row is the worst bottleneck.
with sla as (
    select sla_name, duration_hours, sla_status from {{ ref('fact_sla') }}
),

stages as (
    select stage, stage_order, business_stage, exit_sla from {{ ref('dim_stage') }}
    where exit_sla is not null and is_default_rule
),

open_deals as (
    select stage, count() as open_deals from {{ ref('fact_deal') }} where not is_terminal group by stage
),

per_sla as (
    select sla_name,
           quantileExact(0.5)(duration_hours)                 as median_hours,
           countIf(sla_status = 'breached') / count()         as breach_rate
    from sla
    group by sla_name
)

select
    stages.stage                          as stage,
    stages.business_stage                 as business_stage,
    stages.exit_sla                       as exit_sla,
    round(per_sla.median_hours, 2)        as median_hours,
    round(per_sla.breach_rate, 4)         as breach_rate,
    coalesce(open_deals.open_deals, 0)    as open_deals_now
from stages
left join per_sla on per_sla.sla_name = stages.exit_sla
left join open_deals on open_deals.stage = stages.stage
order by breach_rate desc, median_hours desc
