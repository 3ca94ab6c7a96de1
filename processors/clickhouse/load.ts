import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ClickHouseClient } from '@clickhouse/client';
import { isoUtc } from '../core/iso-time.ts';

/**
 * Loads `masterdeal fold` input and output into the warehouse tables of clickhouse/README.md
 * (raw_events, canonical_events, deal_snapshots), the same rows the live ClickHouse sink writes.
 * Used by tests and benchmarks to build the marts without Kafka, and to compare live results
 * with an offline fold. Re-loading the same files is harmless: every table is a
 * ReplacingMergeTree keyed on a deterministic id.
 */

/** NDJSON as one string, or as lines (e.g. from `ndjsonFileLines`). */
export type NdjsonInput = string | Iterable<string> | AsyncIterable<string>;

export interface LoadOptions {
  database?: string;
  /** Rows per INSERT (ClickHouse likes 10k-100k). */
  batchSize?: number;
  onProgress?: (table: string, rowsSoFar: number) => void;
}

export interface LoadResult {
  rawEvents: number;
  canonicalEvents: number;
  dealSnapshots: number;
  /** Lines that were not valid JSON objects of the expected shape, with the reason; nothing else is dropped. */
  rejected: Array<{ input: 'envelopes' | 'fold-output'; line: number; reason: string }>;
}

/** Lines of a file, opened lazily: a readline interface created early would drop lines read before iteration. */
export async function* ndjsonFileLines(path: string): AsyncIterable<string> {
  yield* createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
}

async function* lines(input: NdjsonInput): AsyncIterable<string> {
  if (typeof input === 'string') {
    let start = 0;
    while (start < input.length) {
      let end = input.indexOf('\n', start);
      if (end < 0) end = input.length;
      yield input.slice(start, end);
      start = end + 1;
    }
    return;
  }
  yield* input as AsyncIterable<string>;
}

/** ClickHouse DateTime64(3) text in UTC, from ISO-8601 or epoch milliseconds. */
export function toClickHouseTime(value: unknown): string | undefined {
  let ms: number;
  if (typeof value === 'number' && Number.isFinite(value)) ms = value;
  else if (typeof value === 'string' && value !== '') ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  else return undefined;
  if (!Number.isFinite(ms)) return undefined;
  const iso = isoUtc(ms);
  return iso.length === 24 ? `${iso.slice(0, 10)} ${iso.slice(11, 23)}` : iso.replace('T', ' ').replace('Z', '');
}

function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`)
    .join(',')}}`;
}

/**
 * Deterministic id of a canonical output: its own `canonical_id`/`event_id` when it carries one,
 * else SHA-256 (first 32 hex digits) of the key-sorted JSON. Same output -> same id, so a
 * re-published or re-loaded output collapses in canonical_events.
 */
export function canonicalId(body: Record<string, unknown>): string {
  for (const key of ['canonical_id', 'event_id'] as const) {
    if (typeof body[key] === 'string' && body[key] !== '') return body[key] as string;
  }
  return createHash('sha256').update(stableStringify(body)).digest('hex').slice(0, 32);
}

/** Business time of a canonical output: the first timestamp field it has, in this order. */
const CANONICAL_TIME_FIELDS = ['event_ts', 'deadline_at', 'stopped_at', 'started_at', 'closed_at', 'updated_at'] as const;

class BatchWriter {
  private rows: Record<string, unknown>[] = [];
  count = 0;
  constructor(
    private readonly client: ClickHouseClient,
    private readonly table: string,
    private readonly batchSize: number,
    private readonly onProgress?: (table: string, rows: number) => void,
  ) {}
  async add(row: Record<string, unknown>): Promise<void> {
    this.rows.push(row);
    if (this.rows.length >= this.batchSize) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.rows.length === 0) return;
    const values = this.rows;
    this.rows = [];
    await this.client.insert({ table: this.table, values, format: 'JSONEachRow' });
    this.count += values.length;
    this.onProgress?.(this.table.split('.').pop()!, this.count);
  }
}

function parseObject(line: string): Record<string, unknown> | string {
  try {
    const value = JSON.parse(line) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
    return value as Record<string, unknown>;
  } catch (error) {
    return `invalid JSON: ${(error as Error).message}`;
  }
}

