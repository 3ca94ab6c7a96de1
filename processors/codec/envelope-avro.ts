import type avro from 'avsc';
import type { Envelope } from '../core/envelope.ts';
import { ID_FIELDS } from './envelope-json.ts';
import { CodecError } from './errors.ts';
import { avroToJson, avroValueSurelyValid, isPlainObject, jsonToAvro, JsonFormError, parseTimestamp } from './json-form.ts';
import { CANONICAL_TYPES, ENVELOPE_TYPE, schemaCatalog, type CanonicalType, type SchemaCatalog } from './schemas.ts';
import * as wire from './wire-format.ts';

/**
 * Envelopes and canonical outputs as Avro: the avsc value, the binary body, and the
 * Confluent-framed record. Decoding re-validates (ranges, non-empty ids), so a record that
 * is valid Avro but breaks SPEC rules is rejected the same way as bad JSON.
 */

/** avsc value of ru.masterdeal.events.DomainEvent; the payload union is wrapped by record name. */
export interface DomainEventAvro {
  event_id: string;
  event_type: string;
  source_system: string;
  master_deal_id: string;
  event_ts: number;
  payload: Record<string, Record<string, unknown>>;
}

/** Writer schema lookup by registry id (an adapter over the schema registry). */
export type WriterSchemaLookup = (schemaId: number) => avro.Type | undefined | Promise<avro.Type | undefined>;

function invalid(code: 'ENVELOPE_INVALID' | 'CANONICAL_INVALID', err: unknown): never {
  if (err instanceof JsonFormError) throw new CodecError(code, err.message, { cause: err });
  throw err;
}

export function envelopeToAvro(envelope: Envelope, catalog: SchemaCatalog = schemaCatalog()): DomainEventAvro {
  const payloadType = catalog.payloadTypeOf(envelope.event_type);
  if (!payloadType) throw new CodecError('ENVELOPE_INVALID', `event_type: unknown event type "${envelope.event_type}"`);
  let payload: Record<string, unknown>;
  try {
    payload = jsonToAvro(catalog, catalog.definition(payloadType), envelope.payload, 'payload') as Record<string, unknown>;
  } catch (err) {
    invalid('ENVELOPE_INVALID', err);
  }
  return {
    event_id: envelope.event_id,
    event_type: envelope.event_type,
    source_system: envelope.source_system,
    master_deal_id: envelope.master_deal_id,
    event_ts: envelope.event_ts,
    payload: { [payloadType]: payload },
  };
}

/**
 * The checks `validateEnvelope` makes of a JSON envelope, applied to the decoded Avro value
 * without its ISO and payload round trips (the payload is converted once, then range-checked
 * by converting it back): ingest was a third of the processor's decode time in those round trips.
 * Same envelope as `validateEnvelope(envelopeToJson(...))` (test/codec/envelope-avro-direct.test.ts).
 */
export function avroToEnvelope(value: DomainEventAvro, catalog: SchemaCatalog = schemaCatalog()): Envelope {
  const expected = catalog.payloadTypeOf(value.event_type);
  if (!expected) throw new CodecError('ENVELOPE_INVALID', `event_type: unknown event type "${value.event_type}"`);
  const branch = isPlainObject(value.payload) ? Object.keys(value.payload)[0] : undefined;
  if (branch !== expected) {
    throw new CodecError('ENVELOPE_INVALID', `payload: branch ${branch ?? '(none)'} does not match event_type ${value.event_type} (expects ${expected})`);
  }
  for (const key of ID_FIELDS) {
    if (typeof value[key] !== 'string' || value[key] === '') throw new CodecError('ENVELOPE_INVALID', `${key}: must be a non-empty string`);
  }
  if (parseTimestamp(value.event_ts) === undefined) throw new CodecError('ENVELOPE_INVALID', `event_ts: ${value.event_ts} is not a representable epoch-ms timestamp`);
  const schema = catalog.definition(expected);
  let payload: Record<string, unknown>;
  try {
    payload = avroToJson(catalog, schema, value.payload[expected]) as Record<string, unknown>;
    // Avro types say nothing of SPEC ranges (nps 0..10, amounts in whole kopecks): converting back
    // checks them. A quick check on the decoded value settles the usual case; when it is not sure,
    // the conversion runs and gives the exact error.
    if (!avroValueSurelyValid(catalog, schema, value.payload[expected])) jsonToAvro(catalog, schema, payload, 'payload');
  } catch (err) {
    invalid('ENVELOPE_INVALID', err);
  }
  return {
    event_id: value.event_id,
    event_type: value.event_type,
    source_system: value.source_system,
    master_deal_id: value.master_deal_id,
    event_ts: value.event_ts,
    payload,
  };
}

