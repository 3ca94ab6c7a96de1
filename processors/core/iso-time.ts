/**
 * Epoch milliseconds → `YYYY-MM-DDTHH:MM:SS.mmmZ`, as `Date.prototype.toISOString` writes it, but
 * without a Date per call: the date part is cached per day in 1,024 slots (a snapshot's timestamps
 * span many days — deadlines, gates, the timeline — which a one-day cache keeps missing), and the
 * time of day is written from integers. The sink renders several timestamps per canonical row, so
 * this is on the warehouse's hot path.
 */
const DAY_MS = 86_400_000;
/** Years 0000–9999: toISOString's plain form (outside it writes ±YYYYYY; left to Date). */
const MIN_MS = -62_167_219_200_000;
const MAX_MS = 253_402_300_799_999;

const SLOTS = 1024;
const slotDay = new Float64Array(SLOTS).fill(Number.NaN);
const slotPrefix: string[] = new Array<string>(SLOTS).fill('');

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

export function isoUtc(ms: number): string {
  if (!Number.isInteger(ms) || ms < MIN_MS || ms > MAX_MS) return new Date(ms).toISOString(); // same result, or the same RangeError
  const day = Math.floor(ms / DAY_MS);
  const slot = day & (SLOTS - 1);
  if (slotDay[slot] !== day) {
    slotPrefix[slot] = new Date(day * DAY_MS).toISOString().slice(0, 11);
    slotDay[slot] = day;
  }
  let rest = ms - day * DAY_MS;
  const millis = rest % 1000;
  rest = (rest - millis) / 1000;
  const seconds = rest % 60;
  rest = (rest - seconds) / 60;
  const minutes = rest % 60;
  const hours = (rest - minutes) / 60;
  return `${slotPrefix[slot]}${pad2(hours)}:${pad2(minutes)}:${pad2(seconds)}.${pad3(millis)}Z`;
}
