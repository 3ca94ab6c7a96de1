/**
 * `npm run bench:pipeline`: the live pipeline on the local stack (Kafka, registry; a ClickHouse
 * endpoint of its own), each role as its own process, like a deployment.
 *
 *   1. produce N generated events to the raw topics (simulate, as fast as possible);
 *   2. ceiling: a bare kafkajs consumer reads the same raw topics (no work);
 *   3. sustained throughput: processor (Kafka transactions) + ClickHouse sink catch up on the N events;
 *   4. latency: traffic at R events/s for S seconds through the caught-up pipeline; p50/p99 of
 *      raw-event produce -> ClickHouse ack of the rows derived from it (sink histogram);
 *   5. replay of everything in the raw topics (`masterdeal replay --from earliest`).
 *
 * Sizes: BENCH_EVENTS (1000000), BENCH_RATE (5000), BENCH_LATENCY_SECONDS (30), BENCH_PARTITIONS (6).
 * Role options: BENCH_PROCESSOR_ARGS, BENCH_SINK_ARGS (e.g. '--snapshot-interval 200', '--max-age 250').
 * BENCH_REPLAY=0 skips the replay phase. BENCH_KEEP=1 keeps the work dir (role logs); BENCH_ENDPOINT_LOG_LEVEL=debug logs the endpoint's per-request wait/run times there. BENCH_CPU_PROF=<dir>: each role process writes a V8 CPU profile there (node --cpu-prof).
 * CPU seconds of each role, the broker and the endpoint are printed too (wall-clock rates swing on a shared machine).
 * Figures are printed as they come and as one JSON line at the end. Nothing is asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { clickhouseClient } from '../processors/clickhouse/client.ts';
import { migrate } from '../processors/clickhouse/migrate.ts';
import type { Envelope } from '../processors/core/envelope.ts';
import { KafkaEventSink } from '../processors/kafka/kafkajs.ts';
import { CANONICAL_KINDS, DOMAINS } from '../processors/kafka/topics.ts';
import { endTargets, waitForGroup } from '../processors/pipeline/progress.ts';
import { simulate } from '../processors/pipeline/simulate.ts';
import { generatedEnvelopes } from '../processors/pipeline/traffic.ts';
import { createTopicsAndSchemas, pipelineContext } from '../processors/pipeline/wiring.ts';
import { PROJECT_ROOT, stateDir } from '../processors/shared/config.ts';

const N = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const RATE = Number(process.env.BENCH_RATE ?? 5_000);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 30);
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 6);
// Extra role options to compare settings, e.g. BENCH_PROCESSOR_ARGS='--snapshot-interval 200'.
const PROCESSOR_ARGS = (process.env.BENCH_PROCESSOR_ARGS ?? '').split(' ').filter(Boolean);
const SINK_ARGS = (process.env.BENCH_SINK_ARGS ?? '').split(' ').filter(Boolean);
const EVENTS_PER_DEAL = 15; // below the generator's average, so N events are always reached (the rest is cut)
const WAIT = { pollMs: 500, timeoutMs: 30 * 60_000 };

const id = randomUUID().slice(0, 6);
process.env.MASTERDEAL_TOPIC_PREFIX = `bench-${id}`;
process.env.MASTERDEAL_CLICKHOUSE_DATABASE = `bench_${id}`;
const work = mkdtempSync(join(tmpdir(), 'md-bench-'));
const children: ChildProcess[] = [];
const results: Record<string, unknown> = { events: N, partitions: PARTITIONS, cores: (await import('node:os')).cpus().length };
const say = (line: string) => process.stdout.write(`${line}\n`);
const secs = (ms: number) => (ms / 1000).toFixed(1);
// Node refuses --cpu-prof in NODE_OPTIONS, so it goes on each role's command line.
const NODE_ARGS = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];

function role(args: string[], name: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  const out = openSync(join(work, `${name}.log`), 'a');
  const child = spawn('node', [...NODE_ARGS, 'scripts/masterdeal.mjs', ...args], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
  children.push(child);
  return child;
}

/**
 * CPU seconds (user + system) a child has used so far, from /proc: unlike wall time it hardly
 * depends on what else the (shared, 2-core) machine is doing, so it compares runs. null off Linux.
 */
