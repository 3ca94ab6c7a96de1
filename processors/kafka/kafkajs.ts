// First, before kafkajs loads: a linear message grouping (see kafkajs-patches.ts).
import { groupingPatched } from './kafkajs-patches.ts';
import { randomUUID } from 'node:crypto';
import {
  Kafka,
  Partitioners,
  logLevel,
  type Consumer,
  type IHeaders,
  type KafkaMessage,
  type LogEntry,
  type Producer,
  type ITopicConfig,
} from 'kafkajs';
import { log } from '../shared/log.ts';
import { coPartitioningAssigner } from './assignor.ts';
import { ownedPartitions } from './copartition.ts';
import { FencedError } from './ports.ts';
import { installRecordEncoding } from './record-encoding.ts';
import type {
  AssignmentListener,
  ConsumedRecord,
  EventSink,
  EventSource,
  Headers,
  OutgoingRecord,
  RecordBatch,
  TopicPartitionOffset,
  TransactionalSink,
} from './ports.ts';
import type { TopicSpec } from './topics.ts';

/** kafkajs adapters of the ports in ports.ts. Nothing outside this folder imports kafkajs. */

// Before any produce: kafkajs then encodes record batches with ours (same bytes, less CPU).
installRecordEncoding();
if (!groupingPatched) log.warn('kafkajs loaded before kafkajs-patches.ts: its quadratic message grouping stays in use');

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

const kafkaLog = log.child({ component: 'kafkajs' });

function pinoLogCreator() {
  return ({ level, log: entry }: LogEntry) => {
    const { message, ...rest } = entry;
    // CONCURRENT_TRANSACTIONS and rebalance chatter are retried by us or by kafkajs: debug only.
    let lvl = LEVELS[level] ?? 'info';
    if (lvl === 'info' || /concurrent operation on the same transaction|CONCURRENT_TRANSACTIONS/.test(`${message} ${String(rest.error ?? '')}`)) lvl = 'debug';
    kafkaLog[lvl](rest, message);
  };
}

export function createKafka(brokers: string[], clientId = 'masterdeal'): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000 },
  });
}

// ---------------------------------------------------------------- admin

/** Creates missing topics; existing ones are left alone. Returns the names it created. */
export async function ensureTopics(kafka: Kafka, specs: TopicSpec[]): Promise<{ created: string[]; existing: string[] }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const present = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !present.has(s.topic));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map<ITopicConfig>((s) => ({
          topic: s.topic,
          numPartitions: s.numPartitions,
          replicationFactor: 1,
          configEntries: s.configEntries,
        })),
      });
    }
    return { created: missing.map((s) => s.topic), existing: specs.filter((s) => present.has(s.topic)).map((s) => s.topic) };
  } finally {
    await admin.disconnect();
  }
}

export async function partitionCounts(kafka: Kafka, topics: string[]): Promise<Record<string, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const meta = await admin.fetchTopicMetadata({ topics });
    return Object.fromEntries(meta.topics.map((t) => [t.name, t.partitions.length]));
  } finally {
    await admin.disconnect();
  }
}

/** High watermark per partition (next offset to be written). */
export async function endOffsets(kafka: Kafka, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offs = await admin.fetchTopicOffsets(topic);
    return new Map(offs.map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** First offset whose timestamp is >= ts, per partition (end offset if none). */
export async function offsetsForTime(kafka: Kafka, topic: string, ts: number): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offs = await admin.fetchTopicOffsetsByTimestamp(topic, ts);
    const ends = await admin.fetchTopicOffsets(topic);
    const high = new Map(ends.map((o) => [o.partition, BigInt(o.high)]));
    return new Map(offs.map((o) => [o.partition, BigInt(o.offset) < 0n ? high.get(o.partition)! : BigInt(o.offset)]));
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const present = new Set(await admin.listTopics());
    const doomed = topics.filter((t) => present.has(t));
    if (doomed.length > 0) await admin.deleteTopics({ topics: doomed, timeout: 30_000 });
  } finally {
    await admin.disconnect();
  }
}

export async function groupOffsets(kafka: Kafka, groupId: string, topics: string[]): Promise<TopicPartitionOffset[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const res = await admin.fetchOffsets({ groupId, topics });
    return res.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: p.offset })));
  } finally {
    await admin.disconnect();
  }
}

export async function setGroupOffsets(kafka: Kafka, groupId: string, offsets: TopicPartitionOffset[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const o of offsets) {
      const list = byTopic.get(o.topic) ?? [];
      list.push({ partition: o.partition, offset: o.offset });
      byTopic.set(o.topic, list);
    }
    for (const [topic, partitions] of byTopic) await admin.setOffsets({ groupId, topic, partitions });
  } finally {
    await admin.disconnect();
  }
}

// ---------------------------------------------------------------- records

