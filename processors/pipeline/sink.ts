import type { CanonicalType } from '../codec/schemas.ts';
import type { BatchContext, EventSource, RecordBatch } from '../kafka/ports.ts';
import { CANONICAL_KINDS, DOMAINS, type TopicLayout } from '../kafka/topics.ts';
import { TsvBody } from '../clickhouse/tsv.ts';
import { log as rootLog } from '../shared/log.ts';
import { RowBatcher, type Flush } from './batcher.ts';
import { decodeRecordNow, type EnvelopeDecoder } from './decode.ts';
import * as m from './metrics.ts';
import { INPUT_TS_HEADER } from './processor.ts';
import { canonicalValueLine, rawEventLine, TABLES, type CanonicalValue, type Table } from './warehouse-rows.ts';

/**
 * ClickHouse sink: raw (valid envelopes) and canonical topics → raw_events, canonical_events,
 * deal_snapshots. Rows are buffered across batches and inserted about once a second per table,
 * each insert carrying a dedup token from its offset ranges; offsets are committed only after
 * ClickHouse acknowledged every table. While ClickHouse is down the flush retries with backoff
 * and the consumer waits (backpressure): nothing is committed, nothing is lost.
 * Consuming goes on while a flush is in flight (rows buffer for the next one); flushes run one at
 * a time and in order, so offsets are committed in order, and a second due flush waits.
 */
/** One warehouse row as a TabSeparated line of its table's COLUMNS (warehouse-rows.ts), without its line break. */
export type Row = string;
/** A table's buffered rows: their TabSeparated body, encoded as they arrive. */
export type Rows = TsvBody;

export interface SinkPorts {
  source: EventSource;
  /** Inserts the rows; a retry passes the same rows (same body) and token. */
  insert(table: Table, rows: Rows, dedupToken: string): Promise<void>;
  /** Registry-framed envelope → validated envelope; synchronous when it can be (no await per record). */
  decodeEnvelope: EnvelopeDecoder;
  /** A canonical record as decoded (the engine's shape, epoch-ms timestamps). */
  decodeCanonical(type: CanonicalType, value: Buffer): CanonicalValue | Promise<CanonicalValue>;
}

export interface SinkOptions {
  layout: TopicLayout;
  maxRows?: number;
  maxAgeMs?: number;
  /**
   * The max age while the sink is more than BACKLOG_ROWS records behind over its topics (catching
   * up): fewer, larger inserts cost the ClickHouse endpoint much less per row, and latency is
   * already the backlog's. Caught up, `maxAgeMs` applies again. Default SINK_BACKLOG_MAX_AGE_MS.
   */
  backlogMaxAgeMs?: number;
  retry?: { initialMs: number; maxMs: number };
  clock?: () => number;
  stopAt?: Map<string, bigint>;
  /** Called after each acknowledged flush with latencies (ms) from raw produce to ClickHouse, per path. */
  onLatency?: (path: 'raw' | 'canonical', ms: number[]) => void;
  /** Replay: records below these offsets are skipped (the group starts from the beginning). */
  startAt?: Map<string, bigint>;
}

export interface SinkStats {
  consumed: number;
  inserted: Record<string, number>;
  skippedInvalid: number;
  flushes: number;
  retries: number;
}

/** Raw topics (valid envelopes) and every canonical topic. */
export function sinkTopics(layout: TopicLayout): string[] {
  return [...DOMAINS.map((d) => layout.raw[d]), ...CANONICAL_KINDS.map((k) => layout.canonical[k])];
}

/** Records the sink may be behind (over all its topic-partitions) and still count as caught up. */
export const SINK_BACKLOG_RECORDS = 20_000;
export const SINK_BACKLOG_MAX_AGE_MS = 1_000;

export class ClickHouseSink {
  private readonly batcher = new RowBatcher<Row, Rows>(() => new TsvBody());
  private readonly kindOf = new Map<string, 'raw' | CanonicalType>();
  private readonly clock: () => number;
  private readonly log = rootLog.child({ role: 'sink' });
  private lock: Promise<unknown> = Promise.resolve();
  /** The flush in flight (inserting and committing), if any. */
  private inFlight: Promise<void> | null = null;
  /** Timings of the buffered rows (latency metrics), by path. */
  private timings = newTimings();
  private timer?: NodeJS.Timeout;
  /** The latest batch's context: flushes started off the consumer's path heartbeat through it while retrying. */
  private lastCtx?: BatchContext;
  private stopping = false;
  /** Per `topic:partition`: records behind its high watermark after the last batch, and their sum. */
  private readonly lag = new Map<string, number>();
  private behind = 0;
  readonly stats: SinkStats = { consumed: 0, inserted: {}, skippedInvalid: 0, flushes: 0, retries: 0 };

  constructor(
    private readonly ports: SinkPorts,
    private readonly opts: SinkOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
    for (const d of DOMAINS) this.kindOf.set(opts.layout.raw[d], 'raw');
    for (const k of CANONICAL_KINDS) this.kindOf.set(opts.layout.canonical[k], `masterdeal.${k}` as CanonicalType);
  }

