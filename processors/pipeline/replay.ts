import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { clickhouseClient } from '../clickhouse/client.ts';
import { migrate } from '../clickhouse/migrate.ts';
import { endOffsets, offsetsForTime } from '../kafka/kafkajs.ts';
import { endTargets, waitForGroup } from './progress.ts';
import { CANONICAL_KINDS, DOMAINS, topicPrefix } from '../kafka/topics.ts';
import { log as rootLog } from '../shared/log.ts';
import { startProcessor, startSink } from './roles.ts';
import { TABLES } from './warehouse-rows.ts';
import { pipelineContext } from './wiring.ts';

/**
 * Replay: the raw topics from a position, through a fresh processor (fresh consumer group,
 * fresh state, its own canonical/changelog namespace `masterdeal.replay-<id>`, event time only),
 * and with `rebuild` through a fresh sink into the (emptied) warehouse.
 */
/** How often a replay publishes coalesced snapshots of changed deals (live: 500 ms). */
export const REPLAY_SNAPSHOT_INTERVAL_MS = 10_000;

export type Position = { kind: 'earliest' } | { kind: 'latest' } | { kind: 'offset'; offset: bigint } | { kind: 'time'; ms: number };

export function parsePosition(text: string): Position {
  if (text === 'earliest') return { kind: 'earliest' };
  if (text === 'latest' || text === 'end') return { kind: 'latest' };
  if (/^\d+$/.test(text)) return { kind: 'offset', offset: BigInt(text) };
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new Error(`not a position: "${text}" (earliest, latest, an offset, or an ISO timestamp)`);
  return { kind: 'time', ms };
}

export interface ReplayOptions {
  from: Position;
  to?: Position;
  /** Replay id (namespace suffix); default a new one. */
  id?: string;
  /** Like the live processor's clock: the final watermark is at least now - allowed lateness. */
  nowMs?: number;
  lateness?: string;
  rulesFile?: string;
  rebuild?: boolean;
  onProgress?: (done: number, total: number, stage: 'process' | 'rebuild') => void;
  pollMs?: number;
}

export interface ReplayResult {
  id: string;
  namespace: string;
  events: number;
  processSeconds: number;
  rebuildSeconds?: number;
  deals: number;
}

async function resolve(kafka: Kafka, topic: string, pos: Position, ends: Map<number, bigint>, lows: Map<number, bigint>): Promise<Map<number, bigint>> {
  const clamp = (p: number, v: bigint) => (v < lows.get(p)! ? lows.get(p)! : v > ends.get(p)! ? ends.get(p)! : v);
  switch (pos.kind) {
    case 'earliest':
      return new Map(lows);
    case 'latest':
      return new Map(ends);
    case 'offset':
      return new Map([...ends.keys()].map((p) => [p, clamp(p, pos.offset)]));
    case 'time':
      return offsetsForTime(kafka, topic, pos.ms);
  }
}

async function lowOffsets(kafka: Kafka, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.low)]));
  } finally {
    await admin.disconnect();
  }
}

