import { CodecError } from './errors.ts';

/**
 * Confluent wire format: magic byte 0, schema id as 4-byte big-endian unsigned int, then the
 * Avro binary body. Pure: no registry, no Avro.
 */
export const MAGIC_BYTE = 0;
export const HEADER_LENGTH = 5;

export interface Framed {
  schemaId: number;
  body: Buffer;
}

export function encode(schemaId: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
  writeHeader(out, schemaId);
  out.set(body, HEADER_LENGTH);
  return out;
}

/** Writes the header into the first HEADER_LENGTH bytes of `out` (for writers that put the body after it themselves). */
export function writeHeader(out: Buffer, schemaId: number): void {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0xffffffff) {
    throw new RangeError(`schema id must be a 32-bit unsigned integer, got ${schemaId}`);
  }
  out.writeUInt8(MAGIC_BYTE, 0);
  out.writeUInt32BE(schemaId, 1);
}

/** The body is a view into `buf` (no copy). */
export function decode(buf: Uint8Array): Framed {
  if (buf.length < HEADER_LENGTH) {
    throw new CodecError('WIRE_TOO_SHORT', `record of ${buf.length} bytes is shorter than the ${HEADER_LENGTH}-byte Confluent header`);
  }
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  if (b[0] !== MAGIC_BYTE) {
    throw new CodecError('WIRE_BAD_MAGIC', `magic byte is ${b[0]}, expected ${MAGIC_BYTE} (not Confluent-framed Avro)`);
  }
  return { schemaId: b.readUInt32BE(1), body: b.subarray(HEADER_LENGTH) };
}
