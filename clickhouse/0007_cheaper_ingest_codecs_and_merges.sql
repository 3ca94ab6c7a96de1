-- Cheaper ingest (issue #4's throughput target; measured with `npm run bench:clickhouse-ingest`,
-- 1M generated events in the sink's flush pattern, chDB 26.7 on 2 cores).
--
-- 1. JSON text columns ZSTD(3) -> ZSTD(1). ZSTD(3) cost ~6 ms of CPU per insert (mostly system
--    time setting up its larger match state for every part written), and again in every merge;
--    ZSTD(1) compresses these JSON columns as well or slightly better (payload x8.1 -> x8.5,
--    canonical body x8.5 -> x9.2, snapshot body x8.5 -> x9.1). Only the codec changes: existing
--    parts keep ZSTD(3) until a merge rewrites them (no mutation).
ALTER TABLE {database:Identifier}.raw_events MODIFY COLUMN payload String CODEC(ZSTD(1));
ALTER TABLE {database:Identifier}.canonical_events MODIFY COLUMN body String CODEC(ZSTD(1));
ALTER TABLE {database:Identifier}.deal_snapshots MODIFY COLUMN body String CODEC(ZSTD(1));
-- 2. merge_selector_base 5 -> 20: merges take more parts at once, so each row is rewritten fewer
--    times (1M events: merged rows 2.3x -> 0.9x the inserted rows, merge CPU ~6-8 s -> ~2.6 s),
--    at the price of more active parts between merges (~25 -> ~55 per table at 1M events), which
--    FINAL and argMax reads of this size do not notice. Results are unchanged: ReplacingMergeTree
--    collapses in whichever merge, and FINAL collapses what is not merged yet.
ALTER TABLE {database:Identifier}.raw_events MODIFY SETTING merge_selector_base = 20;
ALTER TABLE {database:Identifier}.canonical_events MODIFY SETTING merge_selector_base = 20;
ALTER TABLE {database:Identifier}.deal_snapshots MODIFY SETTING merge_selector_base = 20;
