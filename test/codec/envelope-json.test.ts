import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../processors/core/envelope.ts';
import { envelopeToJson, parseEnvelopeLine, validateEnvelope } from '../../processors/codec/envelope-json.ts';
import { EXAMPLES, example } from './fixtures.ts';

const reasonOf = (value: unknown) => {
  const r = validateEnvelope(value);
  if (r.ok) throw new Error('expected the envelope to be rejected');
  return r.reason;
};

describe('validateEnvelope', () => {
  it('has an example for every SPEC event type', () => {
    expect(EXAMPLES.map((e) => e.event_type).sort()).toEqual([...EVENT_TYPES].sort());
  });

  it.each(EXAMPLES.map((e) => [e.event_type, e] as const))('accepts a valid %s and gives back the same JSON form', (_, json) => {
    const r = validateEnvelope(json);
    if (!r.ok) throw new Error(r.reason);
    expect(r.envelope.event_ts).toBe(Date.parse(json.event_ts));
    expect(envelopeToJson(r.envelope)).toEqual(json);
  });

  it('takes event_ts as epoch ms and as an ISO string with an offset', () => {
    const ms = { ...example('crm.brief.submitted'), event_ts: 1772442900123 };
    const offset = { ...example('crm.brief.submitted'), event_ts: '2026-03-02T12:15:00.123+03:00' };
    expect(validateEnvelope(ms)).toMatchObject({ ok: true, envelope: { event_ts: 1772442900123 } });
    expect(validateEnvelope(offset)).toMatchObject({ ok: true, envelope: { event_ts: 1772442900123 } });
  });

  it('fills optional payload fields with their defaults', () => {
    const nps = example('okk.nps.submitted');
    delete nps.payload.comment;
    expect(validateEnvelope(nps)).toMatchObject({ ok: true, envelope: { payload: { survey_id: 'SV-1', score: 9, comment: null } } });
  });

  it('accepts the Avro-JSON wrapped payload form', () => {
    const brief = example('crm.brief.submitted');
    const wrapped = { ...brief, payload: { 'ru.masterdeal.events.BriefSubmitted': brief.payload } };
    expect(validateEnvelope(wrapped)).toMatchObject({ ok: true, envelope: { payload: { brief_id: 'BR-1' } } });
  });

  it('rejects a non-object', () => {
    expect(reasonOf([1, 2])).toBe('envelope: must be a JSON object');
    expect(reasonOf(null)).toBe('envelope: must be a JSON object');
  });

  it('rejects an unknown event_type', () => {
    expect(reasonOf({ ...example('crm.brief.submitted'), event_type: 'crm.brief.exploded' })).toBe('event_type: unknown event type "crm.brief.exploded"');
  });

  it.each(['event_id', 'master_deal_id', 'source_system', 'event_type', 'event_ts', 'payload'])('rejects a missing %s', (field) => {
    const e = example('crm.brief.submitted') as unknown as Record<string, unknown>;
    delete e[field];
    expect(reasonOf(e)).toBe(`${field}: missing required field`);
  });

  it('rejects empty ids', () => {
    expect(reasonOf({ ...example('crm.brief.submitted'), master_deal_id: '' })).toBe('master_deal_id: must be a non-empty string');
    expect(reasonOf({ ...example('crm.brief.submitted'), event_id: 42 })).toBe('event_id: must be a non-empty string');
    const brief = example('crm.brief.submitted');
    brief.payload.brief_id = '';
    expect(reasonOf(brief)).toBe('payload.brief_id: must be a non-empty string');
  });

  it.each(['yesterday', '2026-02-30T10:00:00Z', '2026-03-02T25:00:00Z', '2026-03-02T09:15:00', '', 1.5, true])(
    'rejects the unparsable timestamp %j',
    (ts) => {
      expect(reasonOf({ ...example('crm.brief.submitted'), event_ts: ts })).toMatch(/^event_ts: unparsable timestamp/);
    },
  );

  it('rejects a payload missing a required field', () => {
    const brief = example('crm.brief.submitted');
    delete brief.payload.brief_id;
    expect(reasonOf(brief)).toBe('payload.brief_id: missing required field');
    const created = example('crm.deal.created');
    delete created.payload.budget_rub;
    expect(reasonOf(created)).toBe('payload.budget_rub: missing required field');
  });

  it('rejects payload fields of the wrong type, unknown fields and bad enum symbols', () => {
    const q = example('crm.lead.qualified');
    q.payload.bant_need = 'yes';
    expect(reasonOf(q)).toBe('payload.bant_need: must be a boolean, got "yes"');
    const brief = example('crm.brief.submitted');
    brief.payload.extra = 1;
    expect(reasonOf(brief)).toBe('payload.extra: unknown field');
    const created = example('crm.deal.created');
    created.payload.client_type = 'reseller';
    expect(reasonOf(created)).toBe('payload.client_type: must be one of direct, agency, got "reseller"');
    expect(reasonOf({ ...example('crm.brief.submitted'), payload: 'BR-1' })).toBe('payload: must be an object, got "BR-1"');
  });

  it('rejects out-of-range scores', () => {
    const q = example('crm.lead.qualified');
    q.payload.icp_score = 101;
    expect(reasonOf(q)).toBe('payload.icp_score: out of range: must be between 0 and 100, got 101');
    const nps = example('okk.nps.submitted');
    nps.payload.score = -1;
    expect(reasonOf(nps)).toBe('payload.score: out of range: must be between 0 and 10, got -1');
    nps.payload.score = 7.5;
    expect(reasonOf(nps)).toBe('payload.score: must be an integer, got 7.5');
  });

  it('rejects money with sub-kopeck precision and negative amounts', () => {
    const offer = example('crm.offer.approved');
    offer.payload.amount_rub = 10.001;
    expect(reasonOf(offer)).toBe('payload.amount_rub: must be an amount in roubles with at most 2 decimals, got 10.001');
    offer.payload.amount_rub = -5;
    expect(reasonOf(offer)).toBe('payload.amount_rub: out of range: must be >= 0, got -5');
  });

  it('rejects an unknown envelope field', () => {
    expect(reasonOf({ ...example('crm.brief.submitted'), partition: 3 })).toBe('partition: unknown field');
  });
});

describe('parseEnvelopeLine', () => {
  it('parses a valid NDJSON line', () => {
    const r = parseEnvelopeLine(`${JSON.stringify(example('dcm.closeout.completed'))}\r\n`);
    expect(r).toMatchObject({ ok: true, envelope: { event_type: 'dcm.closeout.completed', payload: {} } });
  });

  it('reports malformed JSON', () => {
    const r = parseEnvelopeLine('{"event_id": "e1", "event_type": ');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/^malformed JSON: /);
  });

  it('reports an empty line', () => {
    expect(parseEnvelopeLine('  ')).toEqual({ ok: false, reason: 'empty line' });
  });
});

describe('money in the JSON form', () => {
  it('accepts large amounts with 2 decimals (regression: epsilon check rejected 9-digit budgets)', () => {
    const plan = example('media.mediaplan.ready');
    for (const amount of [123456789.91, 987654321.07, 4503599627370.49, 0.07, 1e9]) {
      plan.payload.planned_budget_rub = amount;
      const r = validateEnvelope(plan);
      expect(r.ok, String(amount)).toBe(true);
      expect(r.ok && r.envelope.payload.planned_budget_rub).toBe(amount);
    }
  });
});
