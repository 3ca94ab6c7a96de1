import { describe, expect, it } from 'vitest';
import type { CanonicalEvent, StageChanged } from '../../processors/core/canonical.ts';
import { advanceWatermark, apply, emptyDeal, snapshot, type DealState } from '../../processors/core/engine.ts';
import type { Envelope } from '../../processors/core/envelope.ts';
import { loadDefaultRules } from '../../processors/core/rules/load.ts';
import { DAY, ev, HOUR, T0, workedExample } from './fixtures.ts';

const rules = loadDefaultRules();

function run(events: Envelope[], watermark?: number): { state: DealState; outputs: CanonicalEvent[] } {
  let state = emptyDeal(events[0].master_deal_id, rules);
  const outputs: CanonicalEvent[] = [];
  for (const e of events) {
    const step = apply(state, e, rules);
    state = step.state;
    outputs.push(...step.outputs);
  }
  if (watermark !== undefined) {
    const step = advanceWatermark(state, watermark, rules);
    state = step.state;
    outputs.push(...step.outputs);
  }
  return { state, outputs };
}

const stageChanges = (outputs: CanonicalEvent[]) =>
  outputs.filter((o): o is StageChanged => o.type === 'masterdeal.stage.changed').map((o) => `${o.from_stage}>${o.to_stage}`);
const ofType = <T extends CanonicalEvent['type']>(outputs: CanonicalEvent[], type: T) =>
  outputs.filter((o) => o.type === type) as Extract<CanonicalEvent, { type: T }>[];

describe('worked example (document 6.8.4)', () => {
  it('given the deal life through gates G1..G7, then the stage walks draft → briefed → offer_ready → contracting → running → closing → closed', () => {
    const events = workedExample();
    const { state, outputs } = run(events);
    expect(stageChanges(outputs)).toEqual([
      'draft>briefed', 'briefed>offer_ready', 'offer_ready>contracting', 'contracting>running', 'running>closing', 'closing>closed',
    ]);
    const changes = ofType(outputs, 'masterdeal.stage.changed');
    // offer_ready needs G2 and G3: the later one (offer approval) causes it
    expect(changes[1]).toMatchObject({ cause_event_id: 'MD-000123-4', event_ts: T0 + DAY + 6 * HOUR, compensation: false });
    expect(ofType(outputs, 'masterdeal.closed')).toEqual([
      expect.objectContaining({ master_deal_id: 'MD-000123', stage: 'closed', cause_event_id: 'MD-000123-8', event_ts: T0 + 30 * DAY }),
    ]);
    const snap = snapshot(state, rules);
    expect(snap.stage).toBe('closed');
    expect(Object.values(snap.gates).every((g) => g.value)).toBe(true);
    expect(snap.sla.lead_to_brief).toMatchObject({ started_at: T0, stopped_at: T0 + 4 * HOUR, duration_ms: 4 * HOUR, breached: false });
    expect(snap.sla.brief_to_offer).toMatchObject({ duration_ms: DAY + 2 * HOUR, breached: false, stop_event_id: 'MD-000123-4' });
    expect(snap.sla.offer_to_contract).toMatchObject({ duration_ms: 2 * DAY - 6 * HOUR, breached: false });
    expect(snap.sla.contract_to_launch).toMatchObject({ duration_ms: DAY, breached: false });
    expect(snap.sla.launch_to_close).toMatchObject({ duration_ms: 26 * DAY, breached: false, status: 'met' });
    expect(ofType(outputs, 'masterdeal.sla.breached')).toEqual([]);
  });

  it('given the example, then sla.updated is published on each start and each stop', () => {
    const { outputs } = run(workedExample());
    const updates = ofType(outputs, 'masterdeal.sla.updated').map((u) => `${u.sla}:${u.status}`);
    expect(updates).toEqual([
      'lead_to_brief:open', 'lead_to_brief:met', 'brief_to_offer:open', 'brief_to_offer:met', 'offer_to_contract:open',
      'offer_to_contract:met', 'contract_to_launch:open', 'contract_to_launch:met', 'launch_to_close:open', 'launch_to_close:met',
    ]);
  });
});