export async function loadFoldOutput(
  client: ClickHouseClient,
  envelopesNdjson: NdjsonInput,
  foldOutputNdjson: NdjsonInput,
  options: LoadOptions = {},
): Promise<LoadResult> {
  const database = options.database ?? 'masterdeal';
  const batchSize = options.batchSize ?? 50_000;
  const rejected: LoadResult['rejected'] = [];
  const raw = new BatchWriter(client, `${database}.raw_events`, batchSize, options.onProgress);
  // Per deal: distinct events (the snapshot's version) and latest business time (its updated_at).
  const dealEvents = new Map<string, { ids: Set<string>; lastTs: string }>();

  let lineNo = 0;
  for await (const line of lines(envelopesNdjson)) {
    lineNo += 1;
    if (line.trim() === '') continue;
    const parsed = parseObject(line);
    if (typeof parsed === 'string') {
      rejected.push({ input: 'envelopes', line: lineNo, reason: parsed });
      continue;
    }
    const { event_id, event_type, source_system, master_deal_id, payload } = parsed;
    const eventTs = toClickHouseTime(parsed.event_ts);
    const missing = (['event_id', 'event_type', 'master_deal_id'] as const).filter((k) => typeof parsed[k] !== 'string' || parsed[k] === '');
    if (missing.length > 0 || eventTs === undefined) {
      rejected.push({ input: 'envelopes', line: lineNo, reason: missing.length > 0 ? `missing ${missing.join(', ')}` : 'invalid event_ts' });
      continue;
    }
    const deal = dealEvents.get(master_deal_id as string) ?? { ids: new Set<string>(), lastTs: eventTs };
    deal.ids.add(event_id as string);
    if (eventTs > deal.lastTs) deal.lastTs = eventTs;
    dealEvents.set(master_deal_id as string, deal);
    await raw.add({
      event_id,
      event_type,
      source_system: typeof source_system === 'string' ? source_system : '',
      master_deal_id,
      event_ts: eventTs,
      payload: JSON.stringify(payload ?? {}),
    });
  }
  await raw.flush();

  const canonical = new BatchWriter(client, `${database}.canonical_events`, batchSize, options.onProgress);
  const snapshots = new BatchWriter(client, `${database}.deal_snapshots`, batchSize, options.onProgress);
  lineNo = 0;
  for await (const line of lines(foldOutputNdjson)) {
    lineNo += 1;
    if (line.trim() === '') continue;
    const body = parseObject(line);
    if (typeof body === 'string') {
      rejected.push({ input: 'fold-output', line: lineNo, reason: body });
      continue;
    }
    const { type, master_deal_id } = body;
    if (typeof type !== 'string' || typeof master_deal_id !== 'string') {
      rejected.push({ input: 'fold-output', line: lineNo, reason: 'missing type or master_deal_id' });
      continue;
    }
    const deal = dealEvents.get(master_deal_id);
    if (type === 'masterdeal.snapshot') {
      const version = typeof body.version === 'number' ? body.version : (deal?.ids.size ?? 0);
      const updatedAt = toClickHouseTime(body.updated_at) ?? deal?.lastTs ?? toClickHouseTime(0);
      await snapshots.add({ master_deal_id, version, stage: String(body.stage ?? ''), updated_at: updatedAt, body: line.trim() });
      continue;
    }
    const timeField = CANONICAL_TIME_FIELDS.find((f) => toClickHouseTime(body[f]) !== undefined);
    const eventTs = timeField ? toClickHouseTime(body[timeField]) : deal?.lastTs;
    if (eventTs === undefined) {
      rejected.push({ input: 'fold-output', line: lineNo, reason: `no timestamp field (${CANONICAL_TIME_FIELDS.join(', ')})` });
      continue;
    }
    await canonical.add({ canonical_id: canonicalId(body), type, master_deal_id, event_ts: eventTs, body: line.trim() });
  }
  await canonical.flush();
  await snapshots.flush();
  return { rawEvents: raw.count, canonicalEvents: canonical.count, dealSnapshots: snapshots.count, rejected };
}
