-- Latest snapshot per deal (SPEC §6 `masterdeal.snapshot`), a higher version replaces a lower one.
CREATE TABLE IF NOT EXISTS {database:Identifier}.deal_snapshots
(
    master_deal_id  String,
    version         UInt64,                        -- monotonically increasing per deal
    stage           LowCardinality(String),
    updated_at      DateTime64(3, 'UTC'),          -- business time of the latest fact in the snapshot
    body            String CODEC(ZSTD(3)),         -- the snapshot JSON object exactly as `masterdeal fold` prints it
    ingested_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
-- Analysts' queries: point look-ups and joins by deal (fact_deal, fact_sla); one row per deal after merge.
ORDER BY master_deal_id;
