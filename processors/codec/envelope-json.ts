import type { Envelope } from '../core/envelope.ts';
import { avroToJson, formatTimestamp, isPlainObject, jsonToAvro, JsonFormError, parseTimestamp } from './json-form.ts';
import { schemaCatalog, type SchemaCatalog } from './schemas.ts';

/**
 * The JSON form of an envelope (SPEC §2) — what NDJSON files, the HTTP intake and `fold` read.
 * `event_ts` is an ISO-8601 string (input may also be epoch ms); the payload uses SPEC's field
 * names (`budget_rub` in roubles, `date` as YYYY-MM-DD).
 */
export interface EnvelopeJson {
  event_id: string;
  event_type: string;
  source_system: string;
  master_deal_id: string;
  event_ts: string;
  payload: Record<string, unknown>;
}

export type ValidationResult = { ok: true; envelope: Envelope } | { ok: false; reason: string };

const ENVELOPE_FIELDS = ['event_id', 'event_type', 'source_system', 'master_deal_id', 'event_ts', 'payload'] as const;
/** Envelope fields that are ids: join keys downstream, so they must be non-empty strings. */
export const ID_FIELDS = ['event_id', 'source_system', 'master_deal_id'] as const;

const fail = (reason: string): ValidationResult => ({ ok: false, reason });

/**
 * Checks a parsed JSON value against the envelope and the Avro payload record of its event type.
 * On success the payload is normalised: schema field order, defaults filled in (e.g. `comment: null`).
 * The reason names the failing path, e.g. `payload.brief_id: missing required field`.
 */
export function validateEnvelope(value: unknown, catalog: SchemaCatalog = schemaCatalog()): ValidationResult {
  if (!isPlainObject(value)) return fail('envelope: must be a JSON object');
  for (const key of ENVELOPE_FIELDS) {
    if (value[key] === undefined) return fail(`${key}: missing required field`);
  }
  for (const key of Object.keys(value)) {
    if (!(ENVELOPE_FIELDS as readonly string[]).includes(key)) return fail(`${key}: unknown field`);
  }
  for (const key of ID_FIELDS) {
    if (typeof value[key] !== 'string' || value[key] === '') return fail(`${key}: must be a non-empty string`);
  }
  const eventType = value.event_type;
  if (typeof eventType !== 'string') return fail('event_type: must be a string');
  const payloadType = catalog.payloadTypeOf(eventType);
  if (!payloadType) return fail(`event_type: unknown event type "${eventType}"`);
  const eventTs = parseTimestamp(value.event_ts);
  if (eventTs === undefined) {
    return fail(`event_ts: unparsable timestamp ${JSON.stringify(value.event_ts)} (expected ISO-8601 with zone, or epoch ms)`);
  }
  const payload = unwrapPayload(value.payload, payloadType);
  const schema = catalog.definition(payloadType);
  let normalised: unknown;
  try {
    normalised = avroToJson(catalog, schema, jsonToAvro(catalog, schema, payload, 'payload'));
  } catch (err) {
    if (err instanceof JsonFormError) return fail(err.message);
    throw err;
  }
  return {
    ok: true,
    envelope: {
      event_id: value.event_id as string,
      event_type: eventType,
      source_system: value.source_system as string,
      master_deal_id: value.master_deal_id as string,
      event_ts: eventTs,
      payload: normalised as Record<string, unknown>,
    },
  };
}

/** Accepts Avro-JSON's wrapped union form `{ "<payload record full name>": {...} }` as well. */
function unwrapPayload(payload: unknown, fullName: string): unknown {
  if (isPlainObject(payload)) {
    const keys = Object.keys(payload);
    if (keys.length === 1 && keys[0] === fullName) return payload[fullName];
  }
  return payload;
}

/** One NDJSON line → validated envelope; malformed JSON is a reason like any other. */
export function parseEnvelopeLine(line: string, catalog?: SchemaCatalog): ValidationResult {
  const text = line.trim();
  if (text === '') return fail('empty line');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return fail(`malformed JSON: ${(err as Error).message}`);
  }
  return validateEnvelope(value, catalog);
}

/** Envelope → its JSON form (ISO timestamp, field order of SPEC §2). */
export function envelopeToJson(envelope: Envelope): EnvelopeJson {
  return {
    event_id: envelope.event_id,
    event_type: envelope.event_type,
    source_system: envelope.source_system,
    master_deal_id: envelope.master_deal_id,
    event_ts: formatTimestamp(envelope.event_ts),
    payload: envelope.payload,
  };
}
