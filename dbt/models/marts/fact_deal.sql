{{ config(
    materialized='table',
    engine='MergeTree()',
    order_by='(stage, industry, master_deal_id)'
) }}
-- ORDER BY serves the dashboard's funnel (group by stage) and segment filters (industry).

-- FactDeal: one row per deal known to MasterDeal (every deal with a snapshot, including deals
-- whose crm.deal.created has not arrived yet: their client attributes are 'unknown').
with snapshots as (
    select * from {{ ref('stg_masterdeal__deal_snapshots') }}
),

clients as (
    select * from {{ ref('int_deal_clients') }}
),

qualification as (
    select * from {{ ref('int_deal_qualification') }}
),

sla_per_deal as (
    select
        master_deal_id,
        countIf(is_breached)  as breach_count,
        count()               as started_sla_count
    from {{ ref('int_sla_results') }}
    group by master_deal_id
),

stages as (
    select stage, stage_order, business_stage, is_terminal from {{ ref('dim_stage') }}
),

joined as (
    select
        snapshots.master_deal_id                                    as master_deal_id,
        clients.client_id                                           as client_id,
        clients.client_name                                         as client_name,
        coalesce(clients.industry, 'unknown')                       as industry,
        coalesce(clients.client_type, 'unknown')                    as client_type,
        clients.budget_rub                                          as budget_rub,
        coalesce(clients.budget_segment, 'unknown')                 as budget_segment,
        qualification.icp_score                                     as icp_score,
        qualification.is_bant_budget                                as is_bant_budget,
        qualification.is_bant_authority                             as is_bant_authority,
        qualification.is_bant_need                                  as is_bant_need,
        qualification.is_bant_timing                                as is_bant_timing,
        toUInt8(coalesce(qualification.is_bant_budget, false))
          + toUInt8(coalesce(qualification.is_bant_authority, false))
          + toUInt8(coalesce(qualification.is_bant_need, false))
          + toUInt8(coalesce(qualification.is_bant_timing, false)) as bant_score,
        snapshots.lead_qualified_at is not null                     as is_qualified,
        snapshots.stage                                             as stage,
        stages.stage_order                                          as stage_order,
        stages.business_stage                                       as business_stage,
        stages.is_terminal                                          as is_terminal,
        -- Event-time facts from the snapshot (earliest event that set each fact).
        coalesce(snapshots.deal_created_at, clients.created_at)     as created_at,
        snapshots.lead_qualified_at                                 as qualified_at,
        if(snapshots.stage = 'closed', snapshots.closeout_completed_at, NULL) as closed_at,
        if(snapshots.stage = 'cancelled', snapshots.cancelled_at, NULL)       as cancelled_at,
        coalesce(sla_per_deal.breach_count, 0)                      as breach_count,
        snapshots.event_count                                       as event_count,
        snapshots.snapshot_version                                  as snapshot_version,
        snapshots.updated_at                                        as updated_at
    from snapshots
    left join clients on clients.master_deal_id = snapshots.master_deal_id
    left join qualification on qualification.master_deal_id = snapshots.master_deal_id
    left join sla_per_deal on sla_per_deal.master_deal_id = snapshots.master_deal_id
    left join stages on stages.stage = snapshots.stage
),

final as (
    select
        *,
        -- Cycle time: creation to the terminal fact (close or cancel); NULL while the deal is open.
        if(created_at is null or coalesce(closed_at, cancelled_at) is null, NULL,
           dateDiff('millisecond', created_at, coalesce(closed_at, cancelled_at)))  as cycle_time_ms,
        cycle_time_ms / 86400000.0                                                  as cycle_time_days
    from joined
)

select * from final
