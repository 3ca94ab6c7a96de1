import { DealBook, RulesMismatchError, type CanonicalOutput, type Rules } from '../core/index.ts';
import { FencedError } from '../kafka/ports.ts';
import type {
  BatchContext,
  ConsumedRecord,
  EventSource,
  Headers,
  OutgoingRecord,
  RecordBatch,
  TopicPartitionOffset,
  TransactionalSink,
} from '../kafka/ports.ts';
import { canonicalKindOf, type TopicLayout } from '../kafka/topics.ts';
import { log as rootLog } from '../shared/log.ts';
import { decodeChangelogEntry, encodeChangelogEntry, type ChangelogEntry } from './changelog.ts';
import { buildDeadLetter } from './deadletter.ts';
import { decodeAll, type EnvelopeDecoder } from './decode.ts';
import * as m from './metrics.ts';

/**
 * The live processor: raw topics → per-partition DealBook → canonical topics, exactly once.
 * Partition N of every raw topic belongs to one member (co-partitioning assignor) and to one
 * transactional producer (`<prefix>-p<N>`); each batch commits its outputs, the changed deal
 * states (changelog), dead letters and the consumed offsets in one Kafka transaction.
 */
export type CanonicalEncoder = (output: CanonicalOutput) => Buffer;

export interface ProcessorPorts {
  source: EventSource;
  /** The transactional producer of partition N; `open()` fences older instances. */
  transactionalSink(partition: number): TransactionalSink & { open(): Promise<void> };
  /** Changelog records of partition N, from the beginning to the current end (read_committed). */
  readChangelog(partition: number, onRecord: (r: ConsumedRecord) => void): Promise<number>;
  /** Offsets the group has committed (next to read), read after fencing. */
  committedOffsets(partition: number): Promise<TopicPartitionOffset[]>;
  decode: EnvelopeDecoder;
  encode: CanonicalEncoder;
}

export interface ProcessorOptions {
  groupId: string;
  layout: TopicLayout;
  rules: Rules;
  allowedLatenessMs?: number;
  /** Live mode: an idle partition's watermark follows the clock (now - allowed lateness). */
  idleAdvance?: { afterMs: number; everyMs: number } | false;
  /** Injected wall clock (epoch ms). */
  clock?: () => number;
  /** Replay: per `topic:partition`, the first offset NOT to process (records from there on are left alone). */
  stopAt?: Map<string, bigint>;
  /**
   * Snapshots of changed deals are published at most this often per partition (coalesced), since
   * encoding a snapshot costs far more than applying an event. 0 = with every transaction.
   */
  snapshotIntervalMs?: number;
  /**
   * The snapshot interval while a partition is behind by more than BACKLOG_RECORDS (catching up
   * after downtime, a burst): a deal then changes several times per interval, so fewer, later
   * snapshots carry the same final state for much less encoding, transfer and insert work.
   * Caught up, `snapshotIntervalMs` applies again. Default 30 000; at most the normal interval = off.
   */
  backlogSnapshotIntervalMs?: number;
  /** Replay: per `topic:partition`, the first offset to process when the group has no committed offset. */
  startAt?: Map<string, bigint>;
}

/** Changelog key that holds the partition's watermark (deal ids never start with NUL). */
export const WATERMARK_KEY = '\u0000watermark';
/** Records a partition may be behind (over its raw topics) and still count as caught up: about a second of a busy stream. */
export const BACKLOG_RECORDS = 5_000;
/** The default snapshot interval while behind by more than BACKLOG_RECORDS (see ProcessorOptions). */
export const BACKLOG_SNAPSHOT_INTERVAL_MS = 30_000;
const VERSION_HEADER = 'masterdeal.version';
/** Kafka timestamp of the (earliest) raw record behind a canonical record: lets the sink measure event → ClickHouse latency. */
export const INPUT_TS_HEADER = 'masterdeal.input_ts';
const LATE_LOG_EVERY_MS = 10_000;

