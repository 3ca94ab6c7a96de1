import type { ConsumedRecord, OutgoingRecord } from '../kafka/ports.ts';

/**
 * Dead-letter records, pure. A poison record keeps its original key, value and headers byte
 * for byte; `dlq.*` headers say why and where it came from, so it can be inspected and re-sent.
 */
export const DEAD_LETTER_REASONS = [
  'empty_value',
  'bad_magic_byte',
  'truncated_frame',
  'unknown_schema_id',
  'avro_decode_error',
  'invalid_envelope',
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

export interface DecodeFailure {
  reason: DeadLetterReason;
  detail: string;
}

export const DLQ_HEADER_PREFIX = 'dlq.';

export function buildDeadLetter(
  source: ConsumedRecord,
  failure: DecodeFailure,
  deadLetterTopic: string,
  failedAt: number,
): OutgoingRecord {
  const headers = { ...source.headers };
  const meta: Record<string, string> = {
    reason: failure.reason,
    detail: failure.detail.slice(0, 2000),
    'source.topic': source.topic,
    'source.partition': String(source.partition),
    'source.offset': source.offset,
    'source.timestamp': new Date(source.timestamp).toISOString(),
    'failed_at': new Date(failedAt).toISOString(),
  };
  for (const [k, v] of Object.entries(meta)) headers[DLQ_HEADER_PREFIX + k] = Buffer.from(v);
  return { topic: deadLetterTopic, partition: source.partition, key: source.key, value: source.value, headers };
}

export interface DeadLetterInfo {
  reason: string;
  detail: string;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  sourceTimestamp: string;
  failedAt: string;
}

/** Reads the `dlq.*` headers back (tests, `masterdeal` tooling). */
export function readDeadLetter(headers: Record<string, Buffer>): DeadLetterInfo {
  const h = (k: string) => headers[DLQ_HEADER_PREFIX + k]?.toString() ?? '';
  return {
    reason: h('reason'),
    detail: h('detail'),
    sourceTopic: h('source.topic'),
    sourcePartition: Number(h('source.partition')),
    sourceOffset: h('source.offset'),
    sourceTimestamp: h('source.timestamp'),
    failedAt: h('failed_at'),
  };
}
