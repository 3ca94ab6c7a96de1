/**
 * Epoch milliseconds → `YYYY-MM-DDTHH:MM:SS.mmmZ`, as `Date.prototype.toISOString` writes it, but
 * without a Date per call: the date part is cached per day (a deal's timestamps, and a batch's,
 * cluster on few days), and the time of day is written from integers. The sink renders several
 * timestamps per canonical row, so this is on the warehouse's hot path.
 */
const DAY_MS = 86_400_000;
/** Years 0000–9999: toISOString's plain form (outside it writes ±YYYYYY; left to Date). */
const MIN_MS = -62_167_219_200_000;
const MAX_MS = 253_402_300_799_999;

let cachedDay = Number.NaN;
let cachedPrefix = '';

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

export function isoUtc(ms: number): string {
  if (!Number.isInteger(ms) || ms < MIN_MS || ms > MAX_MS) return new Date(ms).toISOString(); // same result, or the same RangeError
  const day = Math.floor(ms / DAY_MS);
  if (day !== cachedDay) {
    cachedPrefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    cachedDay = day;
  }
  let rest = ms - day * DAY_MS;
  const millis = rest % 1000;
  rest = (rest - millis) / 1000;
  const seconds = rest % 60;
  rest = (rest - seconds) / 60;
  const minutes = rest % 60;
  const hours = (rest - minutes) / 60;
  return `${cachedPrefix}${pad2(hours)}:${pad2(minutes)}:${pad2(seconds)}.${pad3(millis)}Z`;
}
