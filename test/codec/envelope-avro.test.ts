import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import {
  decodeCanonical,
  decodeCanonicalFramed,
  decodeEnvelope,
  decodeEnvelopeFramed,
  encodeCanonical,
  encodeCanonicalFramed,
  encodeEnvelope,
  encodeEnvelopeFramed,
  envelopeToAvro,
  type CanonicalJson,
} from '../../processors/codec/envelope-avro.ts';
import { envelopeToJson, validateEnvelope } from '../../processors/codec/envelope-json.ts';
import { CodecError } from '../../processors/codec/errors.ts';
import { CANONICAL_TYPES, ENVELOPE_TYPE, schemaCatalog } from '../../processors/codec/schemas.ts';
import { EXAMPLES, example } from './fixtures.ts';

const catalog = schemaCatalog();
const envelopeType = catalog.type(ENVELOPE_TYPE);
const valid = (json: unknown) => {
  const r = validateEnvelope(json);
  if (!r.ok) throw new Error(r.reason);
  return r.envelope;
};

async function rejection(p: Promise<unknown>): Promise<CodecError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CodecError) return err;
    throw err;
  }
  throw new Error('expected a CodecError');
}

describe('envelope <-> Avro', () => {
  it.each(EXAMPLES.map((e) => [e.event_type, e] as const))('%s round-trips JSON -> Envelope -> Avro buffer -> Envelope unchanged', (_, json) => {
    const envelope = valid(json);
    const body = encodeEnvelope(envelope);
    expect(envelopeType.isValid(envelopeType.fromBuffer(body))).toBe(true);
    const back = decodeEnvelope(body);
    expect(back).toEqual(envelope);
    expect(envelopeToJson(back)).toEqual(json);
  });

  it('stores money as long kopecks and dates as days since epoch', () => {
    const value = envelopeToAvro(valid(example('mediapush.campaign.kpi')));
    expect(value.payload['ru.masterdeal.events.CampaignKpi']).toMatchObject({
      spend_kopecks: 28750025,
      plan_spend_kopecks: 27600000,
      date: Date.UTC(2026, 2, 5) / 86_400_000,
    });
  });

  it('rejects an Avro record whose payload branch does not match event_type', () => {
    const value = envelopeToAvro(valid(example('crm.brief.submitted')));
    const body = envelopeType.toBuffer({ ...value, event_type: 'crm.offer.approved' });
    expect(() => decodeEnvelope(body)).toThrow(/does not match event_type crm.offer.approved/);
  });

  it('rejects valid Avro that breaks SPEC ranges (nps score 11)', () => {
    const value = envelopeToAvro(valid(example('okk.nps.submitted')));
    (value.payload['ru.masterdeal.events.NpsSubmitted'] as { score: number }).score = 11;
    const body = envelopeType.toBuffer(value);
    expect(() => decodeEnvelope(body)).toThrow(expect.objectContaining({ code: 'ENVELOPE_INVALID', message: expect.stringMatching(/^payload.score: out of range/) }));
  });

  it('reports garbage bodies as AVRO_DECODE_FAILED', () => {
    expect(() => decodeEnvelope(Buffer.from([1, 2, 3]))).toThrow(expect.objectContaining({ code: 'AVRO_DECODE_FAILED' }));
  });

  it('decodes a Confluent-framed record with the writer schema from the lookup', async () => {
    const envelope = valid(example('crm.deal.created'));
    const framed = encodeEnvelopeFramed(envelope, 17);
    expect(framed[0]).toBe(0);
    expect(framed.readUInt32BE(1)).toBe(17);
    const seen: number[] = [];
    const back = await decodeEnvelopeFramed(framed, (id) => (seen.push(id), id === 17 ? envelopeType : undefined));
    expect(back).toEqual(envelope);
    expect(seen).toEqual([17]);
  });

  it('reports an unknown schema id (not retriable) and a failing lookup (retriable)', async () => {
    const framed = encodeEnvelopeFramed(valid(example('crm.brief.submitted')), 99);
    const unknown = await rejection(decodeEnvelopeFramed(framed, () => undefined));
    expect(unknown).toMatchObject({ code: 'SCHEMA_UNKNOWN_ID', retriable: false });
    const down = await rejection(
      decodeEnvelopeFramed(framed, async () => {
        throw new Error('ECONNREFUSED');
      }),
    );
    expect(down).toMatchObject({ code: 'SCHEMA_LOOKUP_FAILED', retriable: true });
  });

  it('reads records written with a BACKWARD-compatible v2 envelope (new optional field with default) and v2 reads v1 records', () => {
    const v1Schema = catalog.selfContained(ENVELOPE_TYPE);
    const v2Schema = {
      ...v1Schema,
      fields: [...(v1Schema.fields ?? []), { name: 'trace_id', type: ['null', 'string'], default: null, doc: 'Tracing id (v2).' }],
    };
    const v2 = avro.Type.forSchema(v2Schema as avro.Schema, { wrapUnions: 'auto' });
    const envelope = valid(example('crm.offer.approved'));
    const v2Body = v2.toBuffer({ ...envelopeToAvro(envelope), trace_id: 'tr-1' });
    // v1 reader (ours) reading a v2 writer: the new field is skipped.
    expect(decodeEnvelope(v2Body, v2)).toEqual(envelope);
    // BACKWARD: the v2 reader reads v1 data, filling the default.
    const v1Body = encodeEnvelope(envelope);
    expect(v2.fromBuffer(v1Body, v2.createResolver(envelopeType))).toMatchObject({ event_id: envelope.event_id, trace_id: null });
  });

  it('reads records written before a new event type was added to the payload union', () => {
    const v1Schema = catalog.selfContained(ENVELOPE_TYPE);
    const fields = (v1Schema.fields ?? []).map((f) =>
      f.name === 'payload' ? { ...f, type: (f.type as unknown[]).filter((b) => !(typeof b === 'object' && (b as { name: string }).name === 'NpsSubmitted')) } : f,
    );
    const older = avro.Type.forSchema({ ...v1Schema, fields } as avro.Schema, { wrapUnions: 'auto' });
    const envelope = valid(example('dcm.invoice.issued'));
    const body = older.toBuffer(envelopeToAvro(envelope));
    expect(decodeEnvelope(body, older)).toEqual(envelope);
  });
});

