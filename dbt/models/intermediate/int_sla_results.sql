{{ config(materialized='view') }}

-- One row per deal and started SLA timer, unnested from the latest snapshot's `sla` object
-- (SPEC §6). Timers that never started (no start fact) are left out: they have no duration.
with snapshots as (
    select * from {{ ref('stg_masterdeal__deal_snapshots') }}
),

unnested as (
    select
        master_deal_id,
        snapshot_version,
        ingested_at                      as snapshot_ingested_at,
        sla_entry.1                      as sla_name,
        sla_entry.2                      as sla_json
    from snapshots
    array join JSONExtractKeysAndValuesRaw(snapshot_json, 'sla') as sla_entry
),

final as (
    select
        master_deal_id,
        sla_name,
        parseDateTime64BestEffortOrNull(JSONExtractString(sla_json, 'started_at'), 3, 'UTC')  as started_at,
        parseDateTime64BestEffortOrNull(JSONExtractString(sla_json, 'stopped_at'), 3, 'UTC')  as stopped_at,
        parseDateTime64BestEffortOrNull(JSONExtractString(sla_json, 'deadline_at'), 3, 'UTC') as deadline_at,
        JSONExtract(sla_json, 'duration_ms', 'Nullable(Int64)')                              as duration_ms,
        JSONExtract(sla_json, 'target_ms', 'Int64')                                          as target_ms,
        JSONExtractBool(sla_json, 'breached') = 1                                            as is_breached,
        JSONExtractBool(sla_json, 'stopped_by_terminal') = 1                                 as is_stopped_by_terminal,
        JSONExtractString(sla_json, 'status')                                                as engine_status,
        snapshot_version,
        snapshot_ingested_at
    from unnested
)

select * from final
where started_at is not null
