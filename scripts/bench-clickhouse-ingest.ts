/**
 * `npm run bench:clickhouse-ingest`: CPU the ClickHouse endpoint spends per ingested row and per
 * input event, on the warehouse's real tables (created by the project's migrations) and rows shaped
 * like the live sink's, in its batch pattern. Prints figures; asserts nothing.
 *
 * Before anything is measured, the project's generator is folded through a DealBook (as the
 * processor does) into raw_events / canonical_events / deal_snapshots rows, batched by the sink's
 * RowBatcher (one insert per table per flush, each with its insert_deduplication_token) and encoded
 * as the sink's TabSeparated bodies. Then an endpoint process (`masterdeal clickhouse serve`, as in
 * the stack and bench:pipeline) gets the flushes one after another, the tables of a flush side by
 * side, as the sink sends them. Its CPU (user + system, /proc, every thread: background merges
 * included) is read when the last insert is acknowledged and again once merges have settled.
 *
 * Options: --events N (1000000), --flush-events N input events per flush (3000), --snapshot-every N
 * input events between a partition's snapshot bursts (tuned to ~65k snapshots per 1M events, as
 * bench:pipeline's catch-up), --partitions N (6), --seed S, --settle-seconds S (max wait for merges, 120),
 * --alter 'SQL' (repeatable: run after the migrations, to try a table setting; `{db}` = the database),
 * --setting name=value (repeatable: extra insert settings), --threads (CPU per thread name).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { clickhouseClient } from '../processors/clickhouse/client.ts';
import { migrate } from '../processors/clickhouse/migrate.ts';
import { toTabSeparated } from '../processors/clickhouse/tsv.ts';
import type { CanonicalJson } from '../processors/codec/envelope-avro.ts';
import { toJson } from '../processors/core/canonical.ts';
import { DealBook } from '../processors/core/deal-book.ts';
import { loadDefaultRules } from '../processors/core/rules/load.ts';
import { hash32 } from '../processors/generate/prng.ts';
import type { ConsumedRecord } from '../processors/kafka/ports.ts';
import { RowBatcher, type OffsetRange } from '../processors/pipeline/batcher.ts';
import { generatedEnvelopes } from '../processors/pipeline/traffic.ts';
import { canonicalEventRow, rawEventRow, snapshotRow, TABLES } from '../processors/pipeline/warehouse-rows.ts';
import { PROJECT_ROOT } from '../processors/shared/config.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
function args(name: string): string[] {
  return process.argv.flatMap((a, i) => (a === `--${name}` && process.argv[i + 1] !== undefined ? [process.argv[i + 1]!] : []));
}

const EVENTS = arg('events', 1_000_000);
const FLUSH_EVENTS = arg('flush-events', 3_000);
const SNAPSHOT_EVERY = arg('snapshot-every', 300_000);
const PARTITIONS = arg('partitions', 6);
const SEED = arg('seed', 101);
const SETTLE_SECONDS = arg('settle-seconds', 120);
const ALTERS = args('alter');
const SETTINGS = Object.fromEntries(args('setting').map((s) => s.split('=', 2) as [string, string]));
const THREADS = process.argv.includes('--threads');
const EVENTS_PER_DEAL = 15; // as bench:pipeline

interface Insert { table: string; columns: string[]; body: Buffer; token: string; rows: number }
type Row = Record<string, unknown>;

/** The pipeline's rows in the sink's flushes, encoded up front so encoding is not measured. */
function buildFlushes(): { flushes: Insert[][]; rows: Record<string, number>; events: number; bytes: number } {
  const rules = loadDefaultRules();
  const books = Array.from({ length: PARTITIONS }, () => new DealBook(rules));
  const dirty = Array.from({ length: PARTITIONS }, () => new Set<string>());
  const sinceSnapshot = new Array<number>(PARTITIONS).fill(0);
  const offsets = new Map<string, bigint>();
  const batcher = new RowBatcher<Row>();
  const flushes: Insert[][] = [];
  const rows: Record<string, number> = {};
  let events = 0;
  let bytes = 0;
  const record = (topic: string, partition: number, headers: ConsumedRecord['headers'] = {}): { r: ConsumedRecord; range: OffsetRange } => {
    const key = `${topic}:${partition}`;
    const offset = offsets.get(key) ?? 0n;
    offsets.set(key, offset + 1n);
    return {
      r: { topic, partition, offset: String(offset), timestamp: Date.now(), key: null, value: null, headers },
      range: { topic, partition, first: offset, last: offset },
    };
  };
  const take = () => {
    if (batcher.isEmpty) return;
    const flush = batcher.take();
    flushes.push(flush.batches.map((b) => {
      const { columns, body } = toTabSeparated(b.rows);
      rows[b.table] = (rows[b.table] ?? 0) + b.rows.length;
      bytes += body.length;
      return { table: b.table, columns, body, token: b.token, rows: b.rows.length };
    }));
  };
  const snapshots = (p: number) => {
    for (const id of dirty[p]!) {
      const snap = books[p]!.snapshot(id);
      if (!snap) continue;
      const { r, range } = record('masterdeal.canonical.snapshot', p, { 'masterdeal.version': Buffer.from(String(snap.version)) });
      batcher.add(range, { [TABLES.snapshots]: [snapshotRow(toJson(snap) as unknown as CanonicalJson, r)] }, 0);
    }
    dirty[p]!.clear();
    sinceSnapshot[p] = 0;
  };
  for (const env of generatedEnvelopes({ deals: Math.ceil(EVENTS / EVENTS_PER_DEAL) + 10, seed: SEED, shuffleWindow: 64 })) {
    if (events >= EVENTS) break;
    events++;
    const p = hash32(env.master_deal_id) % PARTITIONS;
    const raw = record(`masterdeal.raw.${env.event_type.split('.')[0]}`, p);
    batcher.add(raw.range, { [TABLES.raw]: [rawEventRow(env, raw.r)] }, 0);
    const step = books[p]!.apply(env);
    for (const o of step.outputs) {
      const c = record(`masterdeal.canonical.${o.type.slice('masterdeal.'.length)}`, p);
      batcher.add(c.range, { [TABLES.canonical]: [canonicalEventRow(toJson(o) as unknown as CanonicalJson, c.r)] }, 0);
    }
    for (const id of step.changed) dirty[p]!.add(id);
    if (++sinceSnapshot[p]! >= SNAPSHOT_EVERY / PARTITIONS) snapshots(p);
    if (events % FLUSH_EVENTS === 0) take();
  }
  for (let p = 0; p < PARTITIONS; p++) snapshots(p); // caught up at the end: the rest goes out
  take();
  return { flushes, rows, events, bytes };
}

