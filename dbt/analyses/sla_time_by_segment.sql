-- Median and p90 SLA time (hours) per SLA and deal segment, stopped timers only.
select
    sla_name,
    industry,
    budget_segment,
    client_type,
    count()                                   as stopped_timers,
    round(quantileExact(0.5)(duration_hours), 2) as median_hours,
    round(quantileExact(0.9)(duration_hours), 2) as p90_hours,
    any(target_hours)                         as target_hours
from {{ ref('fact_sla') }}
where stopped_at is not null
group by sla_name, industry, budget_segment, client_type
order by sla_name, industry, budget_segment, client_type
