import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DealBook } from '../../processors/core/deal-book.ts';
import { advanceWatermark, apply, applyInPlace, emptyDeal, ownedCopy, savedState, snapshot, type DealState, type SavedDealState } from '../../processors/core/engine.ts';
import type { CanonicalEvent } from '../../processors/core/canonical.ts';
import type { Envelope } from '../../processors/core/envelope.ts';
import { loadDefaultRules } from '../../processors/core/rules/load.ts';
import { ev, HOUR, MINUTE, T0 } from './fixtures.ts';
import { ReferenceBook } from './reference-book.ts';

/**
 * The DealBook updates its states in place (applyInPlace); the pure `apply` is the spec-level
 * function. These properties check that the book's outputs, changed deals, snapshots and state
 * JSON equal those of the same book built on the pure `apply` (test/core/reference-book.ts).
 */
const rules = loadDefaultRules();
const TYPES = [
  'crm.deal.created', 'crm.lead.qualified', 'crm.brief.submitted', 'media.mediaplan.ready', 'crm.offer.approved',
  'docflow.contract.signed', 'docflow.contract.revoked', 'mediapush.campaign.started', 'dcm.invoice.issued',
  'dcm.closeout.completed', 'crm.deal.cancelled', 'mediapush.campaign.kpi', 'okk.nps.submitted',
];

type Action =
  | { kind: 'event'; env: Envelope }
  | { kind: 'advance'; to: number }
  | { kind: 'restore' }; // both books: every state through JSON into a fresh book

/**
 * Events of `deals`, interleaved, with duplicates (same id, same deal), idle-clock ticks and
 * restores. An event id names one event: a repeated id repeats its first envelope (a true duplicate).
 */
function actionsOf(deals: string[], types: string[], ids: RegExp, hours: number, maxLength: number) {
  return fc
    .array(
      fc.oneof(
        { weight: 12, arbitrary: fc.record({
          deal: fc.constantFrom(...deals),
          id: fc.stringMatching(ids),
          type: fc.constantFrom(...types),
          at: fc.integer({ min: 0, max: hours }).map((h) => T0 + h * HOUR),
        }).map(({ deal, id, type, at }): Action => ({ kind: 'event', env: ev(`${deal}-${id}`, type, at, deal) })) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: hours + 48 }).map((h): Action => ({ kind: 'advance', to: T0 + h * HOUR })) },
        { weight: 1, arbitrary: fc.constant<Action>({ kind: 'restore' }) },
      ),
      { minLength: 1, maxLength },
    )
    .map((list) => {
      const first = new Map<string, Envelope>();
      return list.map((a) => {
        if (a.kind !== 'event') return a;
        const known = first.get(a.env.event_id);
        if (known) return { kind: 'event', env: { ...known } } as Action;
        first.set(a.env.event_id, a.env);
        return a;
      });
    });
}

const actions = actionsOf(['MD-1', 'MD-2', 'MD-3', 'MD-4'], TYPES, /^[a-f0-9]{1,3}$/, 24 * 12, 80);
/** One deal, gate events only, few ids: late events and compensations rewrite its history often. */
const GATE_TYPES = TYPES.filter((t) => !['crm.lead.qualified', 'dcm.invoice.issued', 'mediapush.campaign.kpi', 'okk.nps.submitted'].includes(t));
const rewrites = actionsOf(['MD-1'], GATE_TYPES, /^[a-f0-9]{1,2}$/, 24 * 10, 60);

const json = (s: DealState | SavedDealState | undefined) => JSON.parse(JSON.stringify(s));

/**
 * Every state through JSON into a fresh book: the DealBook's as `savedState` writes them for its
 * changelog (derivation left out, rebuilt on restore), the reference book's whole.
 */
function reload<B extends DealBook | ReferenceBook>(book: B, make: () => B): B {
  const fresh = make();
  for (const s of book instanceof DealBook ? book.states() : book.deals.values()) fresh.restore(json(book instanceof DealBook ? savedState(s) : s));
  const mark = book.watermark;
  if (mark !== null) fresh.advanceTo(mark);
  return fresh;
}

