import { describe, expect, it } from 'vitest';
import { CodecError } from '../../processors/codec/errors.ts';
import { buildDeadLetter, readDeadLetter } from '../../processors/pipeline/deadletter.ts';
import { decodeRecord } from '../../processors/pipeline/decode.ts';
import type { ConsumedRecord } from '../../processors/kafka/ports.ts';

const source: ConsumedRecord = {
  topic: 'masterdeal.raw.crm',
  partition: 4,
  offset: '1234',
  timestamp: Date.parse('2026-03-02T09:15:00.000Z'),
  key: Buffer.from('MD-000001'),
  value: Buffer.from([1, 2, 3, 4, 5, 6]),
  headers: { trace: Buffer.from('abc') },
};

describe('dead-letter records', () => {
  it('keep the original key, value and headers byte for byte, on the source partition', () => {
    const out = buildDeadLetter(source, { reason: 'bad_magic_byte', detail: 'magic byte is 1' }, 'dlq', 0);
    expect(out.topic).toBe('dlq');
    expect(out.partition).toBe(4);
    expect(out.key).toEqual(source.key);
    expect(out.value).toEqual(source.value);
    expect(out.headers!.trace).toEqual(Buffer.from('abc'));
  });

  it('say why and where from in dlq.* headers that read back', () => {
    const failedAt = Date.parse('2026-03-03T00:00:00.000Z');
    const out = buildDeadLetter(source, { reason: 'unknown_schema_id', detail: 'schema id 999 is not registered' }, 'dlq', failedAt);
    expect(readDeadLetter(out.headers!)).toEqual({
      reason: 'unknown_schema_id',
      detail: 'schema id 999 is not registered',
      sourceTopic: 'masterdeal.raw.crm',
      sourcePartition: 4,
      sourceOffset: '1234',
      sourceTimestamp: '2026-03-02T09:15:00.000Z',
      failedAt: '2026-03-03T00:00:00.000Z',
    });
  });
});

describe('decoding a raw record', () => {
  const failWith = (code: ConstructorParameters<typeof CodecError>[0]) => async () => {
    throw new CodecError(code, `failed: ${code}`);
  };

  it.each([
    ['WIRE_BAD_MAGIC', 'bad_magic_byte'],
    ['WIRE_TOO_SHORT', 'truncated_frame'],
    ['SCHEMA_UNKNOWN_ID', 'unknown_schema_id'],
    ['AVRO_DECODE_FAILED', 'avro_decode_error'],
    ['ENVELOPE_INVALID', 'invalid_envelope'],
  ] as const)('maps codec error %s to dead-letter reason %s', async (code, reason) => {
    const d = await decodeRecord(source, failWith(code));
    expect(d).toMatchObject({ ok: false, failure: { reason, detail: `failed: ${code}` } });
  });

  it('throws a retriable failure (registry down) instead of dead-lettering the record', async () => {
    await expect(decodeRecord(source, failWith('SCHEMA_LOOKUP_FAILED'))).rejects.toThrow(/SCHEMA_LOOKUP_FAILED/);
  });

  it('dead-letters an empty value without calling the decoder', async () => {
    const d = await decodeRecord({ ...source, value: null }, failWith('WIRE_BAD_MAGIC'));
    expect(d).toMatchObject({ ok: false, failure: { reason: 'empty_value' } });
  });
});
