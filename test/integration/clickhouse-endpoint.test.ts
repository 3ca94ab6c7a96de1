import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickhouseClient } from '../../processors/clickhouse/client.ts';
import { PROJECT_ROOT } from '../../processors/shared/config.ts';
import { dbtExecutable, dbtPython } from '../../processors/stack/components/dbt.ts';

/**
 * The chDB-backed ClickHouse HTTP endpoint, run as `masterdeal clickhouse serve` on a free
 * port with a throwaway data dir, driven by the clients the project uses: @clickhouse/client,
 * curl, clickhouse-connect and dbt (the last two only when `stack install` set up .venv-dbt).
 */
const run = promisify(execFile);
const MAX_BODY_BYTES = 1024 * 1024;

interface Server {
  url: string;
  port: number;
  child: ChildProcess;
}

async function startServer(dataDir: string): Promise<Server> {
  const child = spawn(
    process.execPath,
    [join(PROJECT_ROOT, 'scripts', 'masterdeal.mjs'), 'clickhouse', 'serve', '--port', '0', '--data-dir', dataDir,
      '--max-body-bytes', String(MAX_BODY_BYTES), '--database', 'masterdeal', '--database', 'endpoint_trivial'],
    { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MASTERDEAL_LOG_LEVEL: 'warn' } },
  );
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`endpoint did not start:\n${output}`)), 60_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`endpoint exited with ${code}:\n${output}`)));
  });
  return { url, port: Number(new URL(url).port), child };
}

async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

