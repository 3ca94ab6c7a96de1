import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEnvelopeFramed } from '../../processors/codec/envelope-avro.ts';
import { decode as decodeFrame } from '../../processors/codec/wire-format.ts';
import { readPartitionsToEnd } from '../../processors/kafka/kafkajs.ts';
import type { ConsumedRecord } from '../../processors/kafka/ports.ts';
import { dealEnvelopes, fold, loadDeals, syntheticDeals, type EnvelopeJson } from '../api/fixtures.ts';
import { startLiveApi, type LiveApi } from '../api/live-stack.ts';

// The API over real HTTP against the real stack: ClickHouse through the project's endpoint,
// intake through the schema registry into Kafka. Own topic prefix and database per run.
let api: LiveApi;
let envelopes: EnvelopeJson[];
let snapshots: Array<{ master_deal_id: string; stage: string; gates: Record<string, { event_id: string | null }> }>;

beforeAll(async () => {
  api = await startLiveApi('apiit', { bodyLimit: 256 * 1024, maxBatch: 200 });
  envelopes = syntheticDeals(60, 11);
  snapshots = (await fold(envelopes)).map((l) => JSON.parse(l)).filter((o) => o.type === 'masterdeal.snapshot');
  await loadDeals(api.client, api.database, envelopes);
});
afterAll(async () => api?.stop());

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${api.url}${path}`, { headers });
const post = (body: string, headers: Record<string, string> = {}) =>
  fetch(`${api.url}/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': api.apiKey, ...headers }, body });

async function rawRecords(domain: 'crm' | 'mediapush' | 'docflow' | 'dcm' | 'okk'): Promise<ConsumedRecord[]> {
  const out: ConsumedRecord[] = [];
  await readPartitionsToEnd(api.ctx.kafka, api.ctx.layout.raw[domain], [0, 1], (r) => void out.push(r));
  return out;
}

describe('reads over HTTP from the ClickHouse endpoint', () => {
  it('GET /deals/{id} answers why a deal is in its stage from its gates and their events', async () => {
    const snap = snapshots.find((s) => s.stage === 'offer_ready')!;
    const res = await get(`/deals/${snap.master_deal_id}`);
    expect(res.status).toBe(200);
    const d = await res.json();
    expect(d.stage).toBe('offer_ready');
    expect(d.why.because.map((g: { gate: string; event_id: string }) => [g.gate, g.event_id])).toEqual([
      ['mediaplan_ready', snap.gates.mediaplan_ready.event_id],
      ['offer_approved', snap.gates.offer_approved.event_id],
    ]);
    expect(d.why.because.map((g: { source_system: string }) => g.source_system)).toEqual(['MediaPush', 'CRM']);
    expect(d.sla.find((s: { sla: string }) => s.sla === 'offer_to_contract').deadline_at).not.toBeNull();
  });

  it('GET /deals pages and filters; GET /pipeline/summary counts every deal once', async () => {
    const page = await (await get('/deals?page_size=25&page=3')).json();
    expect(page).toMatchObject({ total: 60, pages: 3, page: 3 });
    expect(page.items).toHaveLength(10);
    const summary = await (await get('/pipeline/summary')).json();
    expect(summary.totals.deals).toBe(60);
    expect(summary.stages.reduce((n: number, s: { current: number }) => n + s.current, 0)).toBe(60);
    const timeline = await (await get(`/deals/${snapshots[0].master_deal_id}/timeline`)).json();
    expect(timeline.items.filter((i: { kind: string }) => i.kind === 'event')).toHaveLength(
      envelopes.filter((e) => e.master_deal_id === snapshots[0].master_deal_id).length,
    );
  });

  it('answers 400 with the reason, 404 for unknown deals, and serves the OpenAPI document', async () => {
    const bad = await get('/deals?page_size=0');
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toMatch(/page_size/);
    expect((await get('/deals?client_type=')).status).toBe(400);
    expect((await get('/deals/MD-DOES-NOT-EXIST')).status).toBe(404);
    const doc = await (await get('/openapi.json')).json();
    expect(doc.paths['/deals/{id}'].get.parameters[0].name).toBeDefined();
    expect((await get('/docs/')).status).toBe(200);
  });
});

describe('POST /events into Kafka through the registry', () => {
  it('a valid batch lands on its raw topics, Confluent-framed with a registered schema, keyed by deal', async () => {
    const deal = dealEnvelopes({ id: `MD-IT-${Date.now()}`, createdAt: Date.parse('2026-05-04T10:00:00Z'), depth: 3 });
    const res = await post(JSON.stringify(deal));
    expect(res.status).toBe(202);
    const body = await res.json();
    expect(body.accepted).toBe(deal.length);
    const crm = await rawRecords('crm');
    const docflow = await rawRecords('docflow');
    const mine = [...crm, ...docflow].filter((r) => r.key?.toString() === deal[0].master_deal_id);
    expect(mine).toHaveLength(deal.filter((e) => /^(crm|docflow)\./.test(e.event_type)).length);
    for (const r of mine) {
      const frame = decodeFrame(r.value!);
      expect(frame.schemaId).toBeGreaterThan(0);
      const env = await decodeEnvelopeFramed(r.value!, api.ctx.registry.lookup);
      const sent = deal.find((e) => e.event_id === env.event_id)!;
      expect(env).toMatchObject({ event_type: sent.event_type, master_deal_id: sent.master_deal_id, event_ts: Date.parse(sent.event_ts) });
    }
  });

  it('a batch with one invalid envelope is rejected whole: 422 with reasons, and nothing of it reaches Kafka', async () => {
    const id = `MD-IT-BAD-${Date.now()}`;
    const deal = dealEnvelopes({ id, createdAt: Date.parse('2026-05-04T10:00:00Z'), depth: 1 });
    const res = await post(JSON.stringify([deal[0], { ...deal[1], payload: { icp_score: 500 } }]));
    expect(res.status).toBe(422);
    const body = await res.json();
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0]).toMatchObject({ index: 1, event_id: deal[1].event_id });
    expect(body.errors[0].reason).toMatch(/payload\./);
    // A later valid marker for the same deal goes to the same partition: once it is there,
    // anything the rejected batch had produced would be there too.
    const marker = { ...deal[2], event_id: `${id}-marker` };
    expect((await post(JSON.stringify(marker))).status).toBe(202);
    const ids = (await rawRecords('crm')).filter((r) => r.key?.toString() === id).map((r) => r.value!);
    const decoded = await Promise.all(ids.map((v) => decodeEnvelopeFramed(v, api.ctx.registry.lookup)));
    expect(decoded.map((e) => e.event_id)).toEqual([marker.event_id]);
  });

  it('refuses without a valid key (401), too large a body (413) and malformed JSON (400)', async () => {
    const one = JSON.stringify(envelopes[0]);
    expect((await post(one, { 'x-api-key': '' })).status).toBe(401);
    expect((await post(one, { 'x-api-key': 'not-the-key-000' })).status).toBe(401);
    expect((await post(one, { 'x-api-key': '', authorization: `Bearer ${api.apiKey}` })).status).toBe(202);
    const huge = JSON.stringify(Array.from({ length: 150 }, (_, i) => ({ ...envelopes[0], event_id: `big-${i}`, payload: { ...envelopes[0].payload, client_name: 'x'.repeat(2000) } })));
    const tooBig = await post(huge);
    expect(tooBig.status).toBe(413);
    expect((await tooBig.json()).error).toBe('payload_too_large');
    expect((await post('[{"event_id":')).status).toBe(400);
  });
});