function toHeaders(h: IHeaders | undefined): Headers {
  if (h === undefined) return {};
  // Usually every value is already one Buffer (kafkajs makes a fresh object per message): keep it.
  let plain = true;
  for (const k in h) {
    if (!Buffer.isBuffer(h[k])) {
      plain = false;
      break;
    }
  }
  if (plain) return h as Headers;
  const out: Headers = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    if (v === undefined) continue;
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = Buffer.isBuffer(first) ? first : Buffer.from(String(first));
  }
  return out;
}

function toConsumed(topic: string, partition: number, m: KafkaMessage): ConsumedRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    timestamp: Number(m.timestamp),
    key: m.key,
    value: m.value,
    headers: toHeaders(m.headers),
  };
}

/**
 * Splits records into requests of at most `maxBytes` (approximate: key + value + headers), so no
 * record batch exceeds the broker's message.max.bytes (1 MiB by default): kafkajs puts all records
 * of one partition in one request into a single record batch.
 */
export function chunkBySize<T extends { key: Buffer | string | null; value: Buffer | null; headers?: Headers }>(records: T[], maxBytes = 512 * 1024): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const r of records) {
    let bytes = 64 + (r.key?.length ?? 0) + (r.value?.length ?? 0);
    const headers = r.headers;
    if (headers) for (const k in headers) bytes += k.length + headers[k]!.length;
    if (current.length > 0 && size + bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(r);
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

function groupByTopic(records: OutgoingRecord[]) {
  // The records themselves are the messages (kafkajs reads key, value, partition, headers).
  const byTopic = new Map<string, OutgoingRecord[]>();
  for (const r of records) {
    const list = byTopic.get(r.topic);
    if (list) list.push(r);
    else byTopic.set(r.topic, [r]);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

// ---------------------------------------------------------------- source

export interface SourceOptions {
  groupId: string;
  topics: string[];
  fromBeginning?: boolean;
  /** Give one member the same partition number of every topic (processor). */
  coPartitioned?: boolean;
  /** Skip aborted transactional records (canonical topics). Default true. */
  readCommitted?: boolean;
  partitionsConsumedConcurrently?: number;
  maxBytesPerPartition?: number;
  sessionTimeout?: number;
}

export class KafkaEventSource implements EventSource {
  readonly consumer: Consumer;
  private listeners: AssignmentListener[] = [];
  private owned = new Set<number>();
  private assignedTopicPartitions = new Set<string>();

  constructor(
    kafka: Kafka,
    private readonly opts: SourceOptions,
  ) {
    this.consumer = kafka.consumer({
      groupId: opts.groupId,
      readUncommitted: opts.readCommitted === false,
      partitionAssigners: opts.coPartitioned ? [coPartitioningAssigner] : undefined,
      sessionTimeout: opts.sessionTimeout ?? 30_000,
      rebalanceTimeout: 60_000,
      heartbeatInterval: 3_000,
      maxBytesPerPartition: opts.maxBytesPerPartition ?? 4 * 1024 * 1024,
      maxWaitTimeInMs: 200,
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      const assignment = e.payload.memberAssignment as Record<string, number[]>;
      this.assignedTopicPartitions = new Set(
        Object.entries(assignment).flatMap(([t, ps]) => ps.map((p) => `${t}:${p}`)),
      );
      const owned = ownedPartitions(assignment);
      this.owned = new Set(owned);
      for (const l of this.listeners) void Promise.resolve(l(owned)).catch((err) => log.error({ err }, 'assignment listener failed'));
    });
  }

  onAssignment(listener: AssignmentListener): void {
    this.listeners.push(listener);
  }

  async run(onBatch: (batch: RecordBatch, ctx: { isActive(): boolean; heartbeat(): Promise<void> }) => Promise<void>): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.opts.topics, fromBeginning: this.opts.fromBeginning ?? true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const key = `${batch.topic}:${batch.partition}`;
        const records = batch.messages.map((m) => toConsumed(batch.topic, batch.partition, m));
        const ctx = {
          isActive: () => isRunning() && !isStale() && this.assignedTopicPartitions.has(key),
          heartbeat,
        };
        await onBatch({ topic: batch.topic, partition: batch.partition, records, highWatermark: batch.highWatermark }, ctx);
        // Durable now: move the fetch position past the batch (committing is the caller's job).
        if (records.length > 0) resolveOffset(records[records.length - 1]!.offset);
      },
    });
  }

  async commitOffsets(offsets: TopicPartitionOffset[]): Promise<void> {
    if (offsets.length > 0) await this.consumer.commitOffsets(offsets);
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}

// ---------------------------------------------------------------- sinks

export class KafkaEventSink implements EventSink {
  private readonly producer: Producer;
  private connected?: Promise<void>;

  constructor(kafka: Kafka) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Java-compatible murmur2: keeps raw topics co-partitioned with any other producer.
      createPartitioner: Partitioners.DefaultPartitioner,
      // Idempotence needs unlimited retries (kafkajs warns otherwise); a broker outage is waited out.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 5_000 },
    });
  }

  async send(records: OutgoingRecord[]): Promise<void> {
    this.connected ??= this.producer.connect();
    await this.connected;
    for (const chunk of chunkBySize(records)) await this.producer.sendBatch({ topicMessages: groupByTopic(chunk), acks: -1 });
  }

  async close(): Promise<void> {
    if (this.connected) await this.producer.disconnect();
  }
}

