-- Deal funnel: deals currently in each stage and deals that reached at least that stage
-- (cumulative over the pipeline order; cancelled deals are counted by their own row only).
with deals as (
    select stage, stage_order from {{ ref('fact_deal') }}
),

stages as (
    select stage, stage_order, business_stage, is_default_rule from {{ ref('dim_stage') }}
),

per_stage as (
    select stages.stage as stage, stages.stage_order as stage_order, stages.business_stage as business_stage,
           countIf(deals.stage = stages.stage) as deals_in_stage
    from stages
    left join deals on deals.stage = stages.stage
    where stages.is_default_rule
    group by stages.stage, stages.stage_order, stages.business_stage
)

select
    stage,
    business_stage,
    deals_in_stage,
    if(stage = 'cancelled', deals_in_stage,
       sum(if(stage = 'cancelled', 0, deals_in_stage)) over (order by stage_order desc rows between unbounded preceding and current row)) as deals_reached
from per_stage
order by stage_order