/** user + system CPU seconds of a process, or of each of its threads by name. */
function cpuOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
function cpuByThread(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')).replace(/\d+$/, '');
      const name = tid === String(pid) ? 'main(js)' : comm === 'node' ? 'node-worker' : comm;
      const f = text.slice(text.lastIndexOf(') ') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const say = (s: string) => console.log(s);
const us = (seconds: number, n: number) => ((seconds * 1e6) / n).toFixed(1);

/** Built flushes are kept in the temp dir per option set, so comparing settings does not regenerate them. */
function cachedFlushes(): ReturnType<typeof buildFlushes> {
  const dir = join(tmpdir(), `md-ch-ingest-cache-${EVENTS}-${FLUSH_EVENTS}-${SNAPSHOT_EVERY}-${PARTITIONS}-${SEED}`);
  if (existsSync(join(dir, 'index.json'))) {
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { flushes: Omit<Insert, 'body'>[][]; rows: Record<string, number>; events: number; bytes: number };
    const data = readFileSync(join(dir, 'bodies'));
    let at = 0;
    const flushes = index.flushes.map((f) => f.map((b) => {
      const length = (b as Omit<Insert, 'body'> & { length: number }).length;
      const body = data.subarray(at, at + length);
      at += length;
      return { ...b, body };
    }));
    return { ...index, flushes };
  }
  const built = buildFlushes();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'bodies'), Buffer.concat(built.flushes.flat().map((b) => b.body)));
  const flushes = built.flushes.map((f) => f.map(({ body, ...b }) => ({ ...b, length: body.length })));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ ...built, flushes }));
  return built;
}