/** Avro binary body (no framing) of an envelope, with the local (latest) schema. */
export function encodeEnvelope(envelope: Envelope, catalog: SchemaCatalog = schemaCatalog()): Buffer {
  const value = envelopeToAvro(envelope, catalog);
  try {
    return catalog.type(ENVELOPE_TYPE).toBuffer(value);
  } catch (err) {
    throw encodeFailed(`${envelope.event_type} ${envelope.event_id}`, err);
  }
}

/**
 * Avro body → envelope. `writer` is the schema the producer used (from the registry); when it
 * differs from ours, avsc schema resolution reads it (BACKWARD evolution: new fields with defaults).
 */
export function decodeEnvelope(body: Buffer, writer?: avro.Type, catalog: SchemaCatalog = schemaCatalog()): Envelope {
  return avroToEnvelope(readBody(catalog.type(ENVELOPE_TYPE), body, writer) as DomainEventAvro, catalog);
}

export function encodeEnvelopeFramed(envelope: Envelope, schemaId: number, catalog?: SchemaCatalog): Buffer {
  return wire.encode(schemaId, encodeEnvelope(envelope, catalog));
}

export async function decodeEnvelopeFramed(buf: Buffer, lookup: WriterSchemaLookup, catalog?: SchemaCatalog): Promise<Envelope> {
  const { schemaId, body } = wire.decode(buf);
  return decodeEnvelope(body, await writerType(schemaId, lookup), catalog);
}

// ---- canonical outputs -------------------------------------------------------------------

/** A canonical output in its JSON form (SPEC §6): `type`, `master_deal_id`, ISO timestamps. */
export interface CanonicalJson {
  type: CanonicalType;
  master_deal_id: string;
  [field: string]: unknown;
}

export function isCanonicalType(type: unknown): type is CanonicalType {
  return typeof type === 'string' && type in CANONICAL_TYPES;
}

function canonicalTypeOf(output: { type?: unknown }): CanonicalType {
  if (!isCanonicalType(output.type)) throw new CodecError('CANONICAL_INVALID', `type: unknown canonical output type ${JSON.stringify(output.type)}`);
  return output.type;
}

/** JSON form → avsc value of the record for its `type` (timestamps ISO or epoch ms → epoch ms). */
export function canonicalToAvro(output: CanonicalJson, catalog: SchemaCatalog = schemaCatalog()): Record<string, unknown> {
  const type = canonicalTypeOf(output);
  const { type: _omit, ...fields } = output;
  try {
    return jsonToAvro(catalog, catalog.definition(CANONICAL_TYPES[type]), fields, '') as Record<string, unknown>;
  } catch (err) {
    invalid('CANONICAL_INVALID', err);
  }
}

export function avroToCanonical(type: CanonicalType, value: unknown, catalog: SchemaCatalog = schemaCatalog()): CanonicalJson {
  const fields = avroToJson(catalog, catalog.definition(CANONICAL_TYPES[type]), value) as Record<string, unknown>;
  return { type, ...fields } as CanonicalJson;
}

export function encodeCanonical(output: CanonicalJson, catalog: SchemaCatalog = schemaCatalog()): Buffer {
  const value = canonicalToAvro(output, catalog);
  try {
    return catalog.type(CANONICAL_TYPES[output.type]).toBuffer(value);
  } catch (err) {
    throw encodeFailed(output.type, err);
  }
}

/**
 * The engine's outputs straight to the Avro body, without the JSON form: their shape already is
 * the canonical records' (epoch-ms `timestamp-millis` longs, nullable unions as plain values, maps
 * as objects), and avsc still checks every field's type while writing. Byte-identical to
 * `encodeCanonical(toJson(output))` (test/codec/envelope-avro-direct.test.ts); the ISO round trip
 * was a fifth of the processor's CPU.
 */
export function encodeCanonicalOutput(output: { type: CanonicalType }, catalog: SchemaCatalog = schemaCatalog()): Buffer {
  const type = canonicalTypeOf(output);
  try {
    return catalog.type(CANONICAL_TYPES[type]).toBuffer(output);
  } catch (err) {
    throw encodeFailed(type, err);
  }
}

/**
 * `wire.encode(schemaId, encodeCanonicalOutput(output))` in one allocation and one copy: the body
 * is written after the header in a scratch buffer (avsc's toBuffer zero-fills a buffer of its own,
 * which the framing then copied again; the processor frames about two records per input event).
 */
