import { isCodecError, type CodecErrorCode } from '../codec/errors.ts';
import type { Envelope } from '../core/envelope.ts';
import type { ConsumedRecord } from '../kafka/ports.ts';
import type { DeadLetterReason, DecodeFailure } from './deadletter.ts';

/**
 * Ingest step: Confluent-framed Avro bytes → validated envelope, or a dead-letter reason.
 * Retriable failures (registry unreachable) are thrown, so the batch is retried rather than
 * dead-lettered: a record is poison only when the bytes themselves are wrong.
 */
export type EnvelopeDecoder = (value: Buffer) => Envelope | Promise<Envelope>;

export type Decoded =
  | { ok: true; record: ConsumedRecord; envelope: Envelope }
  | { ok: false; record: ConsumedRecord; failure: DecodeFailure };

const REASON_BY_CODE: Partial<Record<CodecErrorCode, DeadLetterReason>> = {
  WIRE_TOO_SHORT: 'truncated_frame',
  WIRE_BAD_MAGIC: 'bad_magic_byte',
  SCHEMA_UNKNOWN_ID: 'unknown_schema_id',
  SCHEMA_UNKNOWN_TYPE: 'avro_decode_error',
  AVRO_DECODE_FAILED: 'avro_decode_error',
  ENVELOPE_INVALID: 'invalid_envelope',
};

export function failureOf(err: unknown): DecodeFailure | undefined {
  if (!isCodecError(err) || err.retriable) return undefined;
  const reason = REASON_BY_CODE[err.code];
  return reason ? { reason, detail: err.message } : undefined;
}

/**
 * One record: synchronous when the decoder answers synchronously (its writer schema known), so a
 * batch loop awaits nothing per record then; a promise otherwise.
 */
export function decodeRecordNow(record: ConsumedRecord, decode: EnvelopeDecoder): Decoded | Promise<Decoded> {
  if (record.value === null || record.value.length === 0) {
    return { ok: false, record, failure: { reason: 'empty_value', detail: 'record has no value (tombstone or empty)' } };
  }
  try {
    const envelope = decode(record.value);
    if (envelope instanceof Promise) return envelope.then((e): Decoded => ({ ok: true, record, envelope: e }), (err) => rejected(record, err));
    return { ok: true, record, envelope };
  } catch (err) {
    return rejected(record, err);
  }
}

/** A dead-letter verdict for a decoding error, or the error rethrown when it is retriable. */
function rejected(record: ConsumedRecord, err: unknown): Decoded {
  const failure = failureOf(err);
  if (!failure) throw err;
  return { ok: false, record, failure };
}

export async function decodeRecord(record: ConsumedRecord, decode: EnvelopeDecoder): Promise<Decoded> {
  return decodeRecordNow(record, decode);
}

/** decodeRecord over a batch, in order, awaiting only the records whose decoder answered with a promise. */
export async function decodeAll(records: ConsumedRecord[], decode: EnvelopeDecoder): Promise<Decoded[]> {
  const out: Decoded[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const d = decodeRecordNow(records[i]!, decode);
    out[i] = d instanceof Promise ? await d : d;
  }
  return out;
}
