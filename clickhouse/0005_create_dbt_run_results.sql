-- One row per node of each dbt invocation, loaded by `masterdeal dbt` from target/run_results.json.
CREATE TABLE IF NOT EXISTS {database:Identifier}.dbt_run_results
(
    invocation_id     String,
    command           LowCardinality(String),      -- e.g. build, run, test
    unique_id         String,                      -- model.masterdeal.fact_deal, test.masterdeal....
    model             String,                      -- node name
    resource_type     LowCardinality(String),
    status            LowCardinality(String),      -- success, error, skipped, pass, fail, warn
    rows_affected     Nullable(Int64),             -- NULL: the adapter did not report it
    execution_seconds Float64,
    started_at        DateTime64(3, 'UTC'),
    completed_at      DateTime64(3, 'UTC'),
    message           String,
    dbt_version       LowCardinality(String),
    recorded_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(recorded_at)
PARTITION BY toYYYYMM(started_at)
-- Operators' queries: "how did model X run lately" (unique_id, time), "what happened in invocation Y".
ORDER BY (unique_id, started_at, invocation_id);