function cpuSeconds(child: ChildProcess | number | undefined): number | null {
  const pid = typeof child === 'number' ? child : child?.pid;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** The stack's Kafka broker (its pid file), whose CPU the transactions also cost. */
function kafkaPid(): number | undefined {
  try {
    return Number.parseInt(readFileSync(join(stateDir(), 'run', 'kafka.pid'), 'utf8').trim(), 10) || undefined;
  } catch {
    return undefined;
  }
}

const minus = (a: number | null, b: number | null) => (a === null || b === null ? null : +(a - b).toFixed(2));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function* firstN(n: number, seed: number, startDeal = 0): Generator<Envelope> {
  let i = 0;
  for (const e of generatedEnvelopes({ deals: Math.ceil(n / EVENTS_PER_DEAL) + 10, seed, shuffleWindow: 64 })) {
    if (i++ >= n) return;
    yield startDeal ? { ...e, master_deal_id: `${e.master_deal_id}-${startDeal}` } : e;
  }
}

/** Buckets of one series of a histogram (`labels`: its other labels, as printed, e.g. `path="raw"`). */
type Buckets = Map<number, number>;
async function scrapeHistogram(port: number, name: string, labels = ''): Promise<Buckets> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<number, number>();
  const rest = labels ? `,${labels.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}` : '';
  const re = new RegExp(`^${name}_bucket\\{le="([^"]+)"${rest}\\} (\\d+)`, 'gm');
  for (const m of text.matchAll(re)) out.set(m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2]));
  return out;
}

/** histogram_quantile over the delta of two scrapes of the sink's latency histogram. */
const scrapeBuckets = (port: number, path: string) => scrapeHistogram(port, 'masterdeal_event_to_clickhouse_seconds', `path="${path}"`);

/** Stages of the sink's per-row latency breakdown (metrics.sinkStageSeconds), by path. */
const STAGES = {
  raw: ['fetch', 'buffer', 'insert'],
  canonical: ['processor', 'delivery', 'buffer', 'insert'],
  snapshot: ['processor', 'delivery', 'buffer', 'insert'],
} as const;
async function scrapeStages(sinkPort: number, processorPort: number): Promise<Record<string, Buckets>> {
  const out: Record<string, Buckets> = {};
  for (const [path, stages] of Object.entries(STAGES)) {
    for (const stage of stages) out[`${path}.${stage}`] = await scrapeHistogram(sinkPort, 'masterdeal_sink_stage_seconds', `path="${path}",stage="${stage}"`);
  }
  out['processor.transaction'] = await scrapeHistogram(processorPort, 'masterdeal_transaction_seconds');
  for (const table of ['raw_events', 'canonical_events', 'deal_snapshots']) {
    out[`sink.insert.${table}`] = await scrapeHistogram(sinkPort, 'masterdeal_clickhouse_insert_seconds', `table="${table}"`);
  }
  return out;
}

function quantile(q: number, before: Map<number, number>, after: Map<number, number>): number | null {
  const les = [...after.keys()].sort((a, b) => a - b);
  const counts = les.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (let i = 0; i < les.length; i++) {
    if (counts[i]! >= rank) {
      const le = les[i]!;
      if (!Number.isFinite(le)) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, counts[i]! - prevCount);
    }
    prevLe = les[i]!;
    prevCount = counts[i]!;
  }
  return null;
}

