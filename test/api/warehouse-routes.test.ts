import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { budgetSegment, STAGES } from '../../processors/api/model.ts';
import { buildHarness, embeddedClickhouse, type Harness } from './harness.ts';
import { fold, loadDeals, syntheticDeals, type EnvelopeJson } from './fixtures.ts';

// The read routes against real ClickHouse SQL (embedded chDB in this process, no endpoint):
// synthetic envelopes -> the engine's fold -> the warehouse loader -> the API. Expected figures
// are computed here from the fold's own snapshots, independently of the API's SQL.
interface Snap {
  master_deal_id: string;
  stage: string;
  gates: Record<string, { value: boolean; event_id: string | null }>;
  sla: Record<string, { breached: boolean; started_at: string | null; stopped_at: string | null; duration_ms: number | null }>;
}

const DB = 'api_unit';
let h: Harness;
let envelopes: EnvelopeJson[];
let snaps: Snap[];
const created = new Map<string, Record<string, unknown>>();

beforeAll(async () => {
  envelopes = syntheticDeals(120, 7);
  for (const e of envelopes) if (e.event_type === 'crm.deal.created') created.set(e.master_deal_id, e.payload);
  snaps = (await fold(envelopes)).map((l) => JSON.parse(l)).filter((o) => o.type === 'masterdeal.snapshot');
  const client = embeddedClickhouse();
  await loadDeals(client, DB, envelopes);
  h = await buildHarness({ client, database: DB });
}, 120_000);
afterAll(async () => {
  await h?.app.close();
  await h?.client.close();
});

const get = async (url: string) => {
  const res = await h.app.inject({ method: 'GET', url });
  expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
  return res.json();
};

describe('GET /deals/{id}', () => {
  it('given a deal that reached contracting, shows its gates with the events and systems that set them and explains the stage', async () => {
    const snap = snaps.find((s) => s.stage === 'contracting')!;
    const d = await get(`/deals/${snap.master_deal_id}`);
    expect(d.stage).toBe('contracting');
    const g4 = d.gates.find((g: { gate: string }) => g.gate === 'contract_signed');
    expect(g4).toMatchObject({ code: 'G4', value: true, event_id: snap.gates.contract_signed.event_id, event_type: 'docflow.contract.signed', source_system: 'Docflow' });
    expect(d.why.rule).toBe('contracting when contract_signed');
    expect(d.why.because.map((g: { gate: string }) => g.gate)).toEqual(['contract_signed']);
    expect(d.why.text).toContain(snap.gates.contract_signed.event_id);
    expect(d.client).toMatchObject({ industry: created.get(snap.master_deal_id)!.industry, budget_segment: budgetSegment(created.get(snap.master_deal_id)!.budget_rub as number) });
  });

  it('shows every SLA timer with deadline = start + target and the breach flags of the snapshot', async () => {
    for (const snap of snaps.slice(0, 10)) {
      const d = await get(`/deals/${snap.master_deal_id}?as_of=2026-03-03T00:00:00.000Z`);
      for (const t of d.sla) {
        const s = snap.sla[t.sla];
        expect(t.breached).toBe(s.breached);
        if (s.started_at) expect(Date.parse(t.deadline_at)).toBe(Date.parse(s.started_at) + t.target_ms);
        // Still running (even if already breached): time left until the deadline, negative once overdue.
        if (s.started_at && !s.stopped_at) expect(t.remaining_ms).toBe(Date.parse(t.deadline_at) - Date.parse('2026-03-03T00:00:00.000Z'));
        else expect(t.remaining_ms).toBeNull();
      }
      expect(d.breached).toBe(Object.values(snap.sla).some((s) => s.breached));
    }
  });

  it('explains a cancelled deal by its cancelling event', async () => {
    const snap = snaps.find((s) => s.stage === 'cancelled')!;
    const d = await get(`/deals/${snap.master_deal_id}`);
    expect(d.why.cancelled_by).toMatchObject({ event_type: 'crm.deal.cancelled', source_system: 'CRM' });
  });
});