let t = Date.now();
const built = cachedFlushes();
const totalRows = Object.values(built.rows).reduce((a, b) => a + b, 0);
say(`bench: ${built.events} events -> ${totalRows} rows (${Object.entries(built.rows).map(([k, v]) => `${k} ${v}`).join(', ')}), ` +
  `${built.flushes.length} flushes of ${FLUSH_EVENTS} events, ${(built.bytes / 1048576).toFixed(0)} MiB TSV; built in ${((Date.now() - t) / 1000).toFixed(1)} s`);

const work = mkdtempSync(join(tmpdir(), 'md-ch-ingest-'));
const port = await freePort();
const endpoint: ChildProcess = spawn('node', ['scripts/masterdeal.mjs', 'clickhouse', 'serve', '--port', String(port), '--data-dir', join(work, 'clickhouse'), '--database', 'masterdeal'], {
  cwd: PROJECT_ROOT, stdio: ['ignore', 'ignore', 'inherit'],
});
const pid = endpoint.pid!;
const database = 'bench_ingest';
const client = clickhouseClient({ clickhouseUrl: `http://127.0.0.1:${port}`, clickhouseUser: 'default', clickhousePassword: '', clickhouseDatabase: 'default' });
const q = async <T>(query: string): Promise<T[]> => (await (await client.query({ query, format: 'JSONEachRow' })).json()) as T[];
const events = async (): Promise<Map<string, number>> =>
  new Map((await q<{ event: string; value: string }>('SELECT event, value FROM system.events')).map((r) => [r.event, Number(r.value)]));

