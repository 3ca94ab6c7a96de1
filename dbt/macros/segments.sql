{#- Budget segment of a deal from its budget in RUB. Bounds are the project var
    budget_segment_bounds_rub (dbt_project.yml, shared with the API; no default here so there is
    one definition): small < bound[0] <= medium < bound[1] <= large. -#}
{% macro budget_segment(budget_rub) -%}
    {%- set bounds = var('budget_segment_bounds_rub') -%}
    multiIf({{ budget_rub }} is null, 'unknown',
            {{ budget_rub }} < {{ bounds[0] }}, 'small',
            {{ budget_rub }} < {{ bounds[1] }}, 'medium',
            'large')
{%- endmacro %}

{#- NPS category of a 0..10 score: 9-10 promoter, 7-8 passive, 0-6 detractor. -#}
{% macro nps_category(score) -%}
    multiIf({{ score }} >= 9, 'promoter', {{ score }} >= 7, 'passive', 'detractor')
{%- endmacro %}

{#- Lower bound of the rows an incremental model must revisit: everything ingested since the
    previous run, minus a look-back that absorbs sink inserts that were in flight (their
    ingested_at can be a little older than rows already seen). Re-processing is harmless:
    incremental marts delete+insert by key. -#}
{% macro incremental_since(column, this_column) -%}
    {{ column }} >= (
        select coalesce(max({{ this_column }}), toDateTime64(0, 3, 'UTC'))
               - toIntervalMinute({{ var('incremental_lookback_minutes', 5) }})
        from {{ this }}
    )
{%- endmacro %}
