import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { advanceWatermark, apply, emptyDeal, snapshot, type DealState } from '../../processors/core/engine.ts';
import type { Envelope } from '../../processors/core/envelope.ts';
import { loadDefaultRules } from '../../processors/core/rules/load.ts';
import { ev, HOUR, T0 } from './fixtures.ts';

const rules = loadDefaultRules();
const TYPES = [
  'crm.deal.created', 'crm.lead.qualified', 'crm.brief.submitted', 'media.mediaplan.ready', 'crm.offer.approved',
  'docflow.contract.signed', 'docflow.contract.revoked', 'mediapush.campaign.started', 'dcm.invoice.issued',
  'dcm.closeout.completed', 'crm.deal.cancelled', 'mediapush.campaign.kpi', 'okk.nps.submitted',
];

/** A deal's distinct events: random types, times in a 10-day window (with ties), unique ids. */
const dealEvents = fc
  .uniqueArray(
    fc.record({
      id: fc.stringMatching(/^[a-f0-9]{1,6}$/),
      type: fc.constantFrom(...TYPES),
      // coarse steps so that equal event_ts (ties broken by event_id) happen often
      at: fc.integer({ min: 0, max: 240 }).map((h) => T0 + h * HOUR),
    }),
    { selector: (e) => e.id, minLength: 1, maxLength: 25 },
  )
  .map((es) => es.map((e) => ev(e.id, e.type, e.at)));

function fold(events: Envelope[], watermark: number): DealState {
  let state = emptyDeal('MD-1', rules);
  for (const e of events) state = apply(state, e, rules).state;
  return advanceWatermark(state, watermark, rules).state;
}

/** The final state without the arrival-dependent bookkeeping (`version` counts applications). */
const essence = (s: DealState) => {
  const { version: _v, ...rest } = snapshot(s, rules);
  return rest;
};

describe('determinism (SPEC §5)', () => {
  it('given any set of events, when they arrive in any order with duplicates, then the snapshot is identical', () => {
    fc.assert(
      fc.property(
        dealEvents,
        fc.func(fc.integer()),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.integer({ min: 0, max: 300 }),
        (events, shuffleKey, dupIdx, wmHours) => {
          const watermark = T0 + wmHours * HOUR;
          const sorted = [...events].sort((a, b) => a.event_ts - b.event_ts || (a.event_id < b.event_id ? -1 : 1));
          const shuffled = events.map((e, i) => [shuffleKey(i), i, e] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[2]);
          const withDups = [...shuffled];
          for (const d of dupIdx) withDups.splice(d % (withDups.length + 1), 0, { ...events[d % events.length] });
          const reference = essence(fold(sorted, watermark));
          expect(essence(fold(withDups, watermark))).toEqual(reference);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('given any events, when the whole stream is applied twice, then nothing changes the second time', () => {
    fc.assert(
      fc.property(dealEvents, (events) => {
        const once = fold(events, T0);
        let twice = once;
        for (const e of events) {
          const step = apply(twice, e, rules);
          expect(step.outputs).toEqual([]);
          twice = step.state;
        }
        expect(twice).toBe(once);
      }),
      { numRuns: 200 },
    );
  });

  it('given any events in any order, then every breached timer in the final snapshot was published exactly once', () => {
    fc.assert(
      fc.property(dealEvents, fc.integer({ min: 0, max: 300 }), (events, wmHours) => {
        let state = emptyDeal('MD-1', rules);
        const breaches: string[] = [];
        const collect = (outs: { type: string; sla?: string }[]) =>
          outs.forEach((o) => o.type === 'masterdeal.sla.breached' && breaches.push(o.sla as string));
        for (const e of [...events].reverse()) {
          const step = apply(state, e, rules);
          collect(step.outputs);
          state = step.state;
        }
        const end = advanceWatermark(state, T0 + wmHours * HOUR, rules);
        collect(end.outputs);
        expect(new Set(breaches).size).toBe(breaches.length);
        const breachedNow = Object.entries(snapshot(end.state, rules).sla).filter(([, v]) => v.breached).map(([k]) => k);
        for (const sla of breachedNow) expect(breaches).toContain(sla);
      }),
      { numRuns: 300 },
    );
  });

  it('given in-order events, then the published stage changes are exactly the derived timeline', () => {
    fc.assert(
      fc.property(dealEvents, (events) => {
        const sorted = [...events].sort((a, b) => a.event_ts - b.event_ts || (a.event_id < b.event_id ? -1 : 1));
        let state = emptyDeal('MD-1', rules);
        const published: string[] = [];
        for (const e of sorted) {
          const step = apply(state, e, rules);
          state = step.state;
          for (const o of step.outputs) if (o.type === 'masterdeal.stage.changed') published.push(`${o.cause_event_id}:${o.from_stage}>${o.to_stage}`);
        }
        expect(published).toEqual(state.derived.timeline.map((t) => `${t.cause_event_id}:${t.from_stage}>${t.to_stage}`));
      }),
      { numRuns: 200 },
    );
  });
});
