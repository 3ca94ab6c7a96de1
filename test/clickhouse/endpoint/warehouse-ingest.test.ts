import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickhouseClient } from '../../../processors/clickhouse/client.ts';
import { startEndpoint, type RunningEndpoint } from '../../../processors/clickhouse/endpoint/server.ts';
import { migrate } from '../../../processors/clickhouse/migrate.ts';
import { toTabSeparated } from '../../../processors/clickhouse/tsv.ts';

/**
 * The warehouse tables as the sink writes them (all migrations, 0007's codecs and merge setting
 * included), through the endpoint: TabSeparated inserts with insert_deduplication_token.
 */
let dir: string;
let endpoint: RunningEndpoint;
let client: ClickHouseClient;
const DB = 'wh_ingest';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'md-wh-ingest-'));
  endpoint = await startEndpoint({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'ch'), maxBodyBytes: 1 << 24, user: 'default', password: '', databases: [] });
  client = clickhouseClient({ clickhouseUrl: endpoint.url, clickhouseUser: 'default', clickhousePassword: '', clickhouseDatabase: 'default' });
  await migrate(client, { database: DB });
});

afterAll(async () => {
  await client?.close();
  await endpoint?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function insert(table: string, rows: Record<string, unknown>[], token: string): Promise<void> {
  const { columns, body } = toTabSeparated(rows);
  await client.insert({
    table: `${DB}.${table}`, values: Readable.from([body], { objectMode: false }), format: 'TabSeparated',
    columns: columns as [string, ...string[]], clickhouse_settings: { insert_deduplication_token: token },
  });
}

async function one<T>(query: string): Promise<T> {
  return ((await (await client.query({ query, format: 'JSONEachRow' })).json()) as T[])[0]!;
}

const raw = (id: string, offset: number) => ({
  event_id: id, event_type: 'crm.deal.created', source_system: 'CRM', master_deal_id: 'MD-1', event_ts: '2026-03-02 09:00:00.000',
  payload: '{"client_id":"C-1","note":"tab\there"}', kafka_topic: 'masterdeal.raw.crm', kafka_partition: 0, kafka_offset: offset,
});

describe('warehouse inserts through the endpoint', () => {
  it('a batch re-sent with the same dedup token is stored once (0006), even before any merge', async () => {
    await insert('raw_events', [raw('e1', 1), raw('e2', 2)], 'raw_events/masterdeal.raw.crm:0:1-2');
    await insert('raw_events', [raw('e1', 1), raw('e2', 2)], 'raw_events/masterdeal.raw.crm:0:1-2');
    expect(Number((await one<{ n: string }>(`SELECT count() AS n FROM ${DB}.raw_events`)).n)).toBe(2);
    // Another token is another batch: stored, and collapsed by FINAL (ReplacingMergeTree).
    await insert('raw_events', [raw('e2', 5)], 'raw_events/masterdeal.raw.crm:0:5-5');
    expect(Number((await one<{ n: string }>(`SELECT count() AS n FROM ${DB}.raw_events`)).n)).toBe(3);
    const final = await one<{ n: string; payload: string }>(`SELECT count() AS n, any(payload) AS payload FROM ${DB}.raw_events FINAL WHERE event_id = 'e2'`);
    expect({ n: Number(final.n), payload: final.payload }).toEqual({ n: 1, payload: '{"client_id":"C-1","note":"tab\there"}' });
  });

  it('the highest snapshot version wins under FINAL and after a merge, bodies byte for byte', async () => {
    const snap = (version: number) => ({ master_deal_id: 'MD-7', version, stage: 'brief', updated_at: '2026-03-02 09:00:00.000', body: JSON.stringify({ version, pad: 'x'.repeat(1500) }) });
    await insert('deal_snapshots', [snap(3)], 'deal_snapshots/s:0:1-1');
    await insert('deal_snapshots', [snap(5)], 'deal_snapshots/s:0:2-2');
    await insert('deal_snapshots', [snap(4)], 'deal_snapshots/s:0:3-3');
    const expected = { version: '5', body: JSON.stringify({ version: 5, pad: 'x'.repeat(1500) }) };
    expect(await one(`SELECT toString(version) AS version, body FROM ${DB}.deal_snapshots FINAL WHERE master_deal_id = 'MD-7'`)).toEqual(expected);
    await client.command({ query: `OPTIMIZE TABLE ${DB}.deal_snapshots FINAL` });
    expect(await one(`SELECT toString(version) AS version, body FROM ${DB}.deal_snapshots WHERE master_deal_id = 'MD-7'`)).toEqual(expected);
  });

  it('0007: JSON columns use ZSTD(1) and the tables merge_selector_base = 20', async () => {
    const codecs = (await (await client.query({
      query: `SELECT table, name, compression_codec FROM system.columns WHERE database = '${DB}' AND name IN ('payload', 'body') ORDER BY table`,
      format: 'JSONEachRow',
    })).json()) as Array<{ table: string; compression_codec: string }>;
    expect(codecs.map((c) => `${c.table}:${c.compression_codec}`)).toEqual([
      'canonical_events:CODEC(ZSTD(1))', 'deal_snapshots:CODEC(ZSTD(1))', 'raw_events:CODEC(ZSTD(1))',
    ]);
    const settings = await one<{ n: string }>(`SELECT countIf(engine_full LIKE '%merge_selector_base = 20%') AS n FROM system.tables WHERE database = '${DB}'`);
    expect(Number(settings.n)).toBe(3);
  });
});