const CANONICAL_EXAMPLES: CanonicalJson[] = [
  { type: 'masterdeal.stage.changed', event_id: 'sc-1', master_deal_id: 'MD-000123', from_stage: 'contracting', to_stage: 'offer_ready', event_ts: '2026-03-04T10:00:00.000Z', cause_event_id: 'evt-7', compensation: true },
  {
    type: 'masterdeal.sla.updated',
    event_id: 'su-1',
    master_deal_id: 'MD-000123',
    sla: 'lead_to_brief',
    status: 'breached',
    breached: true,
    event_ts: '2026-03-02T19:15:00.000Z',
    cause_event_id: 'evt-3',
    started_at: '2026-03-02T09:15:00.000Z',
    stopped_at: '2026-03-02T19:15:00.000Z',
    duration_ms: 36_000_000,
    target_ms: 28_800_000,
    deadline_at: '2026-03-02T17:15:00.000Z',
  },
  { type: 'masterdeal.sla.breached', event_id: 'sb-1', master_deal_id: 'MD-000123', sla: 'lead_to_brief', started_at: '2026-03-02T09:15:00.000Z', deadline_at: '2026-03-02T17:15:00.000Z', target_ms: 28_800_000, stopped_at: null },
  { type: 'masterdeal.closed', event_id: 'cl-1', master_deal_id: 'MD-000123', stage: 'closed', event_ts: '2026-04-20T12:00:00.000Z', cause_event_id: 'evt-10' },
  {
    type: 'masterdeal.snapshot',
    master_deal_id: 'MD-000123',
    version: 3,
    stage: 'briefed',
    stage_since: '2026-03-02T19:15:00.000Z',
    gates: {
      has_brief: { value: true, event_ts: '2026-03-02T19:15:00.000Z', event_id: 'evt-3' },
      mediaplan_ready: { value: false, event_ts: null, event_id: null },
    },
    facts: { deal_created: { value: true, event_ts: '2026-03-02T09:15:00.000Z', event_id: 'evt-1' } },
    sla: {
      lead_to_brief: {
        started_at: '2026-03-02T09:15:00.000Z',
        stopped_at: '2026-03-02T19:15:00.000Z',
        duration_ms: 36_000_000,
        target_ms: 28_800_000,
        breached: true,
        status: 'breached',
        deadline_at: '2026-03-02T17:15:00.000Z',
        start_event_id: 'evt-1',
        stop_event_id: 'evt-3',
        stopped_by_terminal: false,
      },
      offer_to_contract: {
        started_at: null,
        stopped_at: null,
        duration_ms: null,
        target_ms: 259_200_000,
        breached: false,
        status: 'not_started',
        deadline_at: null,
        start_event_id: null,
        stop_event_id: null,
        stopped_by_terminal: false,
      },
    },
    timeline: [{ from_stage: 'draft', to_stage: 'briefed', event_ts: '2026-03-02T19:15:00.000Z', cause_event_id: 'evt-3', compensation: false }],
    event_count: 3,
    first_event_ts: '2026-03-02T09:15:00.000Z',
    last_event_ts: '2026-03-02T19:15:00.000Z',
    updated_at: '2026-03-02T19:15:00.000Z',
  },
];