interface PartitionTask {
  partition: number;
  book: DealBook;
  sink: TransactionalSink & { open(): Promise<void> };
  ready: Promise<void>;
  /** Committed offsets at takeover: records below them were already processed by the previous owner. */
  floor: Map<string, bigint>;
  lock: Promise<unknown>;
  lastInputAt: number;
  assignedAt: number;
  /** Per raw topic: highest event_ts seen and when input last arrived (wall clock). */
  inputs: Map<string, { high: number; lastInputAt: number }>;
  /** The partition's event-time watermark (null before any input). */
  watermark: number | null;
  /**
   * Deals whose latest state has no published snapshot yet, each with the Kafka timestamp of the
   * earliest raw record not yet reflected in a published snapshot (unknown: undefined), and the
   * version last published per deal.
   */
  dirty: Map<string, number | undefined>;
  published: Map<string, number>;
  lastSnapshotAt: number;
  /** Per raw topic: records behind its high watermark after the last batch. */
  backlog: Map<string, number>;
  /** Batches waiting for the next group transaction (see onBatch). */
  queue: Pending[];
  draining: boolean;
  /** When a late event was last logged, and how many went unlogged since. */
  lateLoggedAt: number;
  lateUnlogged: number;
  closed: boolean;
}

interface Pending {
  batch: RecordBatch;
  ctx: BatchContext;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The DealBook's own watermark (max event_ts - lateness over everything) is disabled: with
 * several input topics it would run ahead on whichever topic is read first. The processor keeps
 * a watermark per partition = min over its input topics of their highest event_ts, minus the
 * allowed lateness (like a multi-input stream processor), and drives the book with advanceTo.
 */
const BOOK_SELF_WATERMARK_OFF = 1e15;

export interface ProcessorStats {
  consumed: number;
  applied: number;
  deadLettered: number;
  outputs: number;
  late: number;
  transactions: number;
}

export class Processor {
  private readonly tasks = new Map<number, PartitionTask>();
  private readonly clock: () => number;
  private readonly log = rootLog.child({ role: 'processor' });
  private ticker?: NodeJS.Timeout;
  private stopping = false;
  readonly stats: ProcessorStats = { consumed: 0, applied: 0, deadLettered: 0, outputs: 0, late: 0, transactions: 0 };

  /**
   * Rejects when the processor cannot go on by itself (a partition's saved state was built with
   * other rules: RulesMismatchError); never resolves. The caller stops the processor and exits.
   */
  readonly failed: Promise<never>;
  private fail: (err: Error) => void = () => undefined;

  constructor(
    private readonly ports: ProcessorPorts,
    private readonly opts: ProcessorOptions,
  ) {
    this.clock = opts.clock ?? Date.now;
    this.failed = new Promise<never>((_, reject) => {
      this.fail = reject;
    });
    this.failed.catch(() => undefined); // nobody need listen
  }

  async run(): Promise<void> {
    this.ports.source.onAssignment((owned) => this.reassign(owned));
    const idle = this.opts.idleAdvance;
    // The ticker always runs: coalesced snapshots of a partition that has gone quiet must still be
    // published. Only in live mode does it also move idle watermarks from the clock.
    this.ticker = setInterval(() => void this.tick(idle ? idle.afterMs : null), idle ? idle.everyMs : 250);
    await this.ports.source.run((batch, ctx) => this.onBatch(batch, ctx));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.ticker) clearInterval(this.ticker);
    await this.ports.source.stop();
    await Promise.all([...this.tasks.values()].map((t) => this.close(t)));
    this.tasks.clear();
  }

  /** Partition numbers owned now, and the watermark of each (for tests and status). */
  partitions(): { partition: number; watermark: number | null; deals: number }[] {
    return [...this.tasks.values()].map((t) => ({ partition: t.partition, watermark: t.watermark, deals: t.book.size }));
  }

  private reassign(owned: number[]): void {
    const keep = new Set(owned);
    for (const [p, task] of this.tasks) {
      if (keep.has(p)) continue;
      this.tasks.delete(p);
      void this.close(task);
    }
    for (const p of owned) if (!this.tasks.has(p)) this.tasks.set(p, this.open(p));
    this.log.info({ owned }, 'partitions assigned');
  }

  private open(partition: number): PartitionTask {
    const book = new DealBook(this.opts.rules, { allowedLatenessMs: BOOK_SELF_WATERMARK_OFF });
    const sink = this.ports.transactionalSink(partition);
    const task: PartitionTask = {
      partition,
      book,
      sink,
      floor: new Map(),
      lock: Promise.resolve(),
      lastInputAt: this.clock(),
      assignedAt: this.clock(),
      inputs: new Map(),
      watermark: null,
      dirty: new Map(),
      published: new Map(),
      lastSnapshotAt: 0,
      backlog: new Map(),
      queue: [],
      draining: false,
      lateLoggedAt: -Infinity,
      lateUnlogged: 0,
      closed: false,
      ready: Promise.resolve(),
    };
    task.ready = this.restore(task);
    task.ready.catch((err) => {
      if (!(err instanceof RulesMismatchError)) return this.log.error({ err, partition }, 'restore failed');
      // Not retryable: the saved states need a rebuild (or the old rules), an operator's decision.
      this.log.fatal({ err, partition }, 'partition state was built with other rules');
      this.fail(err);
    });
    return task;
  }

