-- The sink tags every insert with insert_deduplication_token (topic:partition:first-last of the
-- offsets it covers), so a batch re-sent after a failed or unacknowledged insert collapses.
-- A non-replicated MergeTree ignores the token unless it keeps a deduplication window: without
-- this, a retried batch is stored twice until a merge / FINAL collapses it (verified on chDB
-- through the endpoint: 2 identical inserts with one token -> 2 copies; with the window -> 1).
-- 1000 = the last 1000 inserts per table are remembered (about 15 minutes at 1 flush/s).
ALTER TABLE {database:Identifier}.raw_events MODIFY SETTING non_replicated_deduplication_window = 1000;
ALTER TABLE {database:Identifier}.canonical_events MODIFY SETTING non_replicated_deduplication_window = 1000;
ALTER TABLE {database:Identifier}.deal_snapshots MODIFY SETTING non_replicated_deduplication_window = 1000;
