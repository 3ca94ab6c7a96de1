import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DealBook, RulesMismatchError } from '../../processors/core/deal-book.ts';
import { DEFAULT_RULES_PATH, loadDefaultRules, parseRules } from '../../processors/core/rules/load.ts';
import { DAY, ev, HOUR, MINUTE, T0 } from './fixtures.ts';

const rules = loadDefaultRules();

describe('DealBook watermark', () => {
  it('given allowed lateness, then the watermark is the highest event_ts minus the lateness and never moves back', () => {
    const book = new DealBook(rules, { allowedLatenessMs: 15 * MINUTE });
    book.apply(ev('a', 'crm.deal.created', T0 + HOUR));
    expect(book.watermark).toBe(T0 + 45 * MINUTE);
    book.apply(ev('b', 'crm.deal.created', T0, 'MD-2'));
    expect(book.watermark).toBe(T0 + 45 * MINUTE);
    expect(book.advanceTo(T0).outputs).toEqual([]);
    expect(book.watermark).toBe(T0 + 45 * MINUTE);
  });

  it('given an open timer of one deal, when another deal moves event time past its deadline, then that deal breaches', () => {
    const book = new DealBook(rules, { allowedLatenessMs: 0 });
    book.apply(ev('a', 'crm.deal.created', T0, 'MD-1'));
    const quiet = book.apply(ev('b', 'crm.deal.created', T0 + 8 * HOUR, 'MD-2'));
    expect(quiet.outputs.filter((o) => o.type === 'masterdeal.sla.breached')).toEqual([]);
    const step = book.apply(ev('c', 'crm.deal.created', T0 + 8 * HOUR + 1, 'MD-3'));
    expect(step.outputs.filter((o) => o.type === 'masterdeal.sla.breached')).toEqual([
      expect.objectContaining({ master_deal_id: 'MD-1', sla: 'lead_to_brief' }),
    ]);
    expect(step.changed.sort()).toEqual(['MD-1', 'MD-3']);
    expect(book.snapshot('MD-1')?.sla.lead_to_brief.breached).toBe(true);
  });

  it('given allowed lateness, when a late brief arrives within it, then no breach was published prematurely', () => {
    const book = new DealBook(rules, { allowedLatenessMs: HOUR });
    book.apply(ev('a', 'crm.deal.created', T0, 'MD-1'));
    const other = book.apply(ev('x', 'crm.deal.created', T0 + 8 * HOUR + 30 * MINUTE, 'MD-2'));
    expect(other.outputs.some((o) => o.type === 'masterdeal.sla.breached')).toBe(false);
    const late = book.apply(ev('b', 'crm.brief.submitted', T0 + 7 * HOUR, 'MD-1'));
    expect(late.outputs.some((o) => o.type === 'masterdeal.sla.breached')).toBe(false);
    expect(book.snapshot('MD-1')?.sla.lead_to_brief).toMatchObject({ status: 'met' });
  });

  it('given idle live time, when advanceTo moves the watermark from the wall clock, then due timers fire once', () => {
    const book = new DealBook(rules);
    book.apply(ev('a', 'crm.deal.created', T0));
    expect(book.advanceTo(T0 + 8 * HOUR).outputs).toEqual([]);
    expect(book.advanceTo(T0 + DAY).outputs.map((o) => o.type)).toEqual(['masterdeal.sla.breached']);
    expect(book.advanceTo(T0 + 2 * DAY).outputs).toEqual([]);
  });

  it('given a state restored from a changelog, then its pending deadline is scheduled again', () => {
    const first = new DealBook(rules);
    first.apply(ev('a', 'crm.deal.created', T0));
    const saved = JSON.parse(JSON.stringify(first.get('MD-1')));
    const second = new DealBook(rules);
    second.restore(saved);
    expect(second.advanceTo(T0 + 9 * HOUR).outputs).toEqual([expect.objectContaining({ type: 'masterdeal.sla.breached', master_deal_id: 'MD-1' })]);
  });

  it('given a duplicate event, then nothing changes', () => {
    const book = new DealBook(rules);
    book.apply(ev('a', 'crm.deal.created', T0));
    expect(book.apply(ev('a', 'crm.deal.created', T0))).toEqual({ outputs: [], changed: [] });
  });

  it('given many deals, then snapshots come in master_deal_id order', () => {
    const book = new DealBook(rules);
    for (const id of ['MD-3', 'MD-1', 'MD-2']) book.apply(ev(`${id}-c`, 'crm.deal.created', T0, id));
    expect([...book.snapshots()].map((s) => s.master_deal_id)).toEqual(['MD-1', 'MD-2', 'MD-3']);
  });
});

describe('DealBook duplicates', () => {
  it('given a duplicate that moves event time, then the deal is not reported as changed', () => {
    const book = new DealBook(rules, { allowedLatenessMs: 0 });
    book.apply(ev('a', 'crm.deal.created', T0));
    book.apply(ev('b', 'crm.deal.created', T0 + HOUR, 'MD-2'));
    expect(book.apply(ev('a', 'crm.deal.created', T0)).changed).toEqual([]);
  });
});

describe('DealBook.restore and the rules a state was built with', () => {
  it('given a state saved under other rules, when restored, then it is refused with both fingerprints and the way out', () => {
    const other = parseRules(readFileSync(DEFAULT_RULES_PATH, 'utf8').replace('target: 8h', 'target: 9h'), 'changed.yaml');
    const first = new DealBook(rules);
    first.apply(ev('a', 'crm.deal.created', T0));
    const saved = JSON.parse(JSON.stringify(first.get('MD-1')));
    const book = new DealBook(other);
    expect(() => book.restore(saved)).toThrow(RulesMismatchError);
    expect(() => book.restore(saved)).toThrow(`built with rules ${rules.fingerprint}, but changed.yaml is ${other.fingerprint}`);
    expect(() => book.restore(saved)).toThrow('masterdeal replay --from earliest --rebuild');
    expect(book.get('MD-1')).toBeUndefined();
  });

  it('given a state saved under the same rules, or one written before states were stamped, then it is restored', () => {
    const first = new DealBook(rules);
    first.apply(ev('a', 'crm.deal.created', T0));
    const saved = JSON.parse(JSON.stringify(first.get('MD-1')));
    const book = new DealBook(rules);
    book.restore(saved);
    const { rules: _stamp, ...unstamped } = saved;
    book.restore({ ...unstamped, master_deal_id: 'MD-2' });
    expect(book.states().map((s) => s.master_deal_id).sort()).toEqual(['MD-1', 'MD-2']);
  });
});