describe('GET /deals/{id}/timeline', () => {
  it('lists the deal\'s domain events and canonical outputs in event time', async () => {
    const id = snaps.find((s) => s.stage === 'closed')!.master_deal_id;
    const t = await get(`/deals/${id}/timeline`);
    const times = t.items.map((i: { event_ts: string }) => Date.parse(i.event_ts));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const ids = t.items.filter((i: { kind: string }) => i.kind === 'event').map((i: { id: string }) => i.id);
    expect(new Set(ids)).toEqual(new Set(envelopes.filter((e) => e.master_deal_id === id).map((e) => e.event_id)));
    const stages = t.items.filter((i: { type: string }) => i.type === 'masterdeal.stage.changed').map((i: { body: { to_stage: string } }) => i.body.to_stage);
    expect(stages.at(-1)).toBe('closed');
  });
  it('is 404 for an unknown deal', async () => {
    expect((await h.app.inject({ method: 'GET', url: '/deals/MD-NOPE/timeline' })).statusCode).toBe(404);
  });
});

describe('GET /deals', () => {
  it('filters by stage, industry, client type and breach, and pages through every match exactly once', async () => {
    const industry = created.get(snaps[0].master_deal_id)!.industry as string;
    const expected = snaps
      .filter((s) => created.get(s.master_deal_id)!.industry === industry && created.get(s.master_deal_id)!.client_type === 'agency')
      .filter((s) => Object.values(s.sla).some((x) => x.breached))
      .map((s) => s.master_deal_id)
      .sort();
    const seen: string[] = [];
    for (let page = 1; ; page++) {
      const r = await get(`/deals?industry=${industry}&client_type=agency&breached=true&page=${page}&page_size=4`);
      expect(r.total).toBe(expected.length);
      seen.push(...r.items.map((i: { master_deal_id: string }) => i.master_deal_id));
      if (page >= r.pages) break;
    }
    expect(seen).toEqual(expected);
    const byStage = await get('/deals?stage=running&page_size=500');
    expect(byStage.total).toBe(snaps.filter((s) => s.stage === 'running').length);
  });
});

describe('GET /pipeline/summary and dashboard data', () => {
  it('counts deals per stage and SLA figures as the snapshots say', async () => {
    const s = await get('/pipeline/summary');
    expect(s.totals.deals).toBe(snaps.length);
    for (const stage of STAGES) {
      expect(s.stages.find((x: { stage: string }) => x.stage === stage).current, stage).toBe(snaps.filter((x) => x.stage === stage).length);
    }
    for (const row of s.sla) {
      const timers = snaps.map((x) => x.sla[row.sla]).filter((x) => x.started_at);
      expect(row.started).toBe(timers.length);
      expect(row.breached).toBe(timers.filter((x) => x.breached).length);
      const done = timers.filter((x) => x.stopped_at && x.duration_ms !== null).map((x) => x.duration_ms!).sort((a, b) => a - b);
      // ClickHouse quantileExact(q): the element at 0-based rank floor(q * n) of the sorted values.
      if (done.length > 0) {
        expect(row.median_ms).toBe(done[Math.floor(0.5 * done.length)]);
        expect(row.p90_ms).toBe(done[Math.floor(0.9 * done.length)]);
      }
    }
    expect(STAGES).toContain(s.bottleneck.stage);
  });

  it('a segment filter changes the figures to that segment only', async () => {
    const all = await get('/dashboard/api/overview');
    const large = await get('/dashboard/api/overview?budget_segment=large');
    const expected = snaps.filter((x) => budgetSegment(created.get(x.master_deal_id)!.budget_rub as number) === 'large').length;
    expect(large.totals.deals).toBe(expected);
    expect(large.totals.deals).toBeLessThan(all.totals.deals);
    const trend = await get('/dashboard/api/trend?budget_segment=large&bucket=day');
    expect(trend.points.reduce((n: number, p: { created: number }) => n + p.created, 0)).toBe(expected);
  });

  it('offers the industries and client types present as filter values', async () => {
    const f = await get('/dashboard/api/filters');
    expect(f.industries).toEqual([...new Set([...created.values()].map((p) => p.industry as string))].sort());
    expect(f.client_types).toEqual(['agency', 'direct']);
  });
});
