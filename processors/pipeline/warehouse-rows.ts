import { canonicalId, toClickHouseTime } from '../clickhouse/load.ts';
import { escapeJsonTsv, escapeTsv } from '../clickhouse/tsv.ts';
import type { CanonicalJson } from '../codec/envelope-avro.ts';
import type { CanonicalType } from '../codec/schemas.ts';
import { toJson, type CanonicalOutput } from '../core/canonical.ts';
import type { Envelope } from '../core/envelope.ts';
import type { ConsumedRecord } from '../kafka/ports.ts';
import { isoUtc } from '../core/iso-time.ts';
import { canonicalJsonRenderer } from './canonical-json.ts';

/**
 * Rows of the warehouse tables (clickhouse/README.md) from decoded records, pure. Ids are
 * deterministic, so a redelivered record produces the identical row and collapses under FINAL.
 *
 * Two forms of the same row: an object (`*Row`, for readers and tools) and the sink's TabSeparated
 * line of the table's COLUMNS (`*Line`), written straight from the values without the object and
 * the generic encoder; `toTabSeparated([row])` is byte-identical (test/pipeline/warehouse-rows.test.ts).
 */
export const TABLES = { raw: 'raw_events', canonical: 'canonical_events', snapshots: 'deal_snapshots' } as const;
export type Table = (typeof TABLES)[keyof typeof TABLES];

/** Column order of each table's rows and lines (the keys of the row objects, in order). */
export const COLUMNS: Record<Table, readonly string[]> = {
  raw_events: ['event_id', 'event_type', 'source_system', 'master_deal_id', 'event_ts', 'payload', 'kafka_topic', 'kafka_partition', 'kafka_offset'],
  canonical_events: ['canonical_id', 'type', 'master_deal_id', 'event_ts', 'body', 'kafka_topic', 'kafka_partition', 'kafka_offset'],
  deal_snapshots: ['master_deal_id', 'version', 'stage', 'updated_at', 'body'],
};

const where = (r: ConsumedRecord) => ({ kafka_topic: r.topic, kafka_partition: r.partition, kafka_offset: r.offset });

export function rawEventRow(env: Envelope, r: ConsumedRecord): Record<string, unknown> {
  return {
    event_id: env.event_id,
    event_type: env.event_type,
    source_system: env.source_system,
    master_deal_id: env.master_deal_id,
    event_ts: toClickHouseTime(env.event_ts),
    payload: JSON.stringify(env.payload),
    ...where(r),
  };
}

const TIME_FIELDS = ['event_ts', 'deadline_at', 'stopped_at', 'started_at', 'closed_at', 'updated_at'] as const;

/** `YYYY-MM-DDTHH:MM:SS.mmmZ`, the form toJson writes: rewritten as text without a Date round trip. */
const CANONICAL_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function chTime(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length === 24 && CANONICAL_ISO.test(value)) return `${value.slice(0, 10)} ${value.slice(11, 23)}`;
  return toClickHouseTime(value);
}

/** A field of a canonical event's JSON form. */
type JsonField = (field: string) => unknown;

/** Business time of a canonical event: its first time field present, else the record's timestamp. */
function canonicalTime(field: JsonField, r: ConsumedRecord): string | undefined {
  for (const f of TIME_FIELDS) {
    const time = chTime(field(f));
    if (time !== undefined) return time;
  }
  return toClickHouseTime(r.timestamp);
}

export function canonicalEventRow(body: CanonicalJson, r: ConsumedRecord): Record<string, unknown> {
  return {
    canonical_id: canonicalId(body),
    type: body.type,
    master_deal_id: body.master_deal_id,
    event_ts: canonicalTime((f) => body[f], r),
    body: JSON.stringify(body),
    ...where(r),
  };
}

function snapshotVersion(version: unknown, r: ConsumedRecord): number {
  if (typeof version === 'number') return version;
  return Number(r.headers['masterdeal.version']?.toString() ?? 0);
}

const snapshotTime = (field: JsonField, r: ConsumedRecord) => chTime(field('last_event_ts')) ?? toClickHouseTime(r.timestamp);