describe('gates', () => {
  it('given a gate set twice, then it keeps the earliest event_ts whatever the arrival order', () => {
    const late = ev('b-late', 'crm.brief.submitted', T0 + 5 * HOUR);
    const early = ev('b-early', 'crm.brief.submitted', T0 + 2 * HOUR);
    const { state } = run([ev('c', 'crm.deal.created', T0), late, early]);
    expect(snapshot(state, rules).gates.has_brief).toEqual({ value: true, event_ts: T0 + 2 * HOUR, event_id: 'b-early' });
  });

  it('given two setting events with the same event_ts, then the smaller event_id wins the tie', () => {
    const { state } = run([ev('b-2', 'crm.brief.submitted', T0), ev('b-1', 'crm.brief.submitted', T0)]);
    expect(snapshot(state, rules).gates.has_brief.event_id).toBe('b-1');
  });

  it('given events that set no gate (KPI, NPS, qualification), then the stage does not move but the events are counted', () => {
    const { state, outputs } = run([
      ev('c', 'crm.deal.created', T0), ev('q', 'crm.lead.qualified', T0 + HOUR),
      ev('k', 'mediapush.campaign.kpi', T0 + 2 * HOUR), ev('n', 'okk.nps.submitted', T0 + 3 * HOUR),
    ]);
    expect(stageChanges(outputs)).toEqual([]);
    const snap = snapshot(state, rules);
    expect(snap.stage).toBe('draft');
    expect(snap.event_count).toBe(4);
    expect(snap.facts.lead_qualified).toEqual({ value: true, event_ts: T0 + HOUR, event_id: 'q' });
  });

  it('given a brief before deal.created, then both are kept and the stage is briefed', () => {
    const { state, outputs } = run([ev('b', 'crm.brief.submitted', T0 + HOUR), ev('c', 'crm.deal.created', T0)]);
    expect(stageChanges(outputs)).toEqual(['draft>briefed']);
    const snap = snapshot(state, rules);
    expect(snap.facts.deal_created.value).toBe(true);
    expect(snap.sla.lead_to_brief).toMatchObject({ started_at: T0, stopped_at: T0 + HOUR, breached: false });
  });
});

describe('stage predicates (first match wins, SPEC §3)', () => {
  const cases: Array<[string, string[], string]> = [
    ['no gates', [], 'draft'],
    ['G1', ['crm.brief.submitted'], 'briefed'],
    ['G2 alone', ['media.mediaplan.ready'], 'draft'],
    ['G1, G2', ['crm.brief.submitted', 'media.mediaplan.ready'], 'briefed'],
    ['G2, G3', ['media.mediaplan.ready', 'crm.offer.approved'], 'offer_ready'],
    ['G4 without G2/G3', ['docflow.contract.signed'], 'contracting'],
    ['G5', ['mediapush.campaign.started'], 'running'],
    ['G6 alone', ['dcm.invoice.issued'], 'draft'],
    ['G5, G6', ['mediapush.campaign.started', 'dcm.invoice.issued'], 'closing'],
    ['G7', ['dcm.closeout.completed'], 'closed'],
    ['G7 then cancelled', ['dcm.closeout.completed', 'crm.deal.cancelled'], 'cancelled'],
  ];
  for (const [name, types, stage] of cases) {
    it(`given ${name}, then the stage is ${stage}`, () => {
      const events = [ev('c', 'crm.deal.created', T0), ...types.map((t, i) => ev(`e${i}`, t, T0 + (i + 1) * HOUR))];
      expect(run(events).state.derived.stage).toBe(stage);
    });
  }
});

