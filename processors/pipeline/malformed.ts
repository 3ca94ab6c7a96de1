import { ENVELOPE_TYPE, type SchemaCatalog } from '../codec/schemas.ts';
import { envelopeToAvro } from '../codec/envelope-avro.ts';
import * as wire from '../codec/wire-format.ts';
import type { Envelope } from '../core/envelope.ts';

/**
 * Malformed raw records for simulation and tests, pure: each kind breaks exactly one layer
 * of ingest (framing, registry, Avro, envelope rules), so its dead-letter reason is known.
 */
export const MALFORMED_KINDS = ['bad_magic_byte', 'unknown_schema_id', 'avro_decode_error', 'invalid_envelope'] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

/** A schema id no registry hands out in practice. */
export const UNKNOWN_SCHEMA_ID = 0x7ffffff0;

export function malformedValue(kind: MalformedKind, env: Envelope, schemaId: number, catalog: SchemaCatalog, random: () => number): Buffer {
  const type = catalog.type(ENVELOPE_TYPE);
  const good = type.toBuffer(envelopeToAvro(env, catalog));
  switch (kind) {
    case 'bad_magic_byte': {
      const framed = wire.encode(schemaId, good);
      framed[0] = 1 + Math.floor(random() * 254);
      return framed;
    }
    case 'unknown_schema_id':
      return wire.encode(UNKNOWN_SCHEMA_ID, good);
    case 'avro_decode_error': {
      // A truncated body: the Avro reader runs out of bytes mid-record.
      return wire.encode(schemaId, good.subarray(0, Math.max(1, Math.floor(good.length / 3))));
    }
    case 'invalid_envelope': {
      // Well-formed Avro that breaks the envelope rules (empty event_id, empty deal id).
      const value = { ...envelopeToAvro(env, catalog), event_id: '', master_deal_id: '' };
      return wire.encode(schemaId, type.toBuffer(value));
    }
    default: {
      const never: never = kind;
      throw new Error(`unknown malformed kind ${String(never)}`);
    }
  }
}