const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED']);

function errorType(err: unknown): string | undefined {
  const e = err as { type?: string; cause?: unknown; name?: string };
  return e?.type ?? (e?.cause ? errorType(e.cause) : undefined);
}

/**
 * One transactional producer. kafkajs does not retry AddOffsetsToTxn on CONCURRENT_TRANSACTIONS
 * (kafkajs #430), so a failed transaction is aborted and the whole transaction retried with
 * backoff; fencing is final.
 */
export class KafkaTransactionalSink implements TransactionalSink {
  private readonly producer: Producer;
  private connected?: Promise<void>;

  constructor(
    kafka: Kafka,
    readonly transactionalId: string,
    private readonly maxAttempts = 8,
  ) {
    this.producer = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 60_000,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      // The broker answers CONCURRENT_TRANSACTIONS while it finishes the previous commit
      // (kafkajs #1315): retry that quickly instead of the default 300 ms.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 10, maxRetryTime: 2_000, factor: 0.5, multiplier: 1.5 },
    });
  }

  /** Connecting runs InitProducerId, which fences older instances and aborts their open transaction. */
  async open(): Promise<void> {
    this.connected ??= this.producer.connect();
    await this.connected;
  }

  async commit(
    records: OutgoingRecord[],
    consumed: { groupId: string; offsets: TopicPartitionOffset[] } | null,
  ): Promise<void> {
    await this.open();
    for (let attempt = 1; ; attempt++) {
      const tx = await this.producer.transaction();
      try {
        for (const chunk of chunkBySize(records)) await tx.sendBatch({ topicMessages: groupByTopic(chunk), acks: -1 });
        if (consumed && consumed.offsets.length > 0) {
          const byTopic = new Map<string, { partition: number; offset: string }[]>();
          for (const o of consumed.offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), { partition: o.partition, offset: o.offset }]);
          await tx.sendOffsets({
            consumerGroupId: consumed.groupId,
            topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
          });
        }
        await tx.commit();
        return;
      } catch (err) {
        const type = errorType(err);
        if (tx.isActive()) await tx.abort().catch(() => undefined);
        if (type && FENCED.has(type)) throw new FencedError(this.transactionalId, err);
        if (attempt >= this.maxAttempts) throw err;
        const delay = Math.min(5_000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
        log.warn({ err, type, attempt, transactionalId: this.transactionalId, delay }, 'transaction failed, retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  async close(): Promise<void> {
    if (this.connected) await this.producer.disconnect().catch(() => undefined);
  }
}

// ---------------------------------------------------------------- restore

/**
 * Reads the given partitions (default: all) of a topic from the beginning to their current end
 * (read_committed), e.g. to restore processor state from the changelog or to count dead letters.
 * Uses a throwaway consumer group because kafkajs has no manual assignment; the group is deleted
 * afterwards. `timeoutMs` bounds the wait (none by default: a restore must not give up).
 */
export async function readPartitionsToEnd(
  kafka: Kafka,
  topic: string,
  partitions: number[] | undefined,
  onRecord: (r: ConsumedRecord) => void,
  timeoutMs?: number,
): Promise<number> {
  const ends = await endOffsets(kafka, topic);
  const wanted = partitions ?? [...ends.keys()];
  const pending = new Map<number, bigint>();
  for (const p of wanted) if ((ends.get(p) ?? 0n) > 0n) pending.set(p, ends.get(p)!);
  if (pending.size === 0) return 0;
  const groupId = `masterdeal-restore-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 100, maxBytesPerPartition: 8 * 1024 * 1024 });
  let count = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  // END_BATCH_PROCESS also fires for batches holding only transaction markers, whose offsets count too.
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    const { partition, lastOffset } = e.payload as { partition: number; lastOffset: string };
    const end = pending.get(partition);
    if (end !== undefined && BigInt(lastOffset) + 1n >= end) pending.delete(partition);
    if (pending.size === 0) finish();
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (!wanted.includes(batch.partition)) return;
        for (const m of batch.messages) {
          onRecord(toConsumed(topic, batch.partition, m));
          count++;
        }
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = timeoutMs === undefined ? [] : [new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), timeoutMs)))];
    await Promise.race([done, ...timeout]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
  return count;
}
