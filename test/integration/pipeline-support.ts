import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { isDeepStrictEqual, promisify } from 'node:util';
import { afterAll } from 'vitest';
import type { Kafka } from 'kafkajs';
import { clickhouseClient } from '../../processors/clickhouse/client.ts';
import { migrate } from '../../processors/clickhouse/migrate.ts';
import { envelopeToJson } from '../../processors/codec/envelope-json.ts';
import type { Envelope } from '../../processors/core/envelope.ts';
import type { GenerateOptions } from '../../processors/generate/generator.ts';
import { readPartitionsToEnd } from '../../processors/kafka/kafkajs.ts';
import { CANONICAL_KINDS } from '../../processors/kafka/topics.ts';
import { endTargets, waitForGroup } from '../../processors/pipeline/progress.ts';
import type { ConsumedRecord } from '../../processors/kafka/ports.ts';
import { generatedEnvelopes } from '../../processors/pipeline/traffic.ts';
import { PROJECT_ROOT } from '../../processors/shared/config.ts';
import type { CanonicalType } from '../../processors/codec/schemas.ts';
import { canonicalDecoder, type PipelineContext } from '../../processors/pipeline/wiring.ts';

/** Shared plumbing of the pipeline integration tests (real Kafka, registry, ClickHouse endpoint). */

/**
 * The file's cleanups (child processes, roles, endpoints), run after all its tests, last
 * registered first, each allowed to fail (a process may already be gone).
 */
export function cleanupAfterAll(): Array<() => Promise<unknown>> {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });
  return cleanups;
}
const run = promisify(execFile);

/**
 * Own topic prefix, database and ClickHouse endpoint per test, so tests never see each other's
 * data. Call `ownClickHouse` first when the test needs to stop the endpoint itself.
 */
export async function isolate(name: string, opts: { clickhouse?: boolean } = {}): Promise<{ prefix: string; database: string; workDir: string; clickhouse?: Awaited<ReturnType<typeof ownClickHouse>> }> {
  const id = randomUUID().slice(0, 8);
  const workDir = mkdtempSync(join(tmpdir(), `md-${name}-`));
  const clickhouse = opts.clickhouse === false ? undefined : await ownClickHouse(join(workDir, 'clickhouse'));
  const prefix = `it-${name}-${id}`;
  const database = `it_${name.replace(/\W/g, '_')}_${id}`;
  process.env.MASTERDEAL_TOPIC_PREFIX = prefix;
  process.env.MASTERDEAL_CLICKHOUSE_DATABASE = database;
  const client = clickhouseClient(undefined, { database: undefined });
  try {
    await migrate(client, { database });
  } finally {
    await client.close();
  }
  return { prefix, database, workDir, clickhouse };
}

export function generateToFile(options: GenerateOptions, path: string): Envelope[] {
  const events = [...generatedEnvelopes(options)];
  writeFileSync(path, events.map((e) => JSON.stringify(envelopeToJson(e))).join('\n') + '\n');
  return events;
}

/** `masterdeal fold` as a user runs it; returns its output objects. */
export async function fold(inPath: string, nowIso?: string): Promise<Record<string, any>[]> {
  const args = ['scripts/masterdeal.mjs', 'fold', '--in', inPath, ...(nowIso ? ['--now', nowIso] : [])];
  const { stdout } = await run('node', args, { cwd: PROJECT_ROOT, maxBuffer: 1 << 30 });
  return stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

export async function query<T = Record<string, any>>(sql: string): Promise<T[]> {
  const client = clickhouseClient();
  try {
    const rs = await client.query({ query: sql, format: 'JSONEachRow' });
    return (await rs.json()) as T[];
  } finally {
    await client.close();
  }
}

/** Latest snapshot per deal in the warehouse, parsed, without the `version` bookkeeping field. */
export async function warehouseSnapshots(database: string): Promise<Map<string, Record<string, unknown>>> {
  const rows = await query<{ master_deal_id: string; body: string }>(`SELECT master_deal_id, body FROM ${database}.deal_snapshots FINAL`);
  return new Map(rows.map((r) => [r.master_deal_id, withoutVersion(JSON.parse(r.body))]));
}

/**
 * The warehouse's snapshots once they equal `expected`, or as they are after `timeoutMs` (the
 * caller's assertion then shows the difference). The pipeline is eventually consistent: a deal's
 * last snapshot can come from an idle-watermark advance that only the partition's live owner
 * makes, some time after the input ended (a SIGKILLed owner's partitions move only when its
 * session expires), so "the topics stopped growing" alone does not mean "done".
 */
export async function convergedWarehouseSnapshots(
  database: string,
  expected: Map<string, Record<string, unknown>>,
  timeoutMs = 60_000,
): Promise<Map<string, Record<string, unknown>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const actual = await warehouseSnapshots(database);
    if (isDeepStrictEqual(actual, expected) || Date.now() > deadline) return actual;
    await sleep(1_000);
  }
}