describe('compensation (docflow.contract.revoked)', () => {
  const base = [
    ev('c', 'crm.deal.created', T0), ev('b', 'crm.brief.submitted', T0 + HOUR),
    ev('m', 'media.mediaplan.ready', T0 + 2 * HOUR), ev('o', 'crm.offer.approved', T0 + 3 * HOUR),
    ev('s1', 'docflow.contract.signed', T0 + 4 * HOUR),
  ];

  it('given a signed contract, when it is revoked, then G4 turns false and the stage regresses to offer_ready marked as compensation', () => {
    const { state, outputs } = run([...base, ev('r', 'docflow.contract.revoked', T0 + 5 * HOUR)]);
    const last = ofType(outputs, 'masterdeal.stage.changed').at(-1);
    expect(last).toMatchObject({ from_stage: 'contracting', to_stage: 'offer_ready', cause_event_id: 'r', compensation: true });
    const snap = snapshot(state, rules);
    expect(snap.gates.contract_signed).toEqual({ value: false, event_ts: T0 + 5 * HOUR, event_id: 'r' });
    expect(snap.sla.offer_to_contract.status).toBe('open'); // reopened: its stop fact is gone
    expect(snap.sla.contract_to_launch.status).toBe('not_started');
  });

  it('given a revoked contract, when it is signed again, then the new signature counts afresh', () => {
    const { state, outputs } = run([
      ...base, ev('r', 'docflow.contract.revoked', T0 + 5 * HOUR), ev('s2', 'docflow.contract.signed', T0 + 30 * HOUR),
    ]);
    expect(stageChanges(outputs).slice(-3)).toEqual(['offer_ready>contracting', 'contracting>offer_ready', 'offer_ready>contracting']);
    expect(ofType(outputs, 'masterdeal.stage.changed').at(-1)).toMatchObject({ cause_event_id: 's2', compensation: false });
    const snap = snapshot(state, rules);
    expect(snap.gates.contract_signed).toEqual({ value: true, event_ts: T0 + 30 * HOUR, event_id: 's2' });
    expect(snap.sla.offer_to_contract).toMatchObject({ started_at: T0 + 3 * HOUR, stopped_at: T0 + 30 * HOUR, stop_event_id: 's2' });
    expect(snap.sla.contract_to_launch).toMatchObject({ started_at: T0 + 30 * HOUR, status: 'open' });
  });

  it('given a revoke older than the signature (event time), then it compensates nothing', () => {
    const { state } = run([...base, ev('r', 'docflow.contract.revoked', T0 + 3.5 * HOUR)]);
    expect(state.derived.stage).toBe('contracting');
    expect(snapshot(state, rules).gates.contract_signed.event_id).toBe('s1');
  });
});

describe('cancellation (crm.deal.cancelled)', () => {
  it('given an open timer, when the deal is cancelled before its deadline, then the timer stops at the cancellation and is met', () => {
    const { state, outputs } = run([ev('c', 'crm.deal.created', T0), ev('x', 'crm.deal.cancelled', T0 + 3 * HOUR)], T0 + 100 * DAY);
    expect(stageChanges(outputs)).toEqual(['draft>cancelled']);
    const snap = snapshot(state, rules);
    expect(snap.stage).toBe('cancelled');
    expect(snap.sla.lead_to_brief).toMatchObject({ stopped_at: T0 + 3 * HOUR, duration_ms: 3 * HOUR, breached: false, stopped_by_terminal: true });
    expect(ofType(outputs, 'masterdeal.sla.breached')).toEqual([]);
  });

  it('given an open timer, when the deal is cancelled after its deadline, then it is breached', () => {
    const { state, outputs } = run([ev('c', 'crm.deal.created', T0), ev('x', 'crm.deal.cancelled', T0 + 9 * HOUR)]);
    expect(snapshot(state, rules).sla.lead_to_brief).toMatchObject({ breached: true, stopped_at: T0 + 9 * HOUR });
    expect(ofType(outputs, 'masterdeal.sla.breached').map((b) => b.sla)).toEqual(['lead_to_brief']);
  });

  it('given a cancelled deal, when later gates arrive, then the stage stays cancelled and no new timer starts', () => {
    const { state } = run([
      ev('c', 'crm.deal.created', T0), ev('x', 'crm.deal.cancelled', T0 + HOUR), ev('b', 'crm.brief.submitted', T0 + 2 * HOUR),
    ], T0 + 30 * DAY);
    const snap = snapshot(state, rules);
    expect(snap.stage).toBe('cancelled');
    expect(snap.gates.has_brief.value).toBe(true);
    expect(snap.sla.lead_to_brief).toMatchObject({ stopped_at: T0 + HOUR, stopped_by_terminal: true });
    expect(snap.sla.brief_to_offer.status).toBe('not_started');
  });
});

