import { describe, expect, it } from 'vitest';
import { decodeEnvelopeFramed, encodeEnvelopeFramed } from '../../processors/codec/envelope-avro.ts';
import { ENVELOPE_TYPE, schemaCatalog } from '../../processors/codec/schemas.ts';
import { MALFORMED_KINDS, malformedValue } from '../../processors/pipeline/malformed.ts';
import { decodeRecord } from '../../processors/pipeline/decode.ts';

const env = {
  event_id: 'evt-1',
  event_type: 'crm.brief.submitted',
  source_system: 'CRM',
  master_deal_id: 'MD-000001',
  event_ts: Date.parse('2026-03-02T09:15:00.000Z'),
  payload: { brief_id: 'BR-1' },
};

describe('malformed raw records', () => {
  const catalog = schemaCatalog();
  const lookup = (id: number) => (id === 7 ? catalog.type(ENVELOPE_TYPE) : undefined);
  const decode = (v: Buffer) => decodeEnvelopeFramed(v, lookup);

  it('the well-formed record decodes (control)', async () => {
    const d = await decodeRecord({ topic: 't', partition: 0, offset: '0', timestamp: 0, key: null, value: encodeEnvelopeFramed(env, 7), headers: {} }, decode);
    expect(d.ok).toBe(true);
  });

  it.each(MALFORMED_KINDS)('a %s record is dead-lettered with that reason', async (kind) => {
    const value = malformedValue(kind, env, 7, catalog, () => 0.5);
    const d = await decodeRecord({ topic: 't', partition: 0, offset: '0', timestamp: 0, key: null, value, headers: {} }, decode);
    expect(d).toMatchObject({ ok: false, failure: { reason: kind } });
  });
});
