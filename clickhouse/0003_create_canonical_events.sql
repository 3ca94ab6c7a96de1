-- One row per canonical output event (SPEC §6 fold-output lines other than the snapshot):
-- masterdeal.stage.changed, masterdeal.sla.updated, masterdeal.sla.breached, masterdeal.closed.
-- canonical_id is the deterministic id of the output (same input -> same id), so a re-published
-- output collapses on merge / FINAL.
CREATE TABLE IF NOT EXISTS {database:Identifier}.canonical_events
(
    canonical_id    String,
    type            LowCardinality(String),
    master_deal_id  String,
    event_ts        DateTime64(3, 'UTC'),          -- business time of the output (see README)
    body            String CODEC(ZSTD(3)),         -- the canonical event as its SPEC §6 JSON line
    kafka_topic     LowCardinality(String) DEFAULT '',
    kafka_partition Int32 DEFAULT -1,
    kafka_offset    Int64 DEFAULT -1,
    ingested_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(event_ts)
-- Analysts' queries: "stage transitions / breaches over a period" (type, then deal), a deal's
-- timeline (master_deal_id); canonical_id ends the key as the dedupe key.
ORDER BY (type, master_deal_id, canonical_id);
