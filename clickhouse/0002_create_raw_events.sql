-- One row per distinct domain envelope (SPEC §2), written by the ClickHouse sink.
-- A re-delivered envelope (same event_id) collapses on merge / FINAL; ingested_at keeps the latest copy.
CREATE TABLE IF NOT EXISTS {database:Identifier}.raw_events
(
    event_id        String,
    event_type      LowCardinality(String),
    source_system   LowCardinality(String),
    master_deal_id  String,
    event_ts        DateTime64(3, 'UTC'),
    payload         String CODEC(ZSTD(3)),        -- the envelope's payload as JSON text
    kafka_topic     LowCardinality(String) DEFAULT '',
    kafka_partition Int32 DEFAULT -1,
    kafka_offset    Int64 DEFAULT -1,
    ingested_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(event_ts)
-- Analysts' queries: "all KPI / NPS / deal.created events" (event_type first, low cardinality),
-- "everything about deal X" within a type (master_deal_id); event_id ends the key because it is
-- the dedupe key of ReplacingMergeTree. Serves stg_masterdeal__raw_events and int_deal_clients.
ORDER BY (event_type, master_deal_id, event_id);
