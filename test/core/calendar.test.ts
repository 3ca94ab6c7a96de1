import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BusinessCalendar, parseWindows } from '../../processors/core/calendar.ts';
import { advanceWatermark, apply, emptyDeal, snapshot, type DealState } from '../../processors/core/engine.ts';
import { DEFAULT_RULES_PATH, parseRules } from '../../processors/core/rules/load.ts';
import { ev, HOUR } from './fixtures.ts';

const weekdays = { mon: '09:00-18:00', tue: '09:00-18:00', wed: '09:00-18:00', thu: '09:00-18:00', fri: '09:00-18:00' };
const moscow = new BusinessCalendar({ zone: 'Europe/Moscow', hours: weekdays, holidays: ['2026-03-09'] });
const msk = (local: string) => Date.parse(`${local}+03:00`);

describe('business-hours calendar', () => {
  it('given Friday 15:00 and 8 working hours, then the deadline skips the weekend and the Monday holiday', () => {
    // Fri 6 Mar: 3 h; Sat, Sun off; Mon 9 Mar public holiday; Tue 10 Mar: 5 h → 14:00
    expect(moscow.add(msk('2026-03-06T15:00:00'), 8 * HOUR)).toBe(msk('2026-03-10T14:00:00'));
    expect(moscow.elapsed(msk('2026-03-06T15:00:00'), msk('2026-03-10T14:00:00'))).toBe(8 * HOUR);
  });

  it('given a start outside working hours, then the clock starts at the next opening', () => {
    expect(moscow.add(msk('2026-03-07T11:00:00'), HOUR)).toBe(msk('2026-03-10T10:00:00'));
    expect(moscow.elapsed(msk('2026-03-06T20:00:00'), msk('2026-03-10T08:00:00'))).toBe(0);
  });

  it('given a target that ends exactly at closing time, then the deadline is the closing instant', () => {
    expect(moscow.add(msk('2026-03-05T09:00:00'), 9 * HOUR)).toBe(msk('2026-03-05T18:00:00'));
  });

  it('given a DST change (Europe/Berlin, 29 Mar 2026), then working hours stay at local 09:00-17:00', () => {
    const berlin = new BusinessCalendar({ zone: 'Europe/Berlin', hours: { mon: '09:00-17:00', fri: '09:00-17:00' }, holidays: [] });
    // Fri 27 Mar 16:00 CET = 15:00Z; Mon 30 Mar 10:00 CEST = 08:00Z
    expect(berlin.elapsed(Date.parse('2026-03-27T15:00:00Z'), Date.parse('2026-03-30T08:00:00Z'))).toBe(2 * HOUR);
    expect(berlin.add(Date.parse('2026-03-27T15:00:00Z'), 2 * HOUR)).toBe(Date.parse('2026-03-30T08:00:00Z'));
  });

  it('given split windows, then the lunch break does not count', () => {
    const lunch = new BusinessCalendar({ zone: 'UTC', hours: { mon: '09:00-13:00,14:00-18:00' }, holidays: [] });
    expect(lunch.elapsed(Date.parse('2026-03-02T12:00:00Z'), Date.parse('2026-03-02T15:00:00Z'))).toBe(2 * HOUR);
    expect(parseWindows('14:00-18:00,09:00-13:00')).toMatch(/unordered/);
  });
});

describe('SLA with a calendar configured in the rules file', () => {
  const rules = parseRules(
    readFileSync(DEFAULT_RULES_PATH, 'utf8').replace('target: 8h }', 'target: 8h, calendar: moscow_office }'),
  );
  const created = ev('c', 'crm.deal.created', msk('2026-03-06T15:00:00'));
  const open = (): DealState => apply(emptyDeal('MD-1', rules), created, rules).state;

  it('given lead_to_brief on working hours, when the watermark sits in the holiday, then it is still open', () => {
    const { state, outputs } = advanceWatermark(open(), msk('2026-03-09T23:00:00'), rules);
    expect(outputs).toEqual([]);
    expect(snapshot(state, rules).sla.lead_to_brief).toMatchObject({ status: 'open', deadline_at: msk('2026-03-10T14:00:00') });
  });

  it('given a brief exactly at the business deadline, then it is met with 8 working hours; 1 ms later it is breached', () => {
    const met = apply(open(), ev('b', 'crm.brief.submitted', msk('2026-03-10T14:00:00')), rules).state;
    expect(snapshot(met, rules).sla.lead_to_brief).toMatchObject({ duration_ms: 8 * HOUR, breached: false });
    const late = apply(open(), ev('b', 'crm.brief.submitted', msk('2026-03-10T14:00:00') + 1), rules);
    expect(snapshot(late.state, rules).sla.lead_to_brief).toMatchObject({ duration_ms: 8 * HOUR + 1, breached: true });
    expect(late.outputs.filter((o) => o.type === 'masterdeal.sla.breached')).toHaveLength(1);
  });

  it('given the watermark 1 ms past the business deadline, then the open timer is breached', () => {
    const { outputs } = advanceWatermark(open(), msk('2026-03-10T14:00:00') + 1, rules);
    expect(outputs).toEqual([expect.objectContaining({ type: 'masterdeal.sla.breached', sla: 'lead_to_brief' })]);
  });
});