  /** Fence the previous owner first, so the changelog and offsets read next are final. */
  private async restore(task: PartitionTask): Promise<void> {
    const started = Date.now();
    await task.sink.open();
    let saved: { watermark: number | null; inputs?: Record<string, number> } = { watermark: null };
    const states = new Map<string, ChangelogEntry>();
    const records = await this.ports.readChangelog(task.partition, (r) => {
      const key = r.key?.toString() ?? '';
      if (r.value === null) states.delete(key);
      else if (key === WATERMARK_KEY) saved = JSON.parse(r.value.toString()) as typeof saved;
      else states.set(key, decodeChangelogEntry(r.value));
    });
    for (const [id, entry] of states) {
      task.book.restore(entry.state);
      if (entry.snapshot_version !== null) task.published.set(id, entry.snapshot_version);
      // A snapshot coalesced but not yet published when the previous owner stopped: publish it now.
      if (entry.snapshot_version !== entry.state.version) task.dirty.set(id, undefined);
    }
    const watermark = saved.watermark;
    const now = this.clock();
    for (const [topic, high] of Object.entries(saved.inputs ?? {})) task.inputs.set(topic, { high, lastInputAt: now });
    if (watermark !== null) {
      task.watermark = watermark;
      task.book.advanceTo(watermark);
    }
    for (const [key, start] of this.opts.startAt ?? []) {
      if (key.endsWith(`:${task.partition}`)) task.floor.set(key.slice(0, key.lastIndexOf(':')), start);
    }
    for (const o of await this.ports.committedOffsets(task.partition)) {
      if (Number(o.offset) >= 0) task.floor.set(o.topic, BigInt(o.offset));
    }
    this.log.info(
      { partition: task.partition, deals: states.size, records, watermark, ms: Date.now() - started },
      'partition state restored from changelog',
    );
  }

  private async close(task: PartitionTask): Promise<void> {
    task.closed = true;
    await task.lock.catch(() => undefined);
    await task.sink.close();
  }

  private withLock<T>(task: PartitionTask, fn: () => Promise<T>): Promise<T> {
    const run = task.lock.then(fn, fn);
    task.lock = run.catch(() => undefined);
    return run;
  }

  /**
   * Group commit: batches of one partition (from its several raw topics) that arrive while a
   * transaction is in flight wait and then go together in the next one. Each batch resolves
   * only once its transaction committed.
   */
  private async onBatch(batch: RecordBatch, ctx: BatchContext): Promise<void> {
    const task = this.tasks.get(batch.partition);
    if (!task) throw new Error(`batch for partition ${batch.partition}, which this member does not own`);
    await task.ready;
    await new Promise<void>((resolve, reject) => {
      task.queue.push({ batch, ctx, resolve, reject });
      if (task.draining) return;
      // One fetch hands this partition a batch per raw topic, each from its own kafkajs worker, all
      // within one turn of the event loop: start the transaction after that turn so they share it
      // (started at once, the first batch went alone and the rest waited for its commit).
      task.draining = true;
      setImmediate(() => void this.drain(task));
    });
  }

  private async drain(task: PartitionTask): Promise<void> {
    task.draining = true;
    try {
      while (task.queue.length > 0) {
        const group = task.queue.splice(0);
        try {
          await this.withLock(task, () => this.processGroup(task, group));
          for (const p of group) p.resolve();
        } catch (err) {
          for (const p of [...group, ...task.queue.splice(0)]) p.reject(err);
        }
      }
    } finally {
      task.draining = false;
    }
  }

