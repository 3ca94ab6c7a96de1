-- The warehouse database and the migration ledger.
-- Atomic engine: dbt-clickhouse swaps tables with EXCHANGE TABLES, which needs it
-- (chDB's `default` database is Overlay, so the project always uses its own database).
CREATE DATABASE IF NOT EXISTS {database:Identifier} ENGINE = Atomic;

-- One row per applied migration file; the checksum makes an edited, already applied file an error.
CREATE TABLE IF NOT EXISTS {database:Identifier}.schema_migrations
(
    version    UInt32,
    name       String,
    checksum   FixedString(64),
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version;
