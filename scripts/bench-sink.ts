/**
 * `npm run bench:sink`: CPU the ClickHouse sink spends per input event in its own code — decoding
 * the records (Avro through the registry framing), building the warehouse rows and the
 * TabSeparated insert bodies, batching, latency metrics — without Kafka or ClickHouse: the role
 * (ClickHouseSink, with the decoders of roles.ts) runs on an in-memory source and an insert port
 * that takes the TabSeparated body's chunks and drops them. kafkajs' fetch/parse and the HTTP insert
 * are not in these figures (bench:pipeline measures the whole role).
 *
 * Records are made up front, as the processor writes them: the generator's events (raw topics,
 * registry-framed envelopes) folded through a DealBook per partition into canonical events and
 * snapshot bursts (framed canonical records with the processor's headers), grouped into
 * per-partition batches as a fetch delivers them.
 *
 * Options: --events N (200000), --batch N records per delivered batch (500), --snapshot-every N
 * input events between a partition's snapshot bursts (300000, about bench:pipeline's catch-up),
 * --partitions N (6), --rounds N (3: each a fresh sink over the same records; the best and all are
 * printed), --profile FILE (a V8 CPU profile of the rounds only, without making the records),
 * --heap-profile FILE (sampled allocations of the rounds, a .heapprofile).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { encodeCanonicalOutputFramed, encodeEnvelopeFramed } from '../processors/codec/envelope-avro.ts';
import { CANONICAL_TYPES, ENVELOPE_TYPE, schemaCatalog, type CanonicalType } from '../processors/codec/schemas.ts';
import { domainOf } from '../processors/core/envelope.ts';
import { DealBook } from '../processors/core/deal-book.ts';
import { loadDefaultRules } from '../processors/core/rules/load.ts';
import { hash32 } from '../processors/generate/prng.ts';
import type { AssignmentListener, BatchContext, ConsumedRecord, EventSource, RecordBatch, TopicPartitionOffset } from '../processors/kafka/ports.ts';
import { CANONICAL_KINDS, topicLayout } from '../processors/kafka/topics.ts';
import { INPUT_TS_HEADER } from '../processors/pipeline/processor.ts';
import { ClickHouseSink } from '../processors/pipeline/sink.ts';
import { generatedEnvelopes } from '../processors/pipeline/traffic.ts';
import { canonicalValueDecoder, envelopeDecoder, type PipelineContext } from '../processors/pipeline/wiring.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const EVENTS = arg('events', 200_000);
const BATCH = arg('batch', 500);
const SNAPSHOT_EVERY = arg('snapshot-every', 300_000);
const PARTITIONS = arg('partitions', 6);
const ROUNDS = arg('rounds', 3);
const EVENTS_PER_DEAL = 15; // as bench:pipeline

const layout = topicLayout('bench', 'bench');
const catalog = schemaCatalog();
// Registry ids: 1 the envelope, 2.. the canonical records; the lookup answers like the registry's cache.
const ids = new Map<number, string>([[1, ENVELOPE_TYPE]]);
const canonicalIds = {} as Record<CanonicalType, number>;
(Object.keys(CANONICAL_TYPES) as CanonicalType[]).forEach((t, i) => {
  canonicalIds[t] = i + 2;
  ids.set(i + 2, CANONICAL_TYPES[t]);
});
const typeCache = new Map([...ids].map(([id, name]) => [id, Promise.resolve(catalog.type(name))]));
const ctx = { registry: { lookup: (id: number) => typeCache.get(id) } } as unknown as PipelineContext;

function buildBatches(): { batches: RecordBatch[]; counts: Record<string, number> } {
  const rules = loadDefaultRules();
  const books = Array.from({ length: PARTITIONS }, () => new DealBook(rules));
  const dirty = Array.from({ length: PARTITIONS }, () => new Map<string, number>());
  const since = new Array<number>(PARTITIONS).fill(0);
  const open = new Map<string, ConsumedRecord[]>();
  const batches: RecordBatch[] = [];
  const counts: Record<string, number> = {};
  const offsets = new Map<string, number>();
  const close = (key: string) => {
    const records = open.get(key);
    if (!records?.length) return;
    batches.push({ topic: records[0]!.topic, partition: records[0]!.partition, records, highWatermark: String(Number(records[records.length - 1]!.offset) + 1) });
    open.set(key, []);
  };
  const push = (topic: string, partition: number, value: Buffer, timestamp: number, headers: ConsumedRecord['headers'] = {}) => {
    const key = `${topic}:${partition}`;
    const offset = offsets.get(key) ?? 0;
    offsets.set(key, offset + 1);
    const list = open.get(key) ?? [];
    open.set(key, list);
    list.push({ topic, partition, offset: String(offset), timestamp, key: null, value, headers });
    counts[topic] = (counts[topic] ?? 0) + 1;
    if (list.length >= BATCH) close(key);
  };
  const snapshots = (p: number, now: number) => {
    for (const [id, inputTs] of dirty[p]!) {
      const snap = books[p]!.snapshot(id);
      if (!snap) continue;
      push(layout.canonical.snapshot, p, encodeCanonicalOutputFramed(snap, canonicalIds[snap.type]), now, {
        'masterdeal.version': Buffer.from(String(snap.version)),
        [INPUT_TS_HEADER]: Buffer.from(String(inputTs)),
      });
    }
    dirty[p]!.clear();
    since[p] = 0;
  };
  let events = 0;
  const t0 = Date.now();
  for (const env of generatedEnvelopes({ deals: Math.ceil(EVENTS / EVENTS_PER_DEAL) + 10, seed: 101, shuffleWindow: 64 })) {
    if (events >= EVENTS) break;
    events++;
    const now = t0 + Math.floor(events / 20);
    const p = hash32(env.master_deal_id) % PARTITIONS;
    push(layout.raw[domainOf(env.event_type)!], p, encodeEnvelopeFramed(env, 1), now);
    const step = books[p]!.apply(env);
    for (const o of step.outputs) {
      const kind = o.type.slice('masterdeal.'.length) as (typeof CANONICAL_KINDS)[number];
      push(layout.canonical[kind], p, encodeCanonicalOutputFramed(o, canonicalIds[o.type]), now + 2, { [INPUT_TS_HEADER]: Buffer.from(String(now)) });
    }
    for (const id of step.changed) if (!dirty[p]!.has(id)) dirty[p]!.set(id, now);
    if (++since[p]! >= SNAPSHOT_EVERY / PARTITIONS) snapshots(p, now);
  }
  for (let p = 0; p < PARTITIONS; p++) snapshots(p, t0 + Math.floor(events / 20));
  for (const key of open.keys()) close(key);
  return { batches, counts };
}

class MemorySource implements EventSource {
  commits = 0;
  handler?: (b: RecordBatch, c: BatchContext) => Promise<void>;
  async run(onBatch: (b: RecordBatch, c: BatchContext) => Promise<void>): Promise<void> {
    this.handler = onBatch;
  }
  onAssignment(_l: AssignmentListener): void {}
  async commitOffsets(_o: TopicPartitionOffset[]): Promise<void> {
    this.commits++;
  }
  async stop(): Promise<void> {}
}

async function round(batches: RecordBatch[]): Promise<{ cpuMs: number; wallMs: number; rows: Record<string, number>; bytes: number }> {
  const source = new MemorySource();
  let bytes = 0;
  const sink = new ClickHouseSink(
    {
      source,
      insert: async (_table, rows) => {
        for (const chunk of rows.body()) bytes += chunk.length;
      },
      decodeEnvelope: envelopeDecoder(ctx),
      decodeCanonical: canonicalValueDecoder(ctx),
    },
    { layout },
  );
  await sink.run();
  const handler = source.handler!;
  const bctx: BatchContext = { isActive: () => true, heartbeat: async () => {} };
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  for (const b of batches) await handler(b, bctx);
  await sink.stop();
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs: Date.now() - t0, rows: sink.stats.inserted, bytes };
}

const { batches, counts } = buildBatches();
const records = batches.reduce((a, b) => a + b.records.length, 0);
process.stdout.write(`bench:sink ${EVENTS} events -> ${records} records in ${batches.length} batches: ${JSON.stringify(counts)}\n`);
const profileAt = process.argv.indexOf('--profile');
const session = profileAt >= 0 ? new Session() : undefined;
const heapAt = process.argv.indexOf('--heap-profile');
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
const heapSession = heapAt >= 0 ? new Session() : undefined;
if (heapSession) {
  heapSession.connect();
  await heapSession.post('HeapProfiler.enable');
  await heapSession.post('HeapProfiler.startSampling', { samplingInterval: 16 * 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
}
const results = [];
for (let i = 0; i < ROUNDS; i++) {
  const r = await round(batches);
  results.push(r);
  process.stdout.write(
    `round ${i + 1}: cpu ${(r.cpuMs / 1000).toFixed(2)} s = ${((r.cpuMs * 1000) / EVENTS).toFixed(1)} µs/input event, ${((r.cpuMs * 1000) / records).toFixed(1)} µs/record; wall ${(r.wallMs / 1000).toFixed(2)} s; rows ${JSON.stringify(r.rows)}; ${(r.bytes / 1e6).toFixed(1)} MB TSV; load ${loadavg()[0]!.toFixed(2)}\n`,
  );
}
if (heapSession) {
  const { profile } = await heapSession.post('HeapProfiler.stopSampling');
  writeFileSync(process.argv[heapAt + 1]!, JSON.stringify(profile));
}
if (session) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(process.argv[profileAt + 1]!, JSON.stringify(profile));
}
const best = Math.min(...results.map((r) => r.cpuMs));
process.stdout.write(`${JSON.stringify({ events: EVENTS, records, bestCpuUsPerEvent: +((best * 1000) / EVENTS).toFixed(2), rounds: results.map((r) => +((r.cpuMs * 1000) / EVENTS).toFixed(2)), loadAverage1m: +loadavg()[0]!.toFixed(2) })}\n`);
process.exit(0);
