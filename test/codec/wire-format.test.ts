import { describe, expect, it } from 'vitest';
import { isCodecError } from '../../processors/codec/errors.ts';
import { decode, encode } from '../../processors/codec/wire-format.ts';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (isCodecError(err)) return { code: err.code, retriable: err.retriable, message: err.message };
    throw err;
  }
  throw new Error('expected a CodecError');
};

describe('Confluent wire format', () => {
  it('frames a body behind magic byte 0 and the big-endian schema id', () => {
    const framed = encode(0x01020304, Buffer.from([0xaa, 0xbb]));
    expect([...framed]).toEqual([0, 1, 2, 3, 4, 0xaa, 0xbb]);
    expect(decode(framed)).toEqual({ schemaId: 0x01020304, body: Buffer.from([0xaa, 0xbb]) });
  });

  it('round-trips the largest schema id and an empty body', () => {
    expect(decode(encode(0xffffffff, Buffer.alloc(0)))).toEqual({ schemaId: 0xffffffff, body: Buffer.alloc(0) });
  });

  it('decodes a Uint8Array as well as a Buffer', () => {
    expect(decode(new Uint8Array([0, 0, 0, 0, 7, 42])).schemaId).toBe(7);
  });

  it('rejects an empty record as too short', () => {
    expect(codeOf(() => decode(Buffer.alloc(0)))).toMatchObject({ code: 'WIRE_TOO_SHORT', retriable: false });
  });

  it('rejects a 4-byte record as too short', () => {
    expect(codeOf(() => decode(Buffer.from([0, 0, 0, 1])))).toMatchObject({ code: 'WIRE_TOO_SHORT' });
  });

  it('rejects magic byte 1', () => {
    const r = codeOf(() => decode(Buffer.from([1, 0, 0, 0, 1, 2])));
    expect(r).toMatchObject({ code: 'WIRE_BAD_MAGIC', retriable: false });
    expect(r.message).toMatch(/magic byte is 1/);
  });

  it('rejects plain JSON sent to an Avro topic', () => {
    expect(codeOf(() => decode(Buffer.from('{"event_id":"x"}')))).toMatchObject({ code: 'WIRE_BAD_MAGIC' });
  });

  it('refuses schema ids that do not fit 4 bytes', () => {
    expect(() => encode(-1, Buffer.alloc(0))).toThrow(RangeError);
    expect(() => encode(2 ** 32, Buffer.alloc(0))).toThrow(RangeError);
  });
});