describe('DealBook in place = the pure apply', () => {
  it('given any interleaving of deals, duplicates, late events, idle ticks and restores, then outputs, changed deals, snapshots and state JSON are identical', () => {
    fc.assert(
      fc.property(actions, fc.constantFrom(0, 15 * MINUTE, 6 * HOUR), (list, lateness) => {
        let book = new DealBook(rules, { allowedLatenessMs: lateness });
        let ref = new ReferenceBook(rules, { allowedLatenessMs: lateness });
        for (const a of list) {
          if (a.kind === 'restore') {
            book = reload(book, () => new DealBook(rules, { allowedLatenessMs: lateness }));
            ref = reload(ref, () => new ReferenceBook(rules, { allowedLatenessMs: lateness }));
            continue;
          }
          const got = a.kind === 'event' ? book.apply(a.env) : book.advanceTo(a.to);
          const want = a.kind === 'event' ? ref.apply(a.env) : ref.advanceTo(a.to);
          expect(got).toEqual(want);
          for (const id of got.changed) expect(json(book.get(id))).toEqual(json(ref.get(id)));
        }
        expect(book.watermark).toBe(ref.watermark);
        expect([...book.snapshots()]).toEqual([...ref.snapshots()]);
        expect(book.states().map((s) => s.master_deal_id).sort().map((id) => json(book.get(id)))).toEqual([...ref.deals.keys()].sort().map((id) => json(ref.get(id))));
      }),
      { numRuns: 400 },
    );
  });

  it('given any events of one deal in any order, then applyInPlace leaves the state and outputs that apply returns', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.stringMatching(/^[a-f0-9]{1,2}$/), type: fc.constantFrom(...TYPES), h: fc.integer({ min: 0, max: 240 }) }), { maxLength: 30 }),
        fc.array(fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }), { maxLength: 30 }),
        (raw, wms) => {
          let pure = emptyDeal('MD-1', rules);
          const owned = emptyDeal('MD-1', rules);
          raw.forEach((r, i) => {
            const env = ev(r.id, r.type, T0 + r.h * HOUR);
            const wm = wms[i] === undefined ? undefined : T0 + (wms[i] as number) * HOUR;
            const step = apply(pure, env, rules, wm);
            const out: CanonicalEvent[] = [];
            const changed = applyInPlace(owned, env, rules, wm, out);
            expect(changed).toBe(step.state !== pure);
            expect(out).toEqual(step.outputs);
            expect(json(owned)).toEqual(json(step.state));
            pure = step.state;
          });
          const end = advanceWatermark(pure, T0 + 400 * HOUR, rules).state;
          expect(snapshot(ownedCopy(end), rules)).toEqual(snapshot(end, rules));
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('DealBook ownership and eviction', () => {
  it('given a restored state, when the book applies events, then the caller\'s object is not changed', () => {
    const first = new DealBook(rules);
    first.apply(ev('a', 'crm.deal.created', T0));
    const saved = json(first.get('MD-1'));
    const copy = structuredClone(saved);
    const book = new DealBook(rules);
    book.restore(saved);
    book.apply(ev('b', 'crm.brief.submitted', T0 + HOUR));
    expect(saved).toEqual(copy);
    expect(book.get('MD-1')?.seen).toEqual(['a', 'b']);
  });

  it('given a closed deal, then it is settled and evict forgets it; an open deal is not settled', () => {
    const book = new DealBook(rules, { allowedLatenessMs: 0 });
    const types = ['crm.deal.created', 'crm.brief.submitted', 'media.mediaplan.ready', 'crm.offer.approved', 'docflow.contract.signed', 'mediapush.campaign.started', 'dcm.invoice.issued', 'dcm.closeout.completed'];
    types.forEach((t, i) => book.apply(ev(`c${i}`, t, T0 + i * HOUR, 'MD-C')));
    book.apply(ev('o1', 'crm.deal.created', T0 + 8 * HOUR, 'MD-O'));
    book.apply(ev('x1', 'crm.deal.created', T0, 'MD-X'));
    book.apply(ev('x2', 'crm.deal.cancelled', T0 + HOUR, 'MD-X'));
    expect(book.get('MD-C')?.derived.stage).toBe('closed');
    expect(book.isSettled('MD-C')).toBe(true);
    expect(book.isSettled('MD-X')).toBe(true);
    expect(book.isSettled('MD-O')).toBe(false);
    expect(book.evict('MD-C')).toBe(true);
    expect(book.evict('MD-C')).toBe(false);
    expect(book.get('MD-C')).toBeUndefined();
    // the last deal took the evicted one's place
    expect(book.size).toBe(2);
    expect(book.get('MD-X')?.derived.stage).toBe('cancelled');
    expect(book.get('MD-O')?.seen).toEqual(['o1']);
    expect([...book.snapshots()].map((s) => s.master_deal_id)).toEqual(['MD-O', 'MD-X']);
    // the open deal's timer still fires after another deal was evicted
    expect(book.advanceTo(T0 + 17 * HOUR).outputs).toEqual([expect.objectContaining({ type: 'masterdeal.sla.breached', master_deal_id: 'MD-O' })]);
  });
});

describe('canonical outputs at most once per deal', () => {
  const ids = (outs: CanonicalEvent[]) => outs.map((o) => o.event_id);
  const repeats = (list: string[]) => list.filter((id, i) => list.indexOf(id) !== i);

  it('given any arrival order with duplicates, late events, idle ticks and restores, then no output id is emitted twice and every final transition and timer pair was emitted', () => {
    fc.assert(
      fc.property(fc.oneof(actions, rewrites), fc.constantFrom(0, 15 * MINUTE, 6 * HOUR), (list, lateness) => {
        let book = new DealBook(rules, { allowedLatenessMs: lateness });
        const emitted: string[] = [];
        for (const a of list) {
          if (a.kind === 'restore') {
            book = reload(book, () => new DealBook(rules, { allowedLatenessMs: lateness }));
            continue;
          }
          emitted.push(...ids((a.kind === 'event' ? book.apply(a.env) : book.advanceTo(a.to)).outputs));
        }
        expect(repeats(emitted)).toEqual([]);
        // a corrected history (new ids) is still published: the final timelines are all out
        const published = new Set(emitted);
        for (const s of book.snapshots()) {
          for (const t of s.timeline) {
            expect(published.has(`${s.master_deal_id}:stage:${t.cause_event_id}:${t.from_stage}>${t.to_stage}`)).toBe(true);
          }
          for (const [name, v] of Object.entries(s.sla)) {
            if (v.start_event_id !== null) expect(published.has(`${s.master_deal_id}:sla:${name}:${v.start_event_id}:${v.stop_event_id ?? '-'}`)).toBe(true);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('given one deal\'s events in any order with duplicates, then the pure apply emits each output id at most once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.stringMatching(/^[a-f0-9]{1,2}$/), type: fc.constantFrom(...TYPES), h: fc.integer({ min: 0, max: 240 }) }), { maxLength: 40 }),
        (raw) => {
          const first = new Map<string, Envelope>();
          let state = emptyDeal('MD-1', rules);
          const emitted: string[] = [];
          for (const r of raw) {
            const env = first.get(r.id) ?? ev(r.id, r.type, T0 + r.h * HOUR);
            first.set(r.id, env);
            const step = apply(state, env, rules, T0 + r.h * HOUR - 6 * HOUR);
            emitted.push(...ids(step.outputs));
            state = step.state;
          }
          emitted.push(...ids(advanceWatermark(state, T0 + 400 * HOUR, rules).outputs));
          expect(repeats(emitted)).toEqual([]);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('given a state JSON written before `emitted` existed, then it loads and its timeline counts as published', () => {
    const old = new DealBook(rules, { allowedLatenessMs: 30 * 24 * HOUR });
    old.apply(ev('a', 'crm.deal.created', T0));
    old.apply(ev('b', 'crm.brief.submitted', T0 + 2 * HOUR));
    const saved = json(old.get('MD-1'));
    delete saved.emitted;
    const book = new DealBook(rules, { allowedLatenessMs: 30 * 24 * HOUR });
    book.restore(saved);
    // a late event re-derives from the start: the already published transitions stay unpublished
    const outs = ids(book.apply(ev('q', 'crm.lead.qualified', T0 + HOUR)).outputs);
    for (const t of saved.derived.timeline) expect(outs).not.toContain(`MD-1:stage:${t.cause_event_id}:${t.from_stage}>${t.to_stage}`);
    // the pure apply reads it the same way
    const step = apply(saved, ev('q', 'crm.lead.qualified', T0 + HOUR), rules);
    expect(ids(step.outputs)).toEqual(outs);
    expect(json(step.state)).toEqual(json(book.get('MD-1')));
  });
});
