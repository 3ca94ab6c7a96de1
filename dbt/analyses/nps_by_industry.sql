-- NPS by industry: % promoters - % detractors, with counts.
select
    industry,
    count()                                   as answers,
    countIf(nps_category = 'promoter')        as promoters,
    countIf(nps_category = 'passive')         as passives,
    countIf(nps_category = 'detractor')       as detractors,
    round(100 * (countIf(nps_category = 'promoter') - countIf(nps_category = 'detractor')) / count(), 1) as nps
from {{ ref('fact_nps') }}
group by industry
order by nps desc, industry
