/**
 * Insert throughput through the chDB-backed ClickHouse HTTP endpoint:
 * JSONEachRow batches of 10k rows with the project's @clickhouse/client factory.
 * Run: npm run bench:clickhouse-endpoint [-- <batches>]. Prints figures; asserts nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clickhouseClient } from '../../processors/clickhouse/client.ts';
import { startEndpoint } from '../../processors/clickhouse/endpoint/server.ts';

const BATCH = 10_000;
const batches = Number(process.argv[2] ?? 20);
const dataDir = mkdtempSync(join(tmpdir(), 'masterdeal-ch-bench-'));
const endpoint = await startEndpoint({
  host: '127.0.0.1', port: 0, dataDir, maxBodyBytes: 256 * 1024 * 1024, user: 'default', password: '', databases: ['masterdeal'],
});
const client = clickhouseClient({ clickhouseUrl: endpoint.url, clickhouseUser: 'default', clickhousePassword: '', clickhouseDatabase: 'masterdeal' });

try {
  await client.command({
    query: `CREATE TABLE bench_events (
      event_id String, deal_id String, event_type LowCardinality(String), occurred_at DateTime64(3, 'UTC'),
      stage LowCardinality(String), amount Decimal(18, 2), payload String, version UInt64
    ) ENGINE = ReplacingMergeTree(version) ORDER BY (deal_id, occurred_at, event_id)`,
  });
  const makeBatch = (b: number) => Array.from({ length: BATCH }, (_, i) => {
    const n = b * BATCH + i;
    return {
      event_id: `e-${n}`,
      deal_id: `d-${n % 5000}`,
      event_type: ['DealCreated', 'StageChanged', 'BriefApproved', 'MediaPlanSigned'][n % 4],
      occurred_at: new Date(Date.UTC(2024, 0, 1) + n * 1000).toISOString(),
      stage: ['lead', 'qualified', 'proposal', 'won'][n % 4],
      amount: ((n % 10_000) * 1.5).toFixed(2),
      payload: JSON.stringify({ owner: `u-${n % 40}`, note: 'x'.repeat(40) }),
      version: n,
    };
  });
  const payloads = Array.from({ length: batches }, (_, b) => makeBatch(b));
  const bytes = Buffer.byteLength(payloads[0].map((r) => JSON.stringify(r)).join('\n'));
  await client.insert({ table: 'bench_events', values: makeBatch(batches), format: 'JSONEachRow' }); // warm-up
  const started = process.hrtime.bigint();
  for (const values of payloads) await client.insert({ table: 'bench_events', values, format: 'JSONEachRow' });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rows = batches * BATCH;
  const count = await (await client.query({ query: 'SELECT count() AS n FROM bench_events', format: 'JSONEachRow' })).json<{ n: string }>();
  console.log(`chDB endpoint, JSONEachRow, ${batches} batches x ${BATCH} rows (${(bytes / 1024 / 1024).toFixed(1)} MiB per batch):`);
  console.log(`  ${rows} rows in ${seconds.toFixed(2)} s = ${Math.round(rows / seconds)} rows/s, ${(seconds / batches * 1000).toFixed(0)} ms per batch`);
  console.log(`  table holds ${count[0].n} rows (incl. ${BATCH} warm-up)`);
} finally {
  await client.close();
  await endpoint.close();
  rmSync(dataDir, { recursive: true, force: true });
}