async function main(): Promise<void> {
  // Own ClickHouse endpoint, so other work on the machine is not disturbed (and vice versa).
  const chPort = await freePort();
  role(['clickhouse', 'serve', '--port', String(chPort), '--data-dir', join(work, 'clickhouse')], 'clickhouse', {
    // BENCH_ENDPOINT_LOG_LEVEL=debug: the endpoint logs each request's queue wait and run time (in the kept work dir).
    ...(process.env.BENCH_ENDPOINT_LOG_LEVEL ? { MASTERDEAL_LOG_LEVEL: process.env.BENCH_ENDPOINT_LOG_LEVEL } : {}),
  });
  process.env.MASTERDEAL_CLICKHOUSE_URL = `http://127.0.0.1:${chPort}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${chPort}/ping`)).ok) break;
    } catch {
      if (i > 120) throw new Error('ClickHouse endpoint did not start');
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const ch = clickhouseClient(undefined, { database: undefined });
  await migrate(ch, { database: process.env.MASTERDEAL_CLICKHOUSE_DATABASE! });
  await ch.close();

  const ctx = pipelineContext();
  const { schemas } = await createTopicsAndSchemas(ctx, PARTITIONS);
  const rawTopics = DOMAINS.map((d) => ctx.layout.raw[d]);
  const canonicalTopics = CANONICAL_KINDS.map((k) => ctx.layout.canonical[k]);

  // 1. produce
  say(`bench: ${N} events, ${PARTITIONS} partitions, prefix ${process.env.MASTERDEAL_TOPIC_PREFIX}, work dir ${work}`);
  let t = Date.now();
  const producer = new KafkaEventSink(ctx.kafka);
  const produced = await simulate(firstN(N, 101), producer, { layout: ctx.layout, schemaIds: schemas.envelope, rate: 0, random: Math.random });
  results.produce = { events: produced.sent, seconds: (Date.now() - t) / 1000, eventsPerSecond: Math.round(produced.sent / ((Date.now() - t) / 1000)) };
  say(`produce: ${produced.sent} events in ${secs(Date.now() - t)} s (${(results.produce as any).eventsPerSecond} ev/s, incl. generation + Avro)`);

  // 2. ceiling: bare kafkajs consume of the same topics
  const consumer = ctx.kafka.consumer({ groupId: `bench-ceiling-${id}`, maxBytesPerPartition: 4 * 1024 * 1024, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topics: rawTopics, fromBeginning: true });
  let seen = 0;
  let first = 0;
  consumer.on(consumer.events.GROUP_JOIN, () => (first = Date.now()));
  await new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length;
        if (seen >= produced.sent) resolve();
      },
    });
  });
  const ceilingSec = (Date.now() - first) / 1000;
  await consumer.disconnect();
  const ceiling = Math.round(seen / ceilingSec);
  results.ceiling = { events: seen, seconds: ceilingSec, eventsPerSecond: ceiling };
  say(`ceiling: bare kafkajs consume ${seen} records in ${ceilingSec.toFixed(1)} s = ${ceiling} ev/s (from group join)`);

  // 3. sustained throughput: processor + sink as processes
  const sinkMetrics = await freePort();
  const processorMetrics = await freePort();
  const clickhouseRole = children[0]!;
  const cpuBefore = { kafka: cpuSeconds(kafkaPid()), clickhouse: cpuSeconds(clickhouseRole) };
  t = Date.now();
  const processorRole = role(['run', 'processor', '--partitions', String(PARTITIONS), '--idle-after', '0', '--metrics-port', String(processorMetrics), ...PROCESSOR_ARGS], 'processor');
  const sinkRole = role(['run', 'sink', '--partitions', String(PARTITIONS), '--metrics-port', String(sinkMetrics), ...SINK_ARGS], 'sink');
  await waitForGroup(ctx.kafka, `${ctx.layout.namespace}-processor`, await endTargets(ctx.kafka, rawTopics, false), WAIT);
  const processorSec = (Date.now() - t) / 1000;
  say(`processor: ${produced.sent} events through transactions in ${processorSec.toFixed(1)} s = ${Math.round(produced.sent / processorSec)} ev/s (incl. start-up)`);
  const sinkTargets = new Map([...(await endTargets(ctx.kafka, rawTopics, false)), ...(await endTargets(ctx.kafka, canonicalTopics, true))]);
  await waitForGroup(ctx.kafka, `${ctx.layout.namespace}-sink`, sinkTargets, WAIT);
  const endToEndSec = (Date.now() - t) / 1000;
  const sustained = Math.round(produced.sent / endToEndSec);
  const canonicalCount = Number([...(await endTargets(ctx.kafka, canonicalTopics, true))].reduce((a, [, v]) => a + v, 0n));
  results.throughput = {
    processorSeconds: processorSec,
    processorEventsPerSecond: Math.round(produced.sent / processorSec),
    endToEndSeconds: endToEndSec,
    endToEndEventsPerSecond: sustained,
    canonicalRecordsApprox: canonicalCount,
    ratioToCeiling: +(sustained / ceiling).toFixed(3),
    processorCpuSeconds: cpuSeconds(processorRole),
    sinkCpuSeconds: cpuSeconds(sinkRole),
    kafkaCpuSeconds: minus(cpuSeconds(kafkaPid()), cpuBefore.kafka),
    clickhouseCpuSeconds: minus(cpuSeconds(clickhouseRole), cpuBefore.clickhouse),
    loadAverage1m: +loadavg()[0]!.toFixed(2),
  };
  say(`end to end: raw -> processor -> canonical (~${canonicalCount} records) -> ClickHouse in ${endToEndSec.toFixed(1)} s = ${sustained} ev/s; ${(sustained / ceiling * 100).toFixed(1)} % of the bare consume rate`);
  const t2 = results.throughput as Record<string, number | null>;
  const perEvent = (s: number | null) => (s === null ? 'n/a' : `${Math.round((s * 1e6) / produced.sent)} µs/event`);
  say(
    `cpu: processor ${t2.processorCpuSeconds} s (${perEvent(t2.processorCpuSeconds)}), sink ${t2.sinkCpuSeconds} s (${perEvent(t2.sinkCpuSeconds)}) incl. start-up; ` +
      `Kafka broker ${t2.kafkaCpuSeconds} s (${perEvent(t2.kafkaCpuSeconds)}), ClickHouse endpoint ${t2.clickhouseCpuSeconds} s (${perEvent(t2.clickhouseCpuSeconds)}); load average ${t2.loadAverage1m} on ${results.cores} cores`,
  );

  // 4. latency at RATE
  const before = { raw: await scrapeBuckets(sinkMetrics, 'raw'), canonical: await scrapeBuckets(sinkMetrics, 'canonical') };
  const stagesBefore = await scrapeStages(sinkMetrics, processorMetrics);
  const latencyEvents = RATE * LATENCY_SECONDS;
  t = Date.now();
  const sent = await simulate(firstN(latencyEvents, 202, 2), producer, { layout: ctx.layout, schemaIds: schemas.envelope, rate: RATE, random: Math.random });
  const achieved = Math.round(sent.sent / ((Date.now() - t) / 1000));
  await waitForGroup(ctx.kafka, `${ctx.layout.namespace}-processor`, await endTargets(ctx.kafka, rawTopics, false), { ...WAIT, pollMs: 250 });
  await waitForGroup(ctx.kafka, `${ctx.layout.namespace}-sink`, new Map([...(await endTargets(ctx.kafka, rawTopics, false)), ...(await endTargets(ctx.kafka, canonicalTopics, true))]), { ...WAIT, pollMs: 250 });
  await new Promise((r) => setTimeout(r, 1_500));
  const after = { raw: await scrapeBuckets(sinkMetrics, 'raw'), canonical: await scrapeBuckets(sinkMetrics, 'canonical') };
  const stagesAfter = await scrapeStages(sinkMetrics, processorMetrics);
  const lat = (path: 'raw' | 'canonical') => ({
    p50: quantile(0.5, before[path], after[path]),
    p99: quantile(0.99, before[path], after[path]),
    samples: (after[path].get(Infinity) ?? 0) - (before[path].get(Infinity) ?? 0),
  });
  results.latency = { targetRate: RATE, achievedRate: achieved, seconds: LATENCY_SECONDS, raw: lat('raw'), canonical: lat('canonical') };
  const fmt = (v: number | null) => (v === null ? 'n/a' : `${v.toFixed(2)} s`);
  say(`latency at ${achieved} ev/s for ${LATENCY_SECONDS} s (histogram estimate):`);
  say(`  raw event -> its raw_events row acked:          p50 ${fmt(lat('raw').p50)}  p99 ${fmt(lat('raw').p99)}`);
  say(`  raw event -> derived canonical/snapshot rows acked: p50 ${fmt(lat('canonical').p50)}  p99 ${fmt(lat('canonical').p99)}`);
  // Where it goes: per-row stages (sink) and per-operation timings (processor transactions, inserts).
  const stages: Record<string, { p50: number | null; p99: number | null; samples: number }> = {};
  for (const key of Object.keys(stagesAfter)) {
    const b = stagesBefore[key] ?? new Map();
    const a = stagesAfter[key]!;
    stages[key] = { p50: quantile(0.5, b, a), p99: quantile(0.99, b, a), samples: (a.get(Infinity) ?? 0) - (b.get(Infinity) ?? 0) };
    say(`  stage ${key.padEnd(28)} p50 ${fmt(stages[key]!.p50)}  p99 ${fmt(stages[key]!.p99)}  (${stages[key]!.samples} samples)`);
  }
  (results.latency as Record<string, unknown>).stages = stages;
  await producer.close();
  for (const c of children.slice(1)) c.kill('SIGTERM');

  // 5. replay of everything in the raw topics (BENCH_REPLAY=0 skips it, for quicker comparisons)
  if (process.env.BENCH_REPLAY === '0') {
    say(JSON.stringify(results));
    return;
  }
  const total = produced.sent + sent.sent;
  t = Date.now();
  const replay = spawn('node', [...NODE_ARGS, 'scripts/masterdeal.mjs', 'replay', '--from', 'earliest', '--no-progress'], { cwd: PROJECT_ROOT, env: process.env, stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  replay.stdout.on('data', (d) => (out += d));
  await new Promise((r) => replay.on('exit', r));
  const replaySec = (Date.now() - t) / 1000;
  const r = JSON.parse(out.trim().split('\n').pop() ?? '{}');
  results.replay = { events: r.events ?? total, wallSeconds: replaySec, processSeconds: r.processSeconds, eventsPerSecond: Math.round((r.events ?? total) / replaySec) };
  say(`replay: ${r.events ?? total} events in ${replaySec.toFixed(1)} s wall (processing ${r.processSeconds} s) = ${(results.replay as any).eventsPerSecond} ev/s`);
  say(JSON.stringify(results));
}

let code = 0;
try {
  await main();
} catch (err) {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\nlogs in ${work}\n`);
  code = 1;
} finally {
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1_000));
  if (!process.env.BENCH_KEEP && code === 0) rmSync(work, { recursive: true, force: true });
  process.exit(code);
}
