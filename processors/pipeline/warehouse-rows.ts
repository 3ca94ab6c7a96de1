import { canonicalId, toClickHouseTime } from '../clickhouse/load.ts';
import type { CanonicalJson } from '../codec/envelope-avro.ts';
import type { Envelope } from '../core/envelope.ts';
import type { ConsumedRecord } from '../kafka/ports.ts';

/**
 * Rows of the warehouse tables (clickhouse/README.md) from decoded records, pure. Ids are
 * deterministic, so a redelivered record produces the identical row and collapses under FINAL.
 */
export const TABLES = { raw: 'raw_events', canonical: 'canonical_events', snapshots: 'deal_snapshots' } as const;

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

export function canonicalEventRow(body: CanonicalJson, r: ConsumedRecord): Record<string, unknown> {
  let time: string | undefined;
  for (const f of TIME_FIELDS) if ((time = chTime(body[f])) !== undefined) break;
  time ??= toClickHouseTime(r.timestamp);
  return {
    canonical_id: canonicalId(body),
    type: body.type,
    master_deal_id: body.master_deal_id,
    event_ts: time,
    body: JSON.stringify(body),
    ...where(r),
  };
}

export function snapshotRow(body: CanonicalJson, r: ConsumedRecord): Record<string, unknown> {
  const header = r.headers['masterdeal.version']?.toString();
  const version = typeof body.version === 'number' ? body.version : Number(header ?? 0);
  return {
    master_deal_id: body.master_deal_id,
    version,
    stage: String(body.stage ?? ''),
    updated_at: chTime(body.last_event_ts) ?? toClickHouseTime(r.timestamp),
    body: JSON.stringify(body),
  };
}
