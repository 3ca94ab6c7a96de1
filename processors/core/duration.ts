/**
 * Durations in rules files: `500ms`, `30s`, `15m`, `8h`, `2d`, `1w` (or a sum such as `1d12h`),
 * or ISO-8601 (`PT8H`, `P2D`). Days are 24 h of elapsed time; calendars handle working time.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y;
const ISO = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Milliseconds of a duration string, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === '' || s === 'P' || s === 'PT') return undefined;
  if (s === '0') return 0;
  const iso = ISO.exec(s);
  if (iso) {
    const [, w, d, h, m, sec] = iso;
    return Math.round(
      Number(w ?? 0) * UNIT_MS.w + Number(d ?? 0) * UNIT_MS.d + Number(h ?? 0) * UNIT_MS.h +
        Number(m ?? 0) * UNIT_MS.m + Number(sec ?? 0) * UNIT_MS.s,
    );
  }
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const at = PART.lastIndex;
    const m = PART.exec(s);
    if (!m || m.index !== at) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]];
  }
  return Math.round(total);
}

/** A compact human form, for messages and help texts. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const unit of ['d', 'h', 'm', 's', 'ms']) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * UNIT_MS[unit];
  }
  return parts.join('');
}