  async run(): Promise<void> {
    // A fine-grained check (cheap): a due buffer is flushed within ~one tick of becoming due.
    this.timer = setInterval(() => this.flushIfDue(), Math.max(10, Math.min(50, this.maxAgeMs / 10)));
    await this.ports.source.run((batch, ctx) => this.locked(() => this.onBatch(batch, ctx)));
  }

  private get maxAgeMs(): number {
    const normal = this.opts.maxAgeMs ?? 1000;
    if (this.behind <= SINK_BACKLOG_RECORDS) return normal;
    return Math.max(normal, this.opts.backlogMaxAgeMs ?? SINK_BACKLOG_MAX_AGE_MS);
  }

  /** Starts a flush when none is in flight and the buffer is old enough (timer, and as soon as a flush completes). */
  private flushIfDue(): void {
    if (this.inFlight || this.stopping || !this.batcher.due(this.clock(), Infinity, this.maxAgeMs)) return;
    void this.locked(() => this.startFlush(this.lastCtx)).catch((err) => this.log.error({ err }, 'timed flush failed'));
  }

  /** Flushes what is buffered (so a clean stop commits everything), then stops consuming. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.locked(async () => {
      await this.inFlight;
      await this.startFlush();
      await this.inFlight;
    }).catch((err) => this.log.error({ err }, 'final flush failed'));
    this.stopping = true;
    await this.ports.source.stop();
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async onBatch(batch: RecordBatch, ctx: BatchContext): Promise<void> {
    const kind = this.kindOf.get(batch.topic);
    if (!kind || batch.records.length === 0) return;
    const stop = this.opts.stopAt?.get(`${batch.topic}:${batch.partition}`);
    const start = this.opts.startAt?.get(`${batch.topic}:${batch.partition}`);
    const rows: Row[] = [];
    const consumedAt = this.clock();
    const t = this.timings;
    for (const r of batch.records) {
      if (stop !== undefined && BigInt(r.offset) >= stop) continue;
      if (start !== undefined && BigInt(r.offset) < start) continue;
      if (kind === 'raw') {
        let d = decodeRecordNow(r, this.ports.decodeEnvelope);
        if (d instanceof Promise) d = await d;
        // Invalid raw records are the processor's to dead-letter; the warehouse keeps valid envelopes only.
        if (d.ok) {
          rows.push(rawEventLine(d.envelope, r));
          t.raw.produced.push(r.timestamp);
          t.raw.consumed.push(consumedAt);
        } else this.stats.skippedInvalid++;
      } else if (r.value) {
        const inputTs = r.headers[INPUT_TS_HEADER];
        if (inputTs) {
          const into = kind === 'masterdeal.snapshot' ? t.snapshot : t.canonical;
          into.produced.push(Number(inputTs.toString()));
          into.written.push(r.timestamp);
          into.consumed.push(consumedAt);
        }
        const decoded = this.ports.decodeCanonical(kind, r.value);
        rows.push(canonicalValueLine(decoded instanceof Promise ? await decoded : decoded, r));
      }
    }
    const table: Table = kind === 'raw' ? TABLES.raw : kind === 'masterdeal.snapshot' ? TABLES.snapshots : TABLES.canonical;
    const first = batch.records[0]!;
    const last = batch.records[batch.records.length - 1]!;
    this.batcher.add(
      { topic: batch.topic, partition: batch.partition, first: BigInt(first.offset), last: BigInt(last.offset) },
      { [table]: rows },
      this.clock(),
    );
    m.eventsIn.inc({ role: 'sink', topic: batch.topic }, batch.records.length);
    this.stats.consumed += batch.records.length;
    const lag = Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(last.offset) - 1n));
    m.consumerLag.set({ role: 'sink', topic: batch.topic, partition: String(batch.partition) }, lag);
    const key = `${batch.topic}:${batch.partition}`;
    this.behind += lag - (this.lag.get(key) ?? 0);
    this.lag.set(key, lag);
    this.lastCtx = ctx;
    // Backpressure only when the buffer is full: the consumer then waits for the flush in flight.
    // A buffer that is merely old is flushed as soon as the flush in flight is done (flushIfDue),
    // while the consumer goes on filling it: rows that arrive meanwhile ride along, not one flush later.
    if (this.batcher.size >= (this.opts.maxRows ?? 50_000)) await this.startFlush(ctx);
    else if (!this.inFlight && this.batcher.due(this.clock(), Infinity, this.maxAgeMs)) await this.startFlush(ctx);
  }

  /**
   * Waits for the flush in flight (backpressure), then hands what is buffered to a new one and
   * returns without waiting for it: the consumer keeps filling the next batch meanwhile.
   * A failed flush (only when stopping: otherwise inserts retry forever) surfaces here.
   */
  private async startFlush(ctx?: BatchContext): Promise<void> {
    if (this.inFlight) await this.inFlight;
    if (this.batcher.isEmpty) return;
    const flush: Flush<Rows> = this.batcher.take();
    const timings = this.timings;
    this.timings = newTimings();
    timings.takenAt = this.clock();
    const run = this.flush(flush, timings, ctx);
    this.inFlight = run;
    void run.then(
      () => {
        if (this.inFlight === run) this.inFlight = null;
        this.flushIfDue();
      },
      (err) => {
        if (this.inFlight === run) this.inFlight = null;
        this.log.error({ err }, 'flush failed');
      },
    );
  }

