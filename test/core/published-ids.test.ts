import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  closedId,
  closedIdHash,
  idHash,
  slaUpdatedId,
  slaUpdatedIdHash,
  stageChangedId,
  stageChangedIdHash,
} from '../../processors/core/published-ids.ts';
import { DealBook } from '../../processors/core/deal-book.ts';
import { savedState } from '../../processors/core/engine.ts';
import { loadDefaultRules } from '../../processors/core/rules/load.ts';
import { ev, HOUR, T0 } from './fixtures.ts';

describe('published-ids', () => {
  it('keeps the id hash saved in changelog states (values of the first release)', () => {
    expect(idHash('MD-000001:stage:ec1fed98-06f1-4cca-b2a4-94c9c58c6525:draft>briefed')).toBe(2696451449752044);
    expect(idHash('MD-7:closed:e-9')).toBe(7957260538650345);
    expect(idHash('MD-7:sla:lead_to_brief:e-1:-')).toBe(6867815342503909);
    expect(idHash('')).toBe(35186538225093);
  });

  it('hashes an id from its parts exactly as from the whole id', () => {
    const part = fc.string({ unit: 'binary', maxLength: 40 });
    fc.assert(
      fc.property(part, part, part, part, fc.option(part), (deal, a, b, c, stop) => {
        expect(stageChangedIdHash(deal, a, b, c)).toBe(idHash(stageChangedId(deal, a, b, c)));
        expect(closedIdHash(deal, a)).toBe(idHash(closedId(deal, a)));
        expect(slaUpdatedIdHash(deal, a, b, stop)).toBe(idHash(slaUpdatedId(deal, a, b, stop)));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('published ids over a deal history', () => {
  const rules = loadDefaultRules();
  const TYPES = [
    'crm.deal.created', 'crm.brief.submitted', 'media.mediaplan.ready', 'crm.offer.approved', 'docflow.contract.signed',
    'docflow.contract.revoked', 'mediapush.campaign.started', 'dcm.closeout.completed', 'crm.deal.cancelled',
  ];
  const history = fc.array(
    fc.oneof(
      { weight: 12, arbitrary: fc.record({ id: fc.stringMatching(/^[a-f0-9]{1,2}$/), type: fc.constantFrom(...TYPES), h: fc.integer({ min: 0, max: 24 * 10 }) }) },
      { weight: 1, arbitrary: fc.constant('restore' as const) },
    ),
    { maxLength: 60 },
  );

  it('given late events, compensations and restores, then each output id is published once, and the live timeline and timer pairs were all published', () => {
    fc.assert(
      fc.property(history, (steps) => {
        let book = new DealBook(rules, { allowedLatenessMs: 0 });
        const published: string[] = [];
        const types = new Map<string, string>();
        for (const s of steps) {
          if (s === 'restore') {
            const fresh = new DealBook(rules, { allowedLatenessMs: 0 });
            for (const st of book.deals.values()) fresh.restore(JSON.parse(JSON.stringify(savedState(st))));
            if (book.watermark !== null) fresh.advanceTo(book.watermark);
            book = fresh;
            continue;
          }
          const type = types.get(s.id) ?? s.type; // an id names one event
          types.set(s.id, type);
          for (const o of book.apply(ev(s.id, type, T0 + s.h * HOUR)).outputs) if (o.type !== 'masterdeal.sla.breached') published.push(o.event_id);
        }
        expect(new Set(published).size).toBe(published.length);
        const snap = book.snapshot('MD-1');
        if (!snap) return;
        for (const t of snap.timeline) expect(published).toContain(stageChangedId('MD-1', t.cause_event_id, t.from_stage, t.to_stage));
        for (const [name, v] of Object.entries(snap.sla)) {
          if (v.start_event_id !== null) expect(published).toContain(slaUpdatedId('MD-1', name, v.start_event_id, v.stop_event_id));
        }
      }),
      { numRuns: 1500 },
    );
  });
});
