import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldBatch, WatermarkSteps } from '../../processors/core/batch-fold.ts';
import type { CanonicalEvent } from '../../processors/core/canonical.ts';
import { DealBook } from '../../processors/core/deal-book.ts';
import type { DealState } from '../../processors/core/engine.ts';
import type { Envelope } from '../../processors/core/envelope.ts';
import { loadDefaultRules } from '../../processors/core/rules/load.ts';
import { parseEnvelopeLine } from '../../processors/codec/envelope-json.ts';
import { generateLines } from '../../processors/generate/generator.ts';
import { ev, HOUR, MINUTE, T0 } from './fixtures.ts';

/**
 * foldBatch applies a whole input deal by deal; the streaming DealBook applies it event by event.
 * For any input they must agree: per deal the same outputs in the same order (breaches fired by
 * other deals' events included), the same final states and snapshots, and outputs deal by deal
 * in order of first arrival.
 */
const rules = loadDefaultRules();
const TYPES = [
  'crm.deal.created', 'crm.lead.qualified', 'crm.brief.submitted', 'media.mediaplan.ready', 'crm.offer.approved',
  'docflow.contract.signed', 'docflow.contract.revoked', 'mediapush.campaign.started', 'dcm.invoice.issued',
  'dcm.closeout.completed', 'crm.deal.cancelled', 'mediapush.campaign.kpi', 'okk.nps.submitted',
];
const json = (v: unknown) => JSON.parse(JSON.stringify(v));
const withoutHashes = (state: DealState | undefined) => json({ ...state, seen_hash: undefined });

function streamed(events: Envelope[], lateness: number, end: (highest: number) => number) {
  const book = new DealBook(rules, { allowedLatenessMs: lateness });
  const outputs: CanonicalEvent[] = [];
  for (const e of events) outputs.push(...book.apply(e).outputs);
  if (book.highestEventTs !== null) outputs.push(...book.advanceTo(end(book.highestEventTs)).outputs);
  return { book, outputs };
}

function batched(events: Envelope[], lateness: number, end: (highest: number) => number) {
  const book = new DealBook(rules, { allowedLatenessMs: lateness });
  const byDeal: Array<[string, CanonicalEvent[]]> = [];
  const deals = foldBatch(book, events, end);
  let step = deals.next();
  for (; !step.done; step = deals.next()) byDeal.push([step.value.masterDealId, step.value.outputs.slice()]);
  const summary = step.value;
  return { book, byDeal, summary };
}

function expectSameFold(events: Envelope[], lateness: number, end: (highest: number) => number): void {
  const s = streamed(events, lateness, end);
  const b = batched(events, lateness, end);
  const firstArrival = [...new Set(events.map((e) => e.master_deal_id))];
  expect(b.byDeal.map(([deal]) => deal)).toEqual(firstArrival);
  for (const [deal, outputs] of b.byDeal) expect(outputs).toEqual(s.outputs.filter((o) => o.master_deal_id === deal));
  expect(b.book.watermark).toBe(s.book.watermark);
  expect([...b.book.snapshots()]).toEqual([...s.book.snapshots()]);
  // The same states, but for the dedupe hashes a batch leaves out (rebuilt from `seen` when needed).
  for (const deal of firstArrival) expect(withoutHashes(b.book.get(deal))).toEqual(withoutHashes(s.book.get(deal)));
  const distinct = new Set(events.map((e) => `${e.master_deal_id}\u0000${e.event_id}`)).size;
  expect(b.summary).toMatchObject({ events: distinct, duplicates: events.length - distinct, watermark: s.book.watermark });
  // The batch's deals are the book's own: a later watermark fires their open timers as the stream's.
  if (s.book.watermark !== null) {
    const later = s.book.watermark + 40 * 24 * HOUR;
    const ids = (outputs: CanonicalEvent[]) => outputs.map((o) => o.event_id).sort();
    expect(ids(b.book.advanceTo(later).outputs)).toEqual(ids(s.book.advanceTo(later).outputs));
  }
  // ...and later events apply as in the stream: a repeated one stays a duplicate, a new one counts.
  const again = events.at(-1);
  if (again !== undefined) {
    const fresh = ev(`${again.master_deal_id}-later`, 'crm.deal.cancelled', again.event_ts, again.master_deal_id);
    for (const e of [again, fresh]) expect(b.book.apply(e).outputs).toEqual(s.book.apply(e).outputs);
    expect(json(b.book.get(again.master_deal_id))).toEqual(json(s.book.get(again.master_deal_id)));
  }
}

/** Events of a few deals, interleaved, with true duplicates, equal timestamps and equal deadlines across deals. */
const events = fc
  .array(
    fc.record({
      deal: fc.constantFrom('MD-1', 'MD-2', 'MD-3', 'MD-4'),
      id: fc.stringMatching(/^[a-f0-9]{1,2}$/),
      type: fc.constantFrom(...TYPES),
      at: fc.integer({ min: 0, max: 24 * 12 }).map((h) => T0 + h * HOUR),
    }),
    { maxLength: 100 },
  )
  .map((list) => {
    const first = new Map<string, Envelope>();
    return list.map(({ deal, id, type, at }) => {
      const key = `${deal}-${id}`;
      const known = first.get(key);
      if (known) return { ...known };
      const e = ev(key, type, at, deal);
      first.set(key, e);
      return e;
    });
  });

describe('foldBatch = DealBook, event by event', () => {
  it('given any interleaving of deals with duplicates and late events, then per-deal outputs, states, snapshots and counts are identical', () => {
    fc.assert(
      fc.property(
        events,
        fc.constantFrom(0, 15 * MINUTE, 6 * HOUR),
        fc.constantFrom(0, 5 * 24 * HOUR, 40 * 24 * HOUR),
        (list, lateness, after) => expectSameFold(list, lateness, (highest) => highest + after),
      ),
      { numRuns: 500 },
    );
  });

  it('given generated deal histories (shuffled, duplicated, late), then the fold is identical to the streaming book', () => {
    const lines = [...generateLines({ deals: 300, seed: 11, duplicates: 0.05, late: 0.05, shuffleWindow: 256 })];
    const envelopes = lines.map((l) => {
      const r = parseEnvelopeLine(l);
      if (!r.ok) throw new Error(r.reason);
      return r.envelope;
    });
    expect(envelopes.length).toBeGreaterThan(2000);
    expectSameFold(envelopes, rules.allowedLatenessMs, (highest) => highest);
    expectSameFold(envelopes, 0, (highest) => highest + 60 * 24 * HOUR);
  });

  it('given an empty input, then nothing is emitted and the book stays empty; a used book is refused', () => {
    const b = batched([], 0, (h) => h);
    expect(b.byDeal).toEqual([]);
    expect(b.summary).toEqual({ events: 0, duplicates: 0, highestEventTs: null, watermark: null });
    const used = new DealBook(rules);
    used.apply(ev('a', 'crm.deal.created', T0));
    expect(() => foldBatch(used, [], (h) => h).next()).toThrow(/empty DealBook/);
  });
});

describe('WatermarkSteps', () => {
  it('given increasing watermark values, then after(x) is the first value greater than x', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 700 }), fc.integer({ min: -1e6 - 1, max: 1e6 }), (raw, x) => {
        const values = raw.sort((a, b) => a - b);
        fc.pre(values[values.length - 1] > x);
        const steps = new WatermarkSteps(values.length);
        for (const v of values) steps.push(v);
        steps.index();
        expect(steps.after(x)).toBe(values.find((v) => v > x));
      }),
      { numRuns: 2000 },
    );
  });
});