export async function replay(o: ReplayOptions): Promise<ReplayResult> {
  const id = o.id ?? `${new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomUUID().slice(0, 6)}`;
  const namespace = `${topicPrefix()}.replay-${id}`;
  const log = rootLog.child({ role: 'replay', namespace });
  const tStart = Date.now();
  const ctx = pipelineContext(namespace, undefined, `masterdeal-replay-${id}`);
  const rawTopics = DOMAINS.map((d) => ctx.layout.raw[d]);

  // Positions per raw partition: [start, stop).
  const starts = new Map<string, bigint>();
  const stops = new Map<string, bigint>();
  for (const topic of rawTopics) {
    const ends = await endOffsets(ctx.kafka, topic);
    const lows = await lowOffsets(ctx.kafka, topic);
    const from = await resolve(ctx.kafka, topic, o.from, ends, lows);
    const to = o.to ? await resolve(ctx.kafka, topic, o.to, ends, lows) : ends;
    for (const [p, s] of from) {
      starts.set(`${topic}:${p}`, s);
      const t = to.get(p) ?? s;
      stops.set(`${topic}:${p}`, t < s ? s : t);
    }
  }
  const total = Number([...stops].reduce((acc, [k, t]) => acc + (t - starts.get(k)!), 0n));
  // The fresh group reads from the beginning and skips what lies before `starts` (kafkajs'
  // admin.setOffsets joins the group once per topic, which costs seconds each).
  const groupId = `${namespace}-processor`;
  log.info({ total, groupId, ms: Date.now() - tStart }, 'replay: processing raw topics');
  const t0 = Date.now();
  const { processor } = await startProcessor(
    {
      namespace,
      groupId,
      txnPrefix: `${namespace}-processor`,
      idleAfterMs: 0,
      lateness: o.lateness,
      rulesFile: o.rulesFile,
      fromBeginning: true,
      // Nobody watches a replay's intermediate snapshots (advanceAll publishes every deal's last one
      // at the end), and each costs more to encode and write than the events behind it.
      snapshotIntervalMs: REPLAY_SNAPSHOT_INTERVAL_MS,
    },
    ctx,
    stops,
    starts,
  );
  const poll = o.pollMs ?? 250;
  await waitForGroup(ctx.kafka, groupId, stops, { starts, pollMs: poll, onProgress: (done) => o.onProgress?.(done, total, 'process') });
  // End of input: like `fold`, the watermark reaches the highest event_ts (or the given clock).
  const highest = processor.highestEventTs();
  const lateMs = processor.allowedLatenessMs;
  const clockMark = o.nowMs === undefined ? null : o.nowMs - lateMs;
  const final = Math.max(highest ?? -Infinity, clockMark ?? -Infinity);
  if (Number.isFinite(final)) await processor.advanceAll(final);
  const deals = processor.partitions().reduce((n, p) => n + p.deals, 0);
  await processor.stop();
  const processSeconds = (Date.now() - t0) / 1000;
  log.info({ events: total, seconds: processSeconds, deals }, 'replay: processing done');

  let rebuildSeconds: number | undefined;
  if (o.rebuild) {
    const t1 = Date.now();
    await rebuildWarehouse(ctx.endpoints);
    log.info({ ms: Date.now() - t1 }, 'replay: warehouse migrated and emptied');
    const sinkGroup = `${namespace}-sink`;
    const canonicalTopics = CANONICAL_KINDS.map((k) => ctx.layout.canonical[k]);
    const sinkTargets = new Map([...stops, ...(await endTargets(ctx.kafka, canonicalTopics, true))]);
    const sinkStarts = new Map(starts);
    for (const key of sinkTargets.keys()) if (!sinkStarts.has(key)) sinkStarts.set(key, 0n);
    const { sink, close } = await startSink({ namespace, groupId: sinkGroup, maxAgeMs: 500, stopAt: stops, startAt: starts }, ctx);
    log.info({ ms: Date.now() - t1 }, 'replay: sink started');
    await waitForGroup(ctx.kafka, sinkGroup, sinkTargets, { starts: sinkStarts, pollMs: poll, onProgress: (done, total) => o.onProgress?.(done, total, 'rebuild') });
    await sink.stop();
    await close();
    rebuildSeconds = (Date.now() - t1) / 1000;
    log.info({ seconds: rebuildSeconds, stats: sink.stats }, 'replay: warehouse rebuilt');
  }
  return { id, namespace, events: total, processSeconds, rebuildSeconds, deals };
}

/** Migrates the target database and empties the tables the sink fills. */
async function rebuildWarehouse(endpoints: ReturnType<typeof pipelineContext>['endpoints']): Promise<void> {
  const database = endpoints.clickhouseDatabase;
  const client = clickhouseClient(endpoints, { database: undefined });
  try {
    await migrate(client, { database });
    for (const table of Object.values(TABLES)) await client.command({ query: `TRUNCATE TABLE IF EXISTS ${database}.${table}` });
  } finally {
    await client.close();
  }
}
