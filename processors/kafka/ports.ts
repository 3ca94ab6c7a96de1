/**
 * The pipeline's view of a log: records in, records out, transactions. kafkajs is
 * unmaintained, so only ./kafkajs.ts knows it; everything in pipeline/ uses these types.
 */
export type Headers = Record<string, Buffer>;

export interface ConsumedRecord {
  topic: string;
  partition: number;
  /** Offsets are decimal strings (64-bit). */
  offset: string;
  /** Broker timestamp, epoch ms. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
}

export interface OutgoingRecord {
  topic: string;
  /** Set to pin a partition (changelog/canonical reuse the input partition number). */
  partition?: number;
  key: Buffer | string | null;
  value: Buffer | null;
  headers?: Headers;
}

export interface RecordBatch {
  topic: string;
  partition: number;
  records: ConsumedRecord[];
  /** Partition high watermark when fetched, for lag. */
  highWatermark: string;
}

export interface BatchContext {
  /** False once the source is stopping or the batch's partition was revoked. */
  isActive(): boolean;
  heartbeat(): Promise<void>;
}

/** Partition numbers this member now owns (co-partitioned: the same for every topic). */
export type AssignmentListener = (owned: number[]) => Promise<void> | void;

export interface EventSource {
  /**
   * Deliver batches until stop(). `onBatch` resolving means the batch is durable; the source
   * then moves past it. Offsets are committed by whoever made the batch durable
   * (`commitOffsets` below, or a transaction).
   */
  run(onBatch: (batch: RecordBatch, ctx: BatchContext) => Promise<void>): Promise<void>;
  onAssignment(listener: AssignmentListener): void;
  /** Commit consumed offsets (next offset to read) outside a transaction. */
  commitOffsets(offsets: TopicPartitionOffset[]): Promise<void>;
  stop(): Promise<void>;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** The next offset to consume. */
  offset: string;
}

export interface EventSink {
  send(records: OutgoingRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** One transactional producer: records plus consumed offsets commit atomically or not at all. */
export interface TransactionalSink {
  commit(records: OutgoingRecord[], consumed: { groupId: string; offsets: TopicPartitionOffset[] } | null): Promise<void>;
  close(): Promise<void>;
}

/** The producer was fenced by a newer instance with the same transactionalId: the partition moved on. */
export class FencedError extends Error {
  constructor(transactionalId: string, cause: unknown) {
    super(`producer ${transactionalId} was fenced by a newer instance`, { cause });
  }
}