try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/ping`)).ok) break;
    } catch {
      if (i > 120) throw new Error('ClickHouse endpoint did not start');
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await migrate(client, { database });
  for (const sql of ALTERS) {
    await client.command({ query: sql.replaceAll('{db}', database) });
    say(`alter: ${sql}`);
  }
  if (Object.keys(SETTINGS).length) say(`insert settings: ${JSON.stringify(SETTINGS)}`);

  // Idle cost of the engine's background threads, to tell it apart from ingest work.
  await new Promise((r) => setTimeout(r, 1000));
  const idle0 = cpuOf(pid);
  await new Promise((r) => setTimeout(r, 3000));
  const idlePerSecond = (cpuOf(pid) - idle0) / 3;

  const ev0 = await events();
  const threads0 = cpuByThread(pid);
  const cpu0 = cpuOf(pid);
  t = Date.now();
  for (const flush of built.flushes) {
    await Promise.all(flush.map((b) => client.insert({
      table: `${database}.${b.table}`,
      values: Readable.from([b.body], { objectMode: false }),
      format: 'TabSeparated',
      columns: b.columns as [string, ...string[]],
      clickhouse_settings: { insert_deduplication_token: b.token, ...SETTINGS },
    })));
  }
  const insertSec = (Date.now() - t) / 1000;
  const cpuAcked = cpuOf(pid) - cpu0;
  const loadAcked = loadavg()[0]!;

  // Merges go on after the last insert; their CPU is part of the ingest cost.
  let quiet = 0;
  let settleSec = 0;
  const settleStart = Date.now();
  while (settleSec < SETTLE_SECONDS) {
    await new Promise((r) => setTimeout(r, 1000));
    settleSec = (Date.now() - settleStart) / 1000;
    const [{ n }] = await q<{ n: string }>(`SELECT count() AS n FROM system.merges WHERE database = '${database}'`);
    quiet = Number(n) === 0 ? quiet + 1 : 0;
    if (quiet >= 3) break;
  }
  const cpuSettled = cpuOf(pid) - cpu0 - idlePerSecond * Math.max(0, settleSec - 3); // the quiet seconds are idle cost
  const ev1 = await events();
  const threads1 = cpuByThread(pid);
  const d = (name: string) => (ev1.get(name) ?? 0) - (ev0.get(name) ?? 0);

  const parts = await q<{ table: string; parts: string; partitions: string; rows: string; compressed: string; uncompressed: string; disk: string }>(
    `SELECT table, count() AS parts, uniqExact(partition) AS partitions, sum(rows) AS rows, sum(data_compressed_bytes) AS compressed,
            sum(data_uncompressed_bytes) AS uncompressed, sum(bytes_on_disk) AS disk
     FROM system.parts WHERE database = '${database}' AND active GROUP BY table ORDER BY table`);
  const columns = await q<{ table: string; name: string; compressed: string; uncompressed: string }>(
    `SELECT table, name, data_compressed_bytes AS compressed, data_uncompressed_bytes AS uncompressed
     FROM system.columns WHERE database = '${database}' AND name IN ('payload', 'body') ORDER BY table`);

  say(`inserts: ${built.flushes.length} flushes in ${insertSec.toFixed(1)} s (${Math.round(built.events / insertSec)} ev/s wall), load average ${loadAcked.toFixed(2)}`);
  say(`endpoint idle: ${(idlePerSecond * 1000).toFixed(1)} CPU-ms/s (background threads; subtracted only from the quiet settle seconds)`);
  say(`endpoint CPU at last ack: ${cpuAcked.toFixed(2)} s = ${us(cpuAcked, totalRows)} µs/row, ${us(cpuAcked, built.events)} µs/input event`);
  say(`endpoint CPU merges settled (+${settleSec.toFixed(0)} s): ${cpuSettled.toFixed(2)} s = ${us(cpuSettled, totalRows)} µs/row, ${us(cpuSettled, built.events)} µs/input event`);
  say(`  parts written by inserts ${d('MergeTreeDataWriterBlocks')} (rows ${d('MergeTreeDataWriterRows')}), dedup'd blocks ${d('DuplicatedInsertedBlocks')}; ` +
    `merges ${d('Merge')}, merged rows ${d('MergedRows')} (${(d('MergedRows') / Math.max(1, totalRows)).toFixed(2)} x inserted), ` +
    `merged uncompressed ${(d('MergedUncompressedBytes') / 1048576).toFixed(0)} MiB, merge time ${(d('MergesTimeMilliseconds') / 1000).toFixed(1)} s`);
  say(`  written compressed by inserts ${(d('MergeTreeDataWriterCompressedBytes') / 1048576).toFixed(0)} MiB, ` +
    `uncompressed ${(d('MergeTreeDataWriterUncompressedBytes') / 1048576).toFixed(0)} MiB; in-process total user ${(d('UserTimeMicroseconds') / 1e6).toFixed(1)} s, system ${(d('SystemTimeMicroseconds') / 1e6).toFixed(1)} s (queries only)`);
  for (const p of parts) {
    say(`  ${p.table}: ${p.rows} rows in ${p.parts} active parts over ${p.partitions} partitions, ` +
      `${(Number(p.compressed) / 1048576).toFixed(1)} MiB compressed / ${(Number(p.uncompressed) / 1048576).toFixed(1)} MiB (x${(Number(p.uncompressed) / Number(p.compressed)).toFixed(2)}), ${(Number(p.disk) / 1048576).toFixed(1)} MiB on disk`);
  }
  for (const c of columns) {
    say(`  ${c.table}.${c.name}: ${(Number(c.compressed) / 1048576).toFixed(1)} MiB compressed of ${(Number(c.uncompressed) / 1048576).toFixed(1)} MiB (x${(Number(c.uncompressed) / Number(c.compressed)).toFixed(2)})`);
  }
  if (THREADS) {
    const byThread = [...threads1].map(([name, s]) => [name, s - (threads0.get(name) ?? 0)] as const).filter(([, s]) => s >= 0.05).sort((a, b) => b[1] - a[1]);
    say(`  CPU by thread: ${byThread.map(([n, s]) => `${n} ${s.toFixed(2)} s`).join(', ')}`);
  }
} finally {
  await client.close();
  endpoint.kill('SIGTERM');
  await new Promise((r) => endpoint.once('exit', r));
  rmSync(work, { recursive: true, force: true });
}
