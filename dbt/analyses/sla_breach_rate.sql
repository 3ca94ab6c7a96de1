-- Breach rate per SLA: breached / started timers, with open and met counts.
select
    sla_name,
    count()                                  as started_timers,
    countIf(sla_status = 'breached')         as breached,
    countIf(sla_status = 'met')              as met,
    countIf(sla_status = 'open')             as open,
    round(countIf(sla_status = 'breached') / count(), 4) as breach_rate
from {{ ref('fact_sla') }}
group by sla_name
order by breach_rate desc, sla_name