  private async processGroup(task: PartitionTask, group: Pending[]): Promise<void> {
    if (task.closed || group.some((p) => !p.ctx.isActive())) throw new Error(`partition ${task.partition} revoked while processing`);
    const inputs: { batch: RecordBatch; records: ConsumedRecord[] }[] = [];
    for (const { batch } of group) {
      const floor = task.floor.get(batch.topic) ?? -1n;
      const stop = this.opts.stopAt?.get(`${batch.topic}:${batch.partition}`);
      const inRange = (r: ConsumedRecord) => BigInt(r.offset) >= floor && (stop === undefined || BigInt(r.offset) < stop);
      // Offsets grow within a batch: when both ends are in range, so is everything between.
      const ends = batch.records.length > 0 && inRange(batch.records[0]!) && inRange(batch.records[batch.records.length - 1]!);
      const records = ends ? batch.records : batch.records.filter(inRange);
      if (records.length > 0) inputs.push({ batch, records });
    }
    if (inputs.length === 0) return;
    // Decoding may throw (registry down) before anything changed: the batches are simply retried.
    const decoded: Awaited<ReturnType<typeof decodeAll>>[] = [];
    for (const i of inputs) decoded.push(await decodeAll(i.records, this.ports.decode));
    const now = this.clock();
    task.lastInputAt = now;
    try {
      const out: OutgoingRecord[] = [];
      const changed = new Set<string>();
      const offsets: TopicPartitionOffset[] = [];
      inputs.forEach((input, i) => {
        m.eventsIn.inc({ role: 'processor', topic: input.batch.topic }, input.records.length);
        this.stats.consumed += input.records.length;
        this.applyBatch(task, input.batch, decoded[i]!, out, changed, now);
        const last = input.records[input.records.length - 1]!;
        offsets.push({ topic: input.batch.topic, partition: task.partition, offset: String(BigInt(last.offset) + 1n) });
        const lag = Math.max(0, Number(BigInt(input.batch.highWatermark) - BigInt(last.offset) - 1n));
        task.backlog.set(input.batch.topic, lag);
        m.consumerLag.set({ role: 'processor', topic: input.batch.topic, partition: String(task.partition) }, lag);
      });
      this.moveWatermark(task, this.eventTimeWatermark(task, now), out, changed);
      this.stateRecords(task, changed, out);
      await this.commit(task, out, offsets);
    } catch (err) {
      // The book already holds these batches but the transaction did not commit: rebuild the
      // partition from the changelog so memory matches what Kafka holds, then retry the batches.
      if (err instanceof FencedError) {
        // Another member owns this partition now; re-opening would fence it back.
        task.closed = true;
        this.log.warn({ partition: task.partition }, 'fenced by a newer owner: dropping the partition');
      } else this.reload(task);
      throw err;
    }
  }

  private applyBatch(
    task: PartitionTask,
    batch: RecordBatch,
    decoded: Awaited<ReturnType<typeof decodeAll>>,
    out: OutgoingRecord[],
    changed: Set<string>,
    now: number,
  ): void {
    {
      let lastTs = NaN;
      let lastHeaders: Headers | undefined;
      let withinLateness = 0;
      for (const d of decoded) {
        if (!d.ok) {
          out.push(buildDeadLetter(d.record, d.failure, this.opts.layout.deadLetter, now));
          m.deadLetters.inc({ reason: d.failure.reason, topic: batch.topic });
          this.stats.deadLettered++;
          continue;
        }
        const env = d.envelope;
        const wm = task.watermark;
        const input = task.inputs.get(batch.topic);
        const high = input?.high ?? null;
        if (wm !== null && env.event_ts < wm) {
          // Later than the allowed lateness: applied all the same (state stays exact), but reported.
          m.lateEvents.inc({ kind: 'beyond_lateness' });
          this.stats.late++;
          // One line per partition every LATE_LOG_EVERY_MS (with how many since the last): a burst of
          // late traffic would otherwise write a log line per event. The metric counts every one.
          if (now - task.lateLoggedAt >= LATE_LOG_EVERY_MS) {
            this.log.warn(
              { event_id: env.event_id, master_deal_id: env.master_deal_id, event_ts: env.event_ts, watermark: wm, partition: batch.partition, late_since_last_line: task.lateUnlogged + 1 },
              'event behind the watermark (beyond allowed lateness)',
            );
            task.lateLoggedAt = now;
            task.lateUnlogged = 0;
          } else task.lateUnlogged++;
        } else if (high !== null && env.event_ts < high) {
          withinLateness++; // counted once per batch below: a shuffled stream has many
        }
        if (!input) task.inputs.set(batch.topic, { high: env.event_ts, lastInputAt: now });
        else if (env.event_ts > input.high) input.high = env.event_ts;
        const step = task.book.apply(env);
        this.stats.applied++;
        if (step.outputs.length > 0) {
          // Outputs of inputs with the same timestamp (a producer batch) share one headers object (kafkajs only reads it).
          if (d.record.timestamp !== lastTs) {
            lastTs = d.record.timestamp;
            lastHeaders = { [INPUT_TS_HEADER]: Buffer.from(String(lastTs)) };
          }
          for (const o of step.outputs) out.push(this.outputRecord(o, task.partition, lastHeaders));
        }
        for (const id of step.changed) {
          changed.add(id);
          // A coalesced snapshot is as late as the earliest event it waited for (latency metric).
          if (!task.dirty.has(id)) task.dirty.set(id, d.record.timestamp);
        }
      }
      const input = task.inputs.get(batch.topic);
      if (input) input.lastInputAt = now;
      if (withinLateness > 0) m.lateEvents.inc({ kind: 'within_lateness' }, withinLateness);
    }
  }