  private async flush(flush: Flush<Rows>, timings: Timings, ctx?: BatchContext): Promise<void> {
    // The tables are independent: insert them side by side (each retried with its own token).
    await Promise.all(flush.batches.map((b) => this.insertWithRetry(b.table as Table, b.rows, b.token, ctx)));
    this.observe(timings, Date.now());
    try {
      await this.ports.source.commitOffsets(flush.commit);
    } catch (err) {
      // Rows are in ClickHouse; an uncommitted range is redelivered and collapses (same ids, same token).
      this.log.warn({ err }, 'offset commit after insert failed; the range will be re-inserted idempotently');
    }
    this.stats.flushes++;
  }

  /**
   * End-to-end latency per row, and the stages it went through (see metrics.sinkStageSeconds):
   * the same observations as one per row and stage, counted a series at a time (observeMany).
   */
  private observe(t: Timings, acked: number): void {
    const insertMs = acked - t.takenAt;
    for (const rows of ['raw', 'canonical', 'snapshot'] as const) {
      const { produced, consumed } = t[rows];
      const n = produced.length;
      if (n === 0) continue;
      // Snapshots are derived rows too (path canonical); their stages are kept apart (coalescing).
      const path = rows === 'raw' ? 'raw' : 'canonical';
      const ms = new Array<number>(n);
      for (let i = 0; i < n; i++) ms[i] = acked - produced[i]!;
      m.observeMany(m.eventToClickHouse, { path }, ms, 1000);
      this.opts.onLatency?.(path, ms);
      const stage = new Float64Array(n);
      if (rows === 'raw') {
        for (let i = 0; i < n; i++) stage[i] = consumed[i]! - produced[i]!;
        m.observeMany(m.sinkStageSeconds, { path: rows, stage: 'fetch' }, stage, 1000);
      } else {
        const written = t[rows].written;
        for (let i = 0; i < n; i++) stage[i] = written[i]! - produced[i]!;
        m.observeMany(m.sinkStageSeconds, { path: rows, stage: 'processor' }, stage, 1000);
        for (let i = 0; i < n; i++) stage[i] = consumed[i]! - written[i]!;
        m.observeMany(m.sinkStageSeconds, { path: rows, stage: 'delivery' }, stage, 1000);
      }
      for (let i = 0; i < n; i++) stage[i] = t.takenAt - consumed[i]!;
      m.observeMany(m.sinkStageSeconds, { path: rows, stage: 'buffer' }, stage, 1000);
      stage.fill(insertMs);
      m.observeMany(m.sinkStageSeconds, { path: rows, stage: 'insert' }, stage, 1000);
    }
  }

  private async insertWithRetry(table: Table, rows: Rows, token: string, ctx?: BatchContext): Promise<void> {
    const { initialMs, maxMs } = this.opts.retry ?? { initialMs: 200, maxMs: 10_000 };
    for (let attempt = 1; ; attempt++) {
      const end = m.insertSeconds.startTimer({ table });
      try {
        await this.ports.insert(table, rows, token);
        end();
        m.eventsOut.inc({ role: 'sink', topic: table }, rows.length);
        this.stats.inserted[table] = (this.stats.inserted[table] ?? 0) + rows.length;
        return;
      } catch (err) {
        if (this.stopping) throw err;
        m.insertRetries.inc({ table });
        this.stats.retries++;
        const delay = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 10)) * (0.5 + Math.random() / 2);
        this.log.warn({ err: (err as Error).message, table, rows: rows.length, attempt, delay: Math.round(delay) }, 'ClickHouse insert failed, retrying');
        await new Promise((r) => setTimeout(r, delay));
        await ctx?.heartbeat().catch(() => undefined);
      }
    }
  }
}

/** Per buffered row with a known source time: when its raw event was produced, (canonical) when the processor wrote it, when the sink consumed it. */
interface Timings {
  raw: { produced: number[]; consumed: number[] };
  canonical: { produced: number[]; written: number[]; consumed: number[] };
  snapshot: { produced: number[]; written: number[]; consumed: number[] };
  takenAt: number;
}

function newTimings(): Timings {
  return { raw: { produced: [], consumed: [] }, canonical: { produced: [], written: [], consumed: [] }, snapshot: { produced: [], written: [], consumed: [] }, takenAt: 0 };
}