describe('canonical outputs <-> Avro', () => {
  it('has a schema for every canonical output type', () => {
    expect(new Set(CANONICAL_EXAMPLES.map((c) => c.type))).toEqual(new Set(Object.keys(CANONICAL_TYPES)));
  });

  it.each(CANONICAL_EXAMPLES.map((c, i) => [`${c.type} #${i}`, c] as const))('%s round-trips through Avro unchanged', async (_, output) => {
    expect(decodeCanonical(output.type, encodeCanonical(output))).toEqual(output);
    const type = catalog.type(CANONICAL_TYPES[output.type]);
    expect(await decodeCanonicalFramed(output.type, encodeCanonicalFramed(output, 5), () => type)).toEqual(output);
  });

  it('accepts epoch-ms timestamps and fills defaults', () => {
    const out = decodeCanonical(
      'masterdeal.sla.breached',
      encodeCanonical({ type: 'masterdeal.sla.breached', event_id: 'b', master_deal_id: 'MD-1', sla: 'offer_to_contract', started_at: 0, deadline_at: 259_200_000, target_ms: 259_200_000 }),
    );
    expect(out).toEqual({
      type: 'masterdeal.sla.breached',
      event_id: 'b',
      master_deal_id: 'MD-1',
      sla: 'offer_to_contract',
      started_at: '1970-01-01T00:00:00.000Z',
      deadline_at: '1970-01-04T00:00:00.000Z',
      target_ms: 259_200_000,
      stopped_at: null,
    });
  });

  it('names the failing path of an invalid output', () => {
    const bad = { ...CANONICAL_EXAMPLES[4], gates: { has_brief: { value: 'yes' } } } as CanonicalJson;
    expect(() => encodeCanonical(bad)).toThrow(expect.objectContaining({ code: 'CANONICAL_INVALID', message: 'gates.has_brief.value: must be a boolean, got "yes"' }));
    expect(() => encodeCanonical({ type: 'masterdeal.nope' } as unknown as CanonicalJson)).toThrow(expect.objectContaining({ code: 'CANONICAL_INVALID' }));
  });
});