  private reload(task: PartitionTask): void {
    if (this.tasks.get(task.partition) !== task) return;
    this.log.warn({ partition: task.partition }, 'transaction failed: reloading partition state from the changelog');
    task.closed = true;
    void task.sink.close();
    this.tasks.set(task.partition, this.open(task.partition));
  }

  /**
   * Moves every owned partition's watermark to `watermarkMs` (end of a replay: like `fold`, the
   * watermark at the end of input) and commits the resulting breaches and states.
   */
  async advanceAll(watermarkMs: number): Promise<void> {
    for (const task of this.tasks.values()) {
      await task.ready;
      await this.withLock(task, async () => {
        const out: OutgoingRecord[] = [];
        const changed = new Set<string>();
        this.moveWatermark(task, watermarkMs, out, changed);
        this.stateRecords(task, changed, out, true);
        await this.commit(task, out, []);
      });
    }
  }

  get allowedLatenessMs(): number {
    return this.opts.allowedLatenessMs ?? this.opts.rules.allowedLatenessMs;
  }

  /** Highest event_ts seen over the owned partitions. */
  highestEventTs(): number | null {
    let max: number | null = null;
    for (const t of this.tasks.values()) {
      const h = t.book.highestEventTs;
      if (h !== null && (max === null || h > max)) max = h;
    }
    return max;
  }

  /**
   * min over the raw topics of their highest event_ts, minus the allowed lateness. In live mode a
   * topic idle for `afterMs` stops holding the watermark back; in replay only the end of input does.
   */
  private eventTimeWatermark(task: PartitionTask, now: number): number | null {
    const idle = this.opts.idleAdvance;
    let min: number | null = null;
    for (const topic of Object.values(this.opts.layout.raw)) {
      const input = task.inputs.get(topic);
      // A topic that has sent nothing yet holds the watermark back, unless it has been idle (live mode).
      const lastSeen = input?.lastInputAt ?? task.assignedAt;
      if (idle && now - lastSeen >= idle.afterMs) continue;
      if (!input) return null;
      if (min === null || input.high < min) min = input.high;
    }
    return min === null ? null : min - this.allowedLatenessMs;
  }

  /** Never moves back; fires due timers into `out`. */
  private moveWatermark(task: PartitionTask, target: number | null, out: OutgoingRecord[], changed: Set<string>): void {
    if (target === null || (task.watermark !== null && target <= task.watermark)) return;
    task.watermark = target;
    const step = task.book.advanceTo(target);
    for (const o of step.outputs) out.push(this.outputRecord(o, task.partition));
    for (const id of step.changed) changed.add(id);
  }

  /**
   * Tick: publishes coalesced snapshots that are due and, in live mode (`afterMs` set), moves the
   * watermark of a partition without input for `afterMs` from the clock (now - allowed lateness)
   * so breaches still fire.
   */
  private async tick(afterMs: number | null): Promise<void> {
    if (this.stopping) return;
    const now = this.clock();
    for (const task of this.tasks.values()) {
      const wm = task.watermark;
      m.watermarkDelay.set({ partition: String(task.partition) }, wm === null ? 0 : Math.max(0, (now - wm) / 1000));
      const target = afterMs !== null && now - task.lastInputAt >= afterMs ? now - this.allowedLatenessMs : null;
      const advance = target !== null && (wm === null || target > wm);
      const snapshotsDue = task.dirty.size > 0 && now - task.lastSnapshotAt >= this.snapshotInterval(task);
      if (!advance && !snapshotsDue) continue;
      try {
        await task.ready;
        await this.withLock(task, async () => {
          if (task.closed) return;
          const out: OutgoingRecord[] = [];
          const changed = new Set<string>();
          if (advance) this.moveWatermark(task, target, out, changed);
          this.stateRecords(task, changed, out);
          await this.commit(task, out, []);
        });
      } catch (err) {
        this.log.error({ err, partition: task.partition }, 'tick failed');
      }
    }
  }

