import { describe, expect, it } from 'vitest';
import { decodeEnvelope, decodeEnvelopeFramed, encodeEnvelopeFramed } from '../../processors/codec/envelope-avro.ts';
import { CodecError } from '../../processors/codec/errors.ts';
import { ENVELOPE_TYPE, schemaCatalog } from '../../processors/codec/schemas.ts';
import * as wire from '../../processors/codec/wire-format.ts';
import type { Envelope } from '../../processors/core/envelope.ts';
import type { ConsumedRecord } from '../../processors/kafka/ports.ts';
import { decodeAll, decodeRecord, type EnvelopeDecoder } from '../../processors/pipeline/decode.ts';

const envelopeType = schemaCatalog().type(ENVELOPE_TYPE);
const env: Envelope = {
  event_id: 'e1',
  event_type: 'crm.brief.submitted',
  source_system: 'CRM',
  master_deal_id: 'MD-1',
  event_ts: Date.parse('2026-03-02T09:00:00Z'),
  payload: { brief_id: 'B1' },
};
const rec = (value: Buffer | null, offset: number): ConsumedRecord => ({ topic: 't', partition: 0, offset: String(offset), timestamp: offset, key: null, value, headers: {} });
const records = [
  rec(encodeEnvelopeFramed(env, 7), 0),
  rec(null, 1),
  rec(Buffer.from([9, 9, 9, 9, 9, 9]), 2), // bad magic byte
  rec(encodeEnvelopeFramed({ ...env, event_id: 'e2' }, 8), 3), // unknown schema id
  rec(encodeEnvelopeFramed({ ...env, event_id: 'e3' }, 7), 4),
];

const asyncDecoder: EnvelopeDecoder = (v) => decodeEnvelopeFramed(v, (id) => (id === 7 ? envelopeType : undefined));
/** Answers at once, as a decoder that knows its writer schemas does; throws the same codec errors. */
const syncDecoder: EnvelopeDecoder = (v) => {
  const { schemaId, body } = wire.decode(v);
  if (schemaId !== 7) throw new CodecError('SCHEMA_UNKNOWN_ID', `schema id ${schemaId} is not known to the registry`);
  return decodeEnvelope(body, envelopeType);
};

describe('decodeAll', () => {
  it('given good and poison records, gives what decodeRecord gives for each, in order, with a synchronous or an asynchronous decoder', async () => {
    const expected = [];
    for (const r of records) expected.push(await decodeRecord(r, asyncDecoder));
    expect(expected.map((d) => (d.ok ? d.envelope.event_id : d.failure.reason))).toEqual(['e1', 'empty_value', 'bad_magic_byte', 'unknown_schema_id', 'e3']);
    expect(await decodeAll(records, asyncDecoder)).toEqual(expected);
    expect(await decodeAll(records, syncDecoder)).toEqual(expected);
  });

  it('given a retriable failure (registry down), throws instead of dead-lettering, whether the decoder throws or rejects', async () => {
    const down = () => new CodecError('SCHEMA_LOOKUP_FAILED', 'schema id 7: lookup failed: ECONNREFUSED');
    await expect(decodeAll(records, () => { throw down(); })).rejects.toMatchObject({ code: 'SCHEMA_LOOKUP_FAILED' });
    await expect(decodeAll(records, async () => { throw down(); })).rejects.toMatchObject({ code: 'SCHEMA_LOOKUP_FAILED' });
  });
});