describe('SLA deadline boundary', () => {
  const created = [ev('c', 'crm.deal.created', T0)];
  it('given an open lead_to_brief, when the watermark is exactly at the deadline, then it is not breached', () => {
    const { state, outputs } = run(created, T0 + 8 * HOUR);
    expect(snapshot(state, rules).sla.lead_to_brief).toMatchObject({ status: 'open', breached: false });
    expect(outputs.some((o) => o.type === 'masterdeal.sla.breached')).toBe(false);
  });
  it('given an open lead_to_brief, when the watermark is 1 ms past the deadline, then it is breached once', () => {
    const { state, outputs } = run(created, T0 + 8 * HOUR + 1);
    expect(snapshot(state, rules).sla.lead_to_brief).toMatchObject({ status: 'breached', breached: true, stopped_at: null });
    expect(ofType(outputs, 'masterdeal.sla.breached')).toEqual([
      expect.objectContaining({ sla: 'lead_to_brief', started_at: T0, deadline_at: T0 + 8 * HOUR, stopped_at: null }),
    ]);
    const again = advanceWatermark(state, T0 + 9 * HOUR, rules);
    expect(again.outputs).toEqual([]);
  });
  it('given a brief exactly at the deadline, then lead_to_brief is met; 1 ms later, breached', () => {
    const atDeadline = run([...created, ev('b', 'crm.brief.submitted', T0 + 8 * HOUR)]);
    expect(snapshot(atDeadline.state, rules).sla.lead_to_brief).toMatchObject({ duration_ms: 8 * HOUR, breached: false, status: 'met' });
    const late = run([...created, ev('b', 'crm.brief.submitted', T0 + 8 * HOUR + 1)]);
    expect(snapshot(late.state, rules).sla.lead_to_brief).toMatchObject({ duration_ms: 8 * HOUR + 1, breached: true });
    expect(ofType(late.outputs, 'masterdeal.sla.breached')).toHaveLength(1);
  });
  it('given brief_to_offer, then it stops at the later of G2 and G3', () => {
    const { state } = run([
      ev('b', 'crm.brief.submitted', T0), ev('o', 'crm.offer.approved', T0 + HOUR), ev('m', 'media.mediaplan.ready', T0 + 2 * DAY + 1),
    ]);
    expect(snapshot(state, rules).sla.brief_to_offer).toMatchObject({ stopped_at: T0 + 2 * DAY + 1, stop_event_id: 'm', breached: true });
  });
});

describe('idempotency and order', () => {
  it('given an event already applied, when it arrives again, then the state object and outputs are unchanged', () => {
    const { state } = run(workedExample());
    const again = apply(state, workedExample()[3], rules);
    expect(again.state).toBe(state);
    expect(again.outputs).toEqual([]);
  });

  it('given G4 before G2/G3 arrive late, then history is re-derived and the corrected transitions are published with new ids', () => {
    const { state, outputs } = run([
      ev('b', 'crm.brief.submitted', T0), ev('s', 'docflow.contract.signed', T0 + 4 * HOUR),
      ev('m', 'media.mediaplan.ready', T0 + HOUR), ev('o', 'crm.offer.approved', T0 + 2 * HOUR),
    ]);
    expect(stageChanges(outputs)).toEqual(['draft>briefed', 'briefed>contracting', 'briefed>offer_ready', 'offer_ready>contracting']);
    expect(state.derived.timeline.map((t) => `${t.from_stage}>${t.to_stage}`)).toEqual(['draft>briefed', 'briefed>offer_ready', 'offer_ready>contracting']);
    const ids = outputs.map((o) => o.event_id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('given the same events, then canonical ids are the same on every run (replays dedupe downstream)', () => {
    expect(run(workedExample()).outputs.map((o) => o.event_id)).toEqual(run(workedExample()).outputs.map((o) => o.event_id));
  });

  it('given a deal state, then it survives a JSON round trip (changelog) and keeps working', () => {
    const events = workedExample();
    const half = run(events.slice(0, 4)).state;
    const restored = JSON.parse(JSON.stringify(half)) as DealState;
    let a = half;
    let b = restored;
    for (const e of events.slice(4)) {
      a = apply(a, e, rules).state;
      b = apply(b, e, rules).state;
    }
    expect(snapshot(b, rules)).toEqual(snapshot(a, rules));
  });

  it('given an event of another deal, then apply refuses it', () => {
    expect(() => apply(emptyDeal('MD-1', rules), ev('x', 'crm.deal.created', T0, 'MD-2'), rules)).toThrow(/MD-2/);
  });
});