describe('ClickHouse endpoint over chDB', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'masterdeal-ch-endpoint-'));
  let server: Server;
  let client: ClickHouseClient;

  beforeAll(async () => {
    server = await startServer(dataDir);
    client = clickhouseClient({
      clickhouseUrl: server.url,
      clickhouseUser: 'default',
      clickhousePassword: '',
      clickhouseDatabase: 'masterdeal',
    });
  });

  afterAll(async () => {
    await client?.close();
    if (server) await stopServer(server);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('round-trips JSONEachRow inserts and JSON selects with @clickhouse/client', async () => {
    await client.command({
      query: 'CREATE TABLE deals_rt (deal_id String, amount Decimal(18, 2), stage LowCardinality(String), '
        + 'updated_at DateTime64(3, \'UTC\'), tags Array(String), version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY deal_id',
    });
    const rows = Array.from({ length: 1000 }, (_, i) => ({
      deal_id: `d-${String(i).padStart(4, '0')}`,
      amount: (i * 10.25).toFixed(2),
      stage: ['lead', 'won', 'lost'][i % 3],
      updated_at: `2024-03-01 10:00:${String(i % 60).padStart(2, '0')}.250`,
      tags: i % 2 ? ['ctv'] : [],
      version: String(i),
    }));
    const inserted = await client.insert({ table: 'deals_rt', values: rows, format: 'JSONEachRow' });
    expect(inserted.summary?.written_rows).toBe('1000');

    const result = await client.query({ query: 'SELECT * FROM deals_rt ORDER BY deal_id', format: 'JSON' });
    const json = await result.json<(typeof rows)[number]>();
    expect(json.rows).toBe(1000);
    expect(json.meta?.map((m) => m.type)).toEqual(['String', 'Decimal(18, 2)', 'LowCardinality(String)', "DateTime64(3, 'UTC')", 'Array(String)', 'UInt64']);
    expect(json.data[7]).toEqual({ ...rows[7], amount: 71.75 });
    expect(result.response_headers['x-clickhouse-format']).toBe('JSON');
    expect(result.response_headers['x-clickhouse-timezone']).toBeTruthy();
  });

  it('binds query parameters and returns JSONCompactEachRow and TabSeparated', async () => {
    const compact = await client.query({
      query: 'SELECT deal_id, stage FROM deals_rt WHERE stage = {stage:String} AND deal_id IN {ids:Array(String)} ORDER BY deal_id',
      query_params: { stage: 'won', ids: ['d-0001', 'd-0004', 'd-0005'] },
      format: 'JSONCompactEachRow',
    });
    expect(await compact.json()).toEqual([['d-0001', 'won'], ['d-0004', 'won']]);
    const tsv = await client.query({ query: "SELECT 'tab\\there' AS s, 42 AS n", format: 'TabSeparated' });
    expect(await tsv.text()).toBe('tab\\there\t42\n');
  });

  it('passes RowBinary through untouched in both directions', async () => {
    await client.command({ query: 'CREATE TABLE rb (id UInt32, s String) ENGINE = MergeTree ORDER BY id' });
    // RowBinary: UInt32 little-endian, then a varint-length-prefixed string (bytes that are not valid UTF-8 included).
    const row = (id: number, s: Buffer) => Buffer.concat([Buffer.from(Uint32Array.of(id).buffer), Buffer.from([s.length]), s]);
    const body = Buffer.concat([row(1, Buffer.from([0xff, 0x00, 0x0a])), row(2, Buffer.from('ok'))]);
    await client.exec({ query: 'INSERT INTO rb FORMAT RowBinary', values: Readable.from([body]) }).then((r) => r.stream.resume());
    const out = await client.exec({ query: 'SELECT id, s FROM rb ORDER BY id FORMAT RowBinary' });
    const chunks: Buffer[] = [];
    for await (const chunk of out.stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(body)).toBe(true);
    const hex = await client.query({ query: 'SELECT hex(s) FROM rb ORDER BY id', format: 'JSONCompactEachRow' });
    expect(await hex.json()).toEqual([['FF000A'], ['6F6B']]);
  });

  it('accepts gzip request bodies and gzips responses when the client asks', async () => {
    const gz = createClient({ url: server.url, database: 'masterdeal', compression: { request: true, response: true } });
    try {
      await gz.insert({ table: 'rb', values: [{ id: 3, s: 'zipped' }], format: 'JSONEachRow' });
      const rows = await (await gz.query({ query: 'SELECT s FROM rb WHERE id = 3', format: 'JSONEachRow' })).json();
      expect(rows).toEqual([{ s: 'zipped' }]);
    } finally {
      await gz.close();
    }
    const response = await fetch(`${server.url}/?enable_http_compression=1`, {
      method: 'POST',
      headers: { 'Accept-Encoding': 'gzip', 'Content-Encoding': 'gzip' },
      body: gzipSync('SELECT number FROM numbers(3) FORMAT CSV'),
    });
    expect(response.status).toBe(200);
    // fetch decodes gzip itself; the header proves the server compressed.
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(await response.text()).toBe('0\n1\n2\n');
    expect(gunzipSync(gzipSync('x')).toString()).toBe('x');
  });

  it('keeps SET and temporary tables per session_id', async () => {
    const a = createClient({ url: server.url, session_id: 'session-a' });
    const b = createClient({ url: server.url, session_id: 'session-b' });
    const threads = async (c: ClickHouseClient) =>
      (await (await c.query({ query: "SELECT value FROM system.settings WHERE name = 'max_threads'", format: 'JSONEachRow' })).json<{ value: string }>())[0].value;
    try {
      await a.command({ query: 'SET max_threads = 1' });
      await b.command({ query: 'SET max_threads = 2' });
      expect(await threads(a)).toBe('1');
      expect(await threads(b)).toBe('2');
      expect(await threads(client)).not.toMatch(/^[12]$/);
      await a.command({ query: 'CREATE TEMPORARY TABLE scratch (x UInt8)' });
      await a.insert({ table: 'scratch', values: [{ x: 7 }], format: 'JSONEachRow' });
      expect(await (await a.query({ query: 'SELECT x FROM scratch', format: 'JSONEachRow' })).json()).toEqual([{ x: 7 }]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('regression: a second client session may create the temporary table a finished session left ("already exists")', async () => {
    // A second `dbt build` within the session timeout re-creates its unit tests' temporary tables.
    const first = createClient({ url: server.url, session_id: 'dbt-build-1' });
    const second = createClient({ url: server.url, session_id: 'dbt-build-2' });
    try {
      await first.command({ query: 'CREATE TEMPORARY TABLE fact_deal__dbt_tmp (x UInt8)' });
      await first.insert({ table: 'fact_deal__dbt_tmp', values: [{ x: 1 }], format: 'JSONEachRow' });
      await second.command({ query: 'CREATE TEMPORARY TABLE fact_deal__dbt_tmp (x UInt8)' });
      await second.insert({ table: 'fact_deal__dbt_tmp', values: [{ x: 2 }], format: 'JSONEachRow' });
      const read = async (c: ClickHouseClient) =>
        (await (await c.query({ query: 'SELECT x FROM fact_deal__dbt_tmp', format: 'JSONEachRow' })).json());
      expect(await read(second)).toEqual([{ x: 2 }]);
      expect(await read(first)).toEqual([{ x: 1 }]);
      expect(await read(second)).toEqual([{ x: 2 }]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('serves curl: /ping, ?query= over GET, and refuses writes over GET', async () => {
    const curl = async (...args: string[]) => (await run('curl', ['-sS', ...args])).stdout;
    expect(await curl(`${server.url}/ping`)).toBe('Ok.\n');
    expect(await curl(`${server.url}/?query=SELECT+1`)).toBe('1\n');
    expect(await curl('--data-binary', 'SELECT count() FROM masterdeal.deals_rt', `${server.url}/`)).toBe('1000\n');
    const refused = await curl('-w', '\n%{http_code}', `${server.url}/?query=DROP+TABLE+masterdeal.deals_rt`);
    expect(refused).toMatch(/^Code: 164\. DB::Exception: .*method GET implies readonly.*\(READONLY\)\n\n500$/);
    expect(await curl(`${server.url}/?query=SELECT+count()+FROM+masterdeal.deals_rt`)).toBe('1000\n');
  });

  it('answers malformed SQL with the ClickHouse code, message and status, then keeps serving', async () => {
    await expect(client.query({ query: 'SELEC 1' })).rejects.toMatchObject({ code: '62', type: 'SYNTAX_ERROR' });
    const response = await fetch(`${server.url}/`, { method: 'POST', body: 'SELECT * FROM masterdeal.no_such_table' });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-clickhouse-exception-code')).toBe('60');
    expect(await response.text()).toMatch(/^Code: 60\. DB::Exception: .*no_such_table.*\(UNKNOWN_TABLE\)\n$/);
    const again = await client.query({ query: 'SELECT 1 AS ok', format: 'JSONEachRow' });
    expect(await again.json()).toEqual([{ ok: 1 }]);
  });

  it('refuses an oversized body with 413 and a ClickHouse error, then keeps serving', async () => {
    const big = Buffer.alloc(MAX_BODY_BYTES + 1024, 'x');
    const response = await fetch(`${server.url}/?query=${encodeURIComponent('INSERT INTO masterdeal.rb FORMAT TSV')}`, { method: 'POST', body: big });
    expect(response.status).toBe(413);
    expect(response.headers.get('x-clickhouse-exception-code')).toBe('229');
    expect(await response.text()).toMatch(/Code: 229\. DB::Exception: Request body .* exceeds the endpoint limit of 1048576 bytes.*\(QUERY_IS_TOO_LARGE\)/);
    const rows = await (await client.query({ query: 'SELECT count() AS n FROM rb', format: 'JSONEachRow' })).json();
    expect(rows).toEqual([{ n: '3' }]);
  });

  it('rejects wrong credentials with AUTHENTICATION_FAILED', async () => {
    const response = await fetch(`${server.url}/?query=SELECT+1`, { headers: { 'X-ClickHouse-User': 'default', 'X-ClickHouse-Key': 'wrong' } });
    expect(response.status).toBe(403);
    expect(await response.text()).toMatch(/\(AUTHENTICATION_FAILED\)/);
  });

  it('swaps tables atomically and runs synchronous mutations in the project databases', async () => {
    const engines = await (await client.query({
      query: "SELECT name, engine FROM system.databases WHERE name IN ('masterdeal', 'endpoint_trivial') ORDER BY name",
      format: 'JSONEachRow',
    })).json();
    expect(engines).toEqual([{ name: 'endpoint_trivial', engine: 'Atomic' }, { name: 'masterdeal', engine: 'Atomic' }]);
    await client.command({ query: 'CREATE TABLE swap_a (x UInt8) ENGINE = MergeTree ORDER BY x AS SELECT 1' });
    await client.command({ query: 'CREATE TABLE swap_b (x UInt8) ENGINE = MergeTree ORDER BY x AS SELECT 2' });
    await client.command({ query: 'EXCHANGE TABLES swap_a AND swap_b' });
    await client.command({ query: 'ALTER TABLE deals_rt DELETE WHERE stage = {stage:String}', query_params: { stage: 'lost' } });
    const after = await (await client.query({ query: 'SELECT (SELECT x FROM swap_a) AS a, (SELECT count() FROM deals_rt) AS n', format: 'JSONEachRow' })).json();
    expect(after).toEqual([{ a: 2, n: '667' }]);
  });

  describe.skipIf(!existsSync(dbtPython()))('with the dbt virtualenv (installed by `masterdeal stack install`)', () => {
    it('round-trips rows with clickhouse-connect (Native inserts and selects, sessions), plain, default (lz4 in), gzip and lz4', async () => {
      const script = join(PROJECT_ROOT, 'test', 'integration', 'fixtures', 'clickhouse-connect', 'roundtrip.py');
      for (const compress of ['none', 'true', 'gzip', 'lz4']) {
        const { stdout } = await run(dbtPython(), [script, '127.0.0.1', String(server.port), 'masterdeal', compress]);
        const out = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
        expect(out.server_version).toMatch(/^\d+\.\d+/);
        expect(out.written_rows).toBe(2000);
        expect(out.aggregate).toEqual([2000, 1999000, 1000, 2]);
        expect(out.sample).toEqual([7, 'deal-7', '2024-01-01 00:00:07', 1.75, ['a'], null]);
        expect(out.session_max_threads).toBe('1');
      }
    });

    it('passes dbt debug, seed, run (table, view, incremental twice) and test', async () => {
      const project = join(PROJECT_ROOT, 'test', 'integration', 'fixtures', 'dbt-trivial');
      const env = { ...process.env, MASTERDEAL_CLICKHOUSE_URL: server.url, MASTERDEAL_DBT_SCHEMA: 'endpoint_trivial', DBT_SEND_ANONYMOUS_USAGE_STATS: 'false' };
      const dbt = (...args: string[]) =>
        run(dbtExecutable(), [...args, '--project-dir', project, '--profiles-dir', join(PROJECT_ROOT, 'dbt')], { env, maxBuffer: 16 * 1024 * 1024 });
      for (const command of [['debug'], ['seed'], ['run'], ['run'], ['test']]) {
        const { stdout } = await dbt(...command);
        expect(stdout, `dbt ${command.join(' ')}`).toMatch(command[0] === 'debug' ? /All checks passed/ : /Completed successfully/);
      }
      const marts = await (await client.query({
        query: 'SELECT (SELECT count() FROM endpoint_trivial.trivial_numbers) AS numbers, '
          + '(SELECT count() FROM endpoint_trivial.trivial_incremental) AS incremental, '
          + '(SELECT groupArraySorted(10)(deal_id) FROM endpoint_trivial.trivial_won_deals) AS won',
        format: 'JSONEachRow',
      })).json();
      expect(marts).toEqual([{ numbers: '10', incremental: '10', won: ['d1', 'd3'] }]);
    });
  });

  it('keeps data across a restart on the same data directory', async () => {
    await stopServer(server);
    server = await startServer(dataDir);
    const restarted = clickhouseClient({ clickhouseUrl: server.url, clickhouseUser: 'default', clickhousePassword: '', clickhouseDatabase: 'masterdeal' });
    try {
      const rows = await (await restarted.query({ query: 'SELECT count() AS n FROM deals_rt', format: 'JSONEachRow' })).json();
      expect(rows).toEqual([{ n: '667' }]);
    } finally {
      await restarted.close();
    }
  });
});