export function snapshotRow(body: CanonicalJson, r: ConsumedRecord): Record<string, unknown> {
  return {
    master_deal_id: body.master_deal_id,
    version: snapshotVersion(body.version, r),
    stage: String(body.stage ?? ''),
    updated_at: snapshotTime((f) => body[f], r),
    body: JSON.stringify(body),
  };
}

// ---- TabSeparated lines (what toTabSeparated writes for the rows above) -------------------

/** A string column (NULL when absent, as toTabSeparated writes undefined). */
const text = (s: string | undefined): string => (s === undefined ? '\\N' : escapeTsv(s));
/** JSON text (JSON.stringify's output, undefined for nothing to write). */
const json = (s: string | undefined): string => (s === undefined ? '\\N' : escapeJsonTsv(s));

function num(v: number, column: string): string {
  if (!Number.isFinite(v)) throw new Error(`column ${column}: ${v} is not a finite number`);
  return String(v);
}

const whereLine = (r: ConsumedRecord) => `${escapeTsv(r.topic)}\t${num(r.partition, 'kafka_partition')}\t${escapeTsv(r.offset)}`;

export function rawEventLine(env: Envelope, r: ConsumedRecord): string {
  return `${text(env.event_id)}\t${text(env.event_type)}\t${text(env.source_system)}\t${text(env.master_deal_id)}\t${text(toClickHouseTime(env.event_ts))}\t${json(JSON.stringify(env.payload))}\t${whereLine(r)}`;
}

export function canonicalEventLine(body: CanonicalJson, r: ConsumedRecord): string {
  return `${text(canonicalId(body))}\t${text(body.type)}\t${text(body.master_deal_id)}\t${text(canonicalTime((f) => body[f], r))}\t${json(JSON.stringify(body))}\t${whereLine(r)}`;
}

export function snapshotLine(body: CanonicalJson, r: ConsumedRecord): string {
  return `${text(body.master_deal_id)}\t${num(snapshotVersion(body.version, r), 'version')}\t${escapeTsv(String(body.stage ?? ''))}\t${text(snapshotTime((f) => body[f], r))}\t${json(JSON.stringify(body))}`;
}

// ---- lines straight from decoded canonical records (the engine's shape, epoch ms) ---------

const nonEmpty = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** A canonical record as decoded from Avro: the engine's output shape, timestamps in epoch ms. */
export type CanonicalValue = { type: CanonicalType } & Record<string, unknown>;

/**
 * The line of a decoded canonical record (a canonical event's or a snapshot's), the same as
 * `canonicalEventLine` / `snapshotLine` of its JSON form `toJson(value)`, without making that form:
 * the body is rendered from the value (canonical-json.ts), the columns read from the value with
 * timestamps formatted as the JSON form has them (test/pipeline/warehouse-rows.test.ts).
 */
export function canonicalValueLine(value: CanonicalValue, r: ConsumedRecord): string {
  const renderer = canonicalJsonRenderer(value.type);
  const id = nonEmpty(value.canonical_id) ?? nonEmpty(value.event_id); // as canonicalId picks it
  // No renderer, or an id that only the hash of the JSON form gives: through toJson.
  if (!renderer || (value.type !== 'masterdeal.snapshot' && id === undefined)) {
    const body = toJson(value as unknown as CanonicalOutput) as CanonicalJson;
    return value.type === 'masterdeal.snapshot' ? snapshotLine(body, r) : canonicalEventLine(body, r);
  }
  const jsonForm: JsonField = (f) => {
    const v = value[f];
    return renderer.timestampFields.has(f) && typeof v === 'number' ? isoUtc(v) : v;
  };
  // Escaping scans the text, which flattens the rope the renderer built: writing the line into
  // the body then is one copy (a rope written as is measured slower: 24 vs 18 µs/event, bench:sink).
  const body = json(renderer.render(value));
  if (value.type === 'masterdeal.snapshot') {
    const version = snapshotVersion(value.version, r);
    return `${text(value.master_deal_id as string | undefined)}\t${num(version, 'version')}\t${escapeTsv(String(value.stage ?? ''))}\t${text(snapshotTime(jsonForm, r))}\t${body}`;
  }
  return `${text(id)}\t${text(value.type)}\t${text(value.master_deal_id as string | undefined)}\t${text(canonicalTime(jsonForm, r))}\t${body}\t${whereLine(r)}`;
}
