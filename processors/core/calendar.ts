import { DateTime } from 'luxon';

/**
 * Business-hours calendar for SLA timers (SPEC §4): a time zone, working windows per weekday
 * and public holidays. Deadlines and durations count only working time. Pure; windows of a
 * day are cached because every deal asks about the same few weeks.
 */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface CalendarSpec {
  zone: string;
  /** `"09:00-18:00"`, or several windows `"09:00-13:00,14:00-18:00"`; a missing day is off. */
  hours: Partial<Record<Weekday, string>>;
  /** Local dates `YYYY-MM-DD` that are off whatever the weekday. */
  holidays: string[];
}

type Minutes = [from: number, to: number];
const WINDOW = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/;
const MAX_DAYS = 3_660; // a ten-year horizon bounds the search over a calendar with almost no working time

/** Parses `"09:00-13:00,14:00-18:00"` into minute ranges, or returns a reason. */
export function parseWindows(text: string): Minutes[] | string {
  const out: Minutes[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    const m = WINDOW.exec(part);
    if (!m) return `bad working window '${part}' (expected HH:MM-HH:MM)`;
    const from = Number(m[1]) * 60 + Number(m[2]);
    const to = Number(m[3]) * 60 + Number(m[4]);
    if (Number(m[2]) > 59 || Number(m[4]) > 59 || to > 24 * 60 || from >= to) return `bad working window '${part}'`;
    if (out.length > 0 && from < out[out.length - 1][1]) return `working windows overlap or are unordered in '${text}'`;
    out.push([from, to]);
  }
  return out;
}

export class BusinessCalendar {
  private readonly weekly: Minutes[][];
  private readonly holidays: Set<string>;
  private readonly cache = new Map<number, Array<[number, number]>>();

  constructor(readonly spec: CalendarSpec) {
    this.weekly = WEEKDAYS.map((d) => {
      const text = spec.hours[d];
      if (!text) return [];
      const parsed = parseWindows(text);
      if (typeof parsed === 'string') throw new Error(parsed);
      return parsed;
    });
    this.holidays = new Set(spec.holidays);
  }

  /** Working milliseconds in [from, to). */
  elapsed(from: number, to: number): number {
    if (to <= from) return 0;
    let total = 0;
    let day = this.dayOf(from);
    for (let i = 0; i < MAX_DAYS; i++, day = day.plus({ days: 1 })) {
      if (day.toMillis() >= to) break;
      for (const [ws, we] of this.windowsOf(day)) {
        const s = Math.max(ws, from);
        const e = Math.min(we, to);
        if (e > s) total += e - s;
      }
    }
    return total;
  }

  /** The earliest instant at which `ms` of working time has elapsed since `from`. */
  add(from: number, ms: number): number {
    if (ms <= 0) return from;
    let rest = ms;
    let day = this.dayOf(from);
    for (let i = 0; i < MAX_DAYS; i++, day = day.plus({ days: 1 })) {
      for (const [ws, we] of this.windowsOf(day)) {
        const s = Math.max(ws, from);
        if (s >= we) continue;
        if (rest <= we - s) return s + rest;
        rest -= we - s;
      }
    }
    throw new Error(`calendar ${this.spec.zone}: no deadline within ${MAX_DAYS} days`);
  }

  private dayOf(ts: number): DateTime {
    return DateTime.fromMillis(ts, { zone: this.spec.zone }).startOf('day');
  }

  /** Absolute [start, end) ms of the working windows of a local day (DST-correct via luxon). */
  private windowsOf(day: DateTime): Array<[number, number]> {
    const key = day.toMillis();
    let windows = this.cache.get(key);
    if (windows) return windows;
    windows = [];
    if (!this.holidays.has(day.toISODate() ?? '')) {
      // wall-clock setters, not elapsed-time plus(), so 09:00 stays 09:00 on DST days
      const at = (min: number) =>
        min === 24 * 60
          ? day.plus({ days: 1 }).toMillis()
          : day.set({ hour: Math.floor(min / 60), minute: min % 60 }).toMillis();
      for (const [from, to] of this.weekly[day.weekday - 1]) windows.push([at(from), at(to)]);
    }
    if (this.cache.size > 20_000) this.cache.clear();
    this.cache.set(key, windows);
    return windows;
  }
}