export function encodeCanonicalOutputFramed(output: { type: CanonicalType }, schemaId: number, catalog: SchemaCatalog = schemaCatalog()): Buffer {
  const type = catalog.type(CANONICAL_TYPES[canonicalTypeOf(output)]);
  for (;;) {
    let end: number;
    try {
      end = type.encode(output, scratch, wire.HEADER_LENGTH);
    } catch (err) {
      throw encodeFailed(output.type, err);
    }
    if (end < 0) {
      // `end` is minus the bytes missing: grow and write again.
      scratch = Buffer.allocUnsafe(Math.max(2 * scratch.length, scratch.length - end));
      continue;
    }
    const out = Buffer.allocUnsafe(end);
    scratch.copy(out, 0, 0, end);
    wire.writeHeader(out, schemaId);
    return out;
  }
}

let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Avro body → the avsc value with `type` added: the engine's own shape (epoch-ms timestamps), for
 * readers that need no JSON form (the sink renders it with the core's `toJson`).
 */
export function decodeCanonicalValue(type: CanonicalType, body: Buffer, writer?: avro.Type, catalog: SchemaCatalog = schemaCatalog()): { type: CanonicalType } & Record<string, unknown> {
  const value = readBody(catalog.type(CANONICAL_TYPES[type]), body, writer) as Record<string, unknown>;
  return { type, ...value };
}

export async function decodeCanonicalValueFramed(type: CanonicalType, buf: Buffer, lookup: WriterSchemaLookup, catalog?: SchemaCatalog) {
  const { schemaId, body } = wire.decode(buf);
  return decodeCanonicalValue(type, body, await writerType(schemaId, lookup), catalog);
}

export function decodeCanonical(type: CanonicalType, body: Buffer, writer?: avro.Type, catalog: SchemaCatalog = schemaCatalog()): CanonicalJson {
  return avroToCanonical(type, readBody(catalog.type(CANONICAL_TYPES[type]), body, writer), catalog);
}

export function encodeCanonicalFramed(output: CanonicalJson, schemaId: number, catalog?: SchemaCatalog): Buffer {
  return wire.encode(schemaId, encodeCanonical(output, catalog));
}

export async function decodeCanonicalFramed(
  type: CanonicalType,
  buf: Buffer,
  lookup: WriterSchemaLookup,
  catalog?: SchemaCatalog,
): Promise<CanonicalJson> {
  const { schemaId, body } = wire.decode(buf);
  return decodeCanonical(type, body, await writerType(schemaId, lookup), catalog);
}

// ---- shared ------------------------------------------------------------------------------

type AvroResolver = ReturnType<avro.Type["createResolver"]>;

const resolvers = new WeakMap<avro.Type, WeakMap<avro.Type, AvroResolver>>();

/** Resolvers are costly to build; cache one per (reader, writer) pair. */
function resolver(reader: avro.Type, writer: avro.Type): AvroResolver {
  let byWriter = resolvers.get(reader);
  if (!byWriter) resolvers.set(reader, (byWriter = new WeakMap()));
  let r = byWriter.get(writer);
  if (!r) {
    try {
      r = reader.createResolver(writer);
    } catch (err) {
      throw new CodecError('AVRO_DECODE_FAILED', `writer schema cannot be read with ${reader.name ?? 'the reader schema'}: ${(err as Error).message}`, { cause: err });
    }
    byWriter.set(writer, r);
  }
  return r;
}

function readBody(reader: avro.Type, body: Buffer, writer?: avro.Type): unknown {
  try {
    if (!writer || writer === reader) return reader.fromBuffer(body);
    return reader.fromBuffer(body, resolver(reader, writer));
  } catch (err) {
    if (err instanceof CodecError) throw err;
    throw new CodecError('AVRO_DECODE_FAILED', `undecodable Avro body (${body.length} bytes): ${(err as Error).message}`, { cause: err });
  }
}

async function writerType(schemaId: number, lookup: WriterSchemaLookup): Promise<avro.Type> {
  let type: avro.Type | undefined;
  try {
    type = await lookup(schemaId);
  } catch (err) {
    throw new CodecError('SCHEMA_LOOKUP_FAILED', `schema id ${schemaId}: lookup failed: ${(err as Error).message}`, { cause: err });
  }
  if (!type) throw new CodecError('SCHEMA_UNKNOWN_ID', `schema id ${schemaId} is not known to the registry`);
  return type;
}

/** avsc refused a value (a field of the wrong type): the error the encoders throw, naming what. */
function encodeFailed(what: string, err: unknown): CodecError {
  return new CodecError('AVRO_ENCODE_FAILED', `cannot encode ${what}: ${(err as Error).message}`, { cause: err });
}
