{{ config(materialized='table', engine='MergeTree()', order_by='stage_order') }}

-- DimStage: one row per aggregated stage with its business pipeline stage (doc 6.2 / 6.9.3).
with stage_map as (
    select * from {{ ref('stage_business_map') }}
),

final as (
    select
        toString(aggregated_stage)       as stage,
        stage_order,
        business_stage_number,
        business_stage,
        business_stage_ru,
        owning_domains,
        owning_roles,
        nullIf(exit_sla, '')             as exit_sla,
        is_terminal,
        is_default_rule
    from stage_map
)

select * from final