  /** `headers`: INPUT_TS_HEADER = when the raw record that caused the output was produced (end-to-end latency). */
  private outputRecord(o: CanonicalOutput, partition: number, headers?: Headers): OutgoingRecord {
    const kind = canonicalKindOf(o.type);
    if (!kind) throw new Error(`no topic for canonical output ${o.type}`);
    if (o.type === 'masterdeal.sla.breached') m.breaches.inc({ sla: o.sla });
    this.stats.outputs++;
    return { topic: this.opts.layout.canonical[kind], partition, key: o.master_deal_id, value: this.ports.encode(o), headers };
  }

  /** The partition's snapshot interval now: longer while it works through a backlog. */
  private snapshotInterval(task: PartitionTask): number {
    const normal = this.opts.snapshotIntervalMs ?? 500;
    let behind = 0;
    for (const lag of task.backlog.values()) behind += lag;
    if (normal === 0 || behind <= BACKLOG_RECORDS) return normal; // 0: every transaction, as asked
    return Math.max(normal, this.opts.backlogSnapshotIntervalMs ?? BACKLOG_SNAPSHOT_INTERVAL_MS);
  }

  /**
   * Changelog entries for every changed deal (always: exactly-once state), snapshots for the
   * dirty deals when the snapshot interval has passed (or `force`), plus the partition watermark.
   */
  private stateRecords(task: PartitionTask, changed: Set<string>, out: OutgoingRecord[], force = false): void {
    const { changelog, canonical } = this.opts.layout;
    for (const id of changed) if (!task.dirty.has(id)) task.dirty.set(id, undefined);
    const now = this.clock();
    const interval = this.snapshotInterval(task);
    if (task.dirty.size > 0 && (force || interval === 0 || now - task.lastSnapshotAt >= interval)) {
      for (const [id, inputTs] of task.dirty) {
        const snap = task.book.snapshot(id);
        if (!snap) continue;
        out.push({
          topic: canonical.snapshot,
          partition: task.partition,
          key: id,
          value: this.ports.encode(snap),
          headers:
            inputTs === undefined
              ? { [VERSION_HEADER]: Buffer.from(String(snap.version)) }
              : { [VERSION_HEADER]: Buffer.from(String(snap.version)), [INPUT_TS_HEADER]: Buffer.from(String(inputTs)) },
        });
        task.published.set(id, task.book.get(id)!.version);
        this.stats.outputs++;
      }
      task.dirty.clear();
      task.lastSnapshotAt = now;
    }
    for (const id of changed) {
      const state = task.book.get(id);
      if (!state) continue;
      // What savedState keeps (the encoder skips the derivation and dedupe hashes), in the compact form.
      out.push({ topic: changelog, partition: task.partition, key: id, value: encodeChangelogEntry(state, task.published.get(id) ?? null) });
    }
    if (out.length > 0 || changed.size > 0) {
      out.push({
        topic: changelog,
        partition: task.partition,
        key: WATERMARK_KEY,
        value: Buffer.from(
          JSON.stringify({ watermark: task.watermark, inputs: Object.fromEntries([...task.inputs].map(([t, i]) => [t, i.high])) }),
        ),
      });
    }
  }

  private async commit(task: PartitionTask, out: OutgoingRecord[], offsets: TopicPartitionOffset[]): Promise<void> {
    if (out.length === 0 && offsets.length === 0) return;
    const end = m.transactionSeconds.startTimer();
    await task.sink.commit(out, offsets.length > 0 ? { groupId: this.opts.groupId, offsets } : null);
    end();
    this.stats.transactions++;
    // One counter update per topic, not per record (labels are hashed on every inc).
    const perTopic = new Map<string, number>();
    for (const r of out) perTopic.set(r.topic, (perTopic.get(r.topic) ?? 0) + 1);
    for (const [topic, n] of perTopic) m.eventsOut.inc({ role: 'processor', topic }, n);
  }
}
