import { createHash } from 'node:crypto';
import type { TopicPartitionOffset } from '../kafka/ports.ts';

/**
 * Pure accumulation of warehouse rows between flushes. Each flush inserts one batch per table,
 * tagged with a deduplication token built from the source offset ranges it covers, so a batch
 * re-sent after a failure is the identical batch with the identical token. Offsets are handed
 * out for commit only after every table of the flush was acknowledged.
 */
export interface OffsetRange {
  topic: string;
  partition: number;
  first: bigint;
  last: bigint;
}

export function rangeToken(r: OffsetRange): string {
  return `${r.topic}:${r.partition}:${r.first}-${r.last}`;
}

/** `topic:partition:first-last` for one range; several ranges are joined, and hashed when long. */
export function dedupToken(table: string, ranges: OffsetRange[]): string {
  const parts = [...ranges].sort((a, b) => rangeToken(a).localeCompare(rangeToken(b))).map(rangeToken);
  const joined = parts.join(',');
  const body = joined.length <= 200 ? joined : `sha256:${createHash('sha256').update(joined).digest('hex')}`;
  return `${table}/${body}`;
}

/** Where a table's rows collect until a flush: an array, or e.g. an encoded body (TsvBody). */
export interface RowList<Row> {
  push(row: Row): void;
  readonly length: number;
}

export interface TableBatch<Rows> {
  table: string;
  rows: Rows;
  token: string;
}

export interface Flush<Rows> {
  batches: TableBatch<Rows>[];
  /** Next offset to consume per source partition, to commit once all batches are durable. */
  commit: TopicPartitionOffset[];
  records: number;
}

export class RowBatcher<Row, Rows extends RowList<Row> = Row[]> {
  private rows = new Map<string, Rows>();
  private rangesByTable = new Map<string, Map<string, OffsetRange>>();
  private consumed = new Map<string, OffsetRange>();
  private count = 0;
  private openedAt: number | undefined;

  /** `newRows` makes a table's row list for the next flush (default: an array). */
  constructor(private readonly newRows: () => Rows = () => [] as unknown as Rows) {}

  /** Records of one source partition, in offset order; rows may be empty (skipped records still count as consumed). */
  add(source: OffsetRange, rowsByTable: Record<string, Row[]>, now: number): void {
    this.openedAt ??= now;
    const key = `${source.topic}:${source.partition}`;
    this.consumed.set(key, mergeRange(this.consumed.get(key), source));
    for (const [table, rows] of Object.entries(rowsByTable)) {
      if (rows.length === 0) continue;
      let list = this.rows.get(table);
      if (!list) this.rows.set(table, (list = this.newRows()));
      for (const r of rows) list.push(r);
      const ranges = this.rangesByTable.get(table) ?? new Map<string, OffsetRange>();
      ranges.set(key, mergeRange(ranges.get(key), source));
      this.rangesByTable.set(table, ranges);
      this.count += rows.length;
    }
  }

  get size(): number {
    return this.count;
  }

  get isEmpty(): boolean {
    return this.consumed.size === 0;
  }

  due(now: number, maxRows: number, maxAgeMs: number): boolean {
    if (this.isEmpty) return false;
    return this.count >= maxRows || now - (this.openedAt ?? now) >= maxAgeMs;
  }

  /** Hands out everything buffered and starts afresh. */
  take(): Flush<Rows> {
    const batches = [...this.rows].map(([table, rows]) => ({
      table,
      rows,
      token: dedupToken(table, [...this.rangesByTable.get(table)!.values()]),
    }));
    const commit = [...this.consumed.values()].map((r) => ({ topic: r.topic, partition: r.partition, offset: String(r.last + 1n) }));
    const flush = { batches, commit, records: this.count };
    this.rows = new Map();
    this.rangesByTable = new Map();
    this.consumed = new Map();
    this.count = 0;
    this.openedAt = undefined;
    return flush;
  }
}

function mergeRange(prev: OffsetRange | undefined, next: OffsetRange): OffsetRange {
  if (!prev) return { ...next };
  return { ...prev, first: prev.first < next.first ? prev.first : next.first, last: prev.last > next.last ? prev.last : next.last };
}