export function foldSnapshots(lines: Record<string, any>[]): Map<string, Record<string, unknown>> {
  return new Map(lines.filter((l) => l.type === 'masterdeal.snapshot').map((l) => [l.master_deal_id, withoutVersion(l)]));
}

/** Versions count state changes, which depend on how often the watermark moved, not on the result. */
function withoutVersion(o: Record<string, unknown>): Record<string, unknown> {
  const { version: _v, ...rest } = o;
  return rest;
}

/** Every committed record of `topic` up to its current end. */
export async function readTopic(kafka: Kafka, topic: string): Promise<ConsumedRecord[]> {
  const out: ConsumedRecord[] = [];
  await readPartitionsToEnd(kafka, topic, undefined, (r) => void out.push(r), 60_000);
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 120_000, everyMs = 500): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Current length of a log file (0 before it exists): where a process started now begins writing. */
export function logLength(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

/** The JSON lines of a role's log (pino) from byte `from` on; other lines are skipped. */
export function logEntries(path: string, from = 0): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  const out: Record<string, unknown>[] = [];
  for (const line of readFileSync(path).subarray(from).toString('utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line still being written
    }
  }
  return out;
}

/**
 * Waits until a processor whose log starts at byte `from` has restored every one of `partitions`
 * (it owns them and is ready to work): after a SIGKILL that takes until the dead member's session expires.
 */
export async function untilRestored(logPath: string, from: number, partitions: number, timeoutMs = 120_000): Promise<void> {
  await until(`the processor to restore all ${partitions} partitions`, async () => {
    const restored = new Set(logEntries(logPath, from).filter((e) => e.msg === 'partition state restored from changelog').map((e) => e.partition));
    return restored.size >= partitions;
  }, timeoutMs);
}

/** A pipeline role as its own OS process (`masterdeal run ...`), so a test can SIGKILL it. */
export function spawnRole(args: string[], logPath: string, env: Record<string, string> = {}) {
  const out = openSync(logPath, 'a');
  const child = spawn('node', ['scripts/masterdeal.mjs', ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', out, out],
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exited };
}

/** Canonical records of one topic decoded to their JSON form (read_committed). */
export async function canonicalRecords(kafka: Kafka, topic: string, type: CanonicalType, ctx: PipelineContext) {
  const decode = canonicalDecoder(ctx);
  const out: Record<string, unknown>[] = [];
  for (const r of await readTopic(kafka, topic)) if (r.value) out.push(await decode(type, r.value));
  return out;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A ClickHouse endpoint of this test's own (`masterdeal clickhouse serve` on a free port and its
 * own data directory): other test runs may stop the shared one, and a test may stop this one.
 */
export async function ownClickHouse(dataDir: string, port?: number) {
  const p = port ?? (await freePort());
  const url = `http://127.0.0.1:${p}`;
  const role = spawnRole(['clickhouse', 'serve', '--port', String(p), '--data-dir', dataDir], `${dataDir}.log`);
  await until(`ClickHouse endpoint on ${url}`, async () => {
    try {
      return (await fetch(`${url}/ping`)).ok;
    } catch {
      return false;
    }
  }, 60_000, 250);
  process.env.MASTERDEAL_CLICKHOUSE_URL = url;
  return {
    url,
    port: p,
    async stop() {
      role.child.kill('SIGTERM');
      await role.exited;
    },
  };
}

/**
 * Waits until the canonical topics stop growing (idle watermarks have fired their breaches) and
 * the sink has loaded every raw and canonical record.
 */
export async function drainToWarehouse(ctx: PipelineContext, rawTopics: string[]): Promise<void> {
  const canonicalTopics = CANONICAL_KINDS.map((k) => ctx.layout.canonical[k]);
  let stable = '';
  await until('canonical topics to settle', async () => {
    const now = [...(await endTargets(ctx.kafka, canonicalTopics, true))].map(([k, v]) => `${k}=${v}`).join(',');
    const same = now === stable;
    stable = now;
    return same;
  }, 60_000, 4_000);
  await waitForGroup(
    ctx.kafka,
    `${ctx.layout.namespace}-sink`,
    new Map([...(await endTargets(ctx.kafka, rawTopics, false)), ...(await endTargets(ctx.kafka, canonicalTopics, true))]),
    { timeoutMs: 120_000 },
  );
}

/**
 * Per canonical event kind (snapshots are state, republished as a deal changes, so not here):
 * how many were published (read_committed) and which ids more than once.
 */
export async function canonicalIdCounts(ctx: PipelineContext): Promise<Record<string, { published: number; repeated: string[] }>> {
  const out: Record<string, { published: number; repeated: string[] }> = {};
  for (const kind of CANONICAL_KINDS) {
    if (kind === 'snapshot') continue;
    const ids = (await canonicalRecords(ctx.kafka, ctx.layout.canonical[kind], `masterdeal.${kind}`, ctx)).map((r) => r.event_id as string);
    out[kind] = { published: ids.length, repeated: [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))] };
  }
  return out;
}
