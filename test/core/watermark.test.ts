import { describe, expect, it } from 'vitest';
import { EventTimeWatermark } from '../../processors/core/watermark.ts';
import { MINUTE, T0 } from './fixtures.ts';

describe('EventTimeWatermark', () => {
  it('given events, then it trails the highest event_ts by the allowed lateness and never moves back', () => {
    const w = new EventTimeWatermark(15 * MINUTE);
    expect(w.value).toBeNull();
    expect(w.observe(T0)).toBe(true);
    expect(w.value).toBe(T0 - 15 * MINUTE);
    expect(w.observe(T0 - 60 * MINUTE)).toBe(false); // a late event moves nothing
    expect(w.value).toBe(T0 - 15 * MINUTE);
    expect(w.highestEventTs).toBe(T0);
    expect(w.observe(T0 + MINUTE)).toBe(true);
    expect(w.value).toBe(T0 - 14 * MINUTE);
  });

  it('given an explicit advance (idle tick, end of input), then it moves only forward', () => {
    const w = new EventTimeWatermark(0);
    expect(w.advanceTo(T0)).toBe(true);
    expect(w.advanceTo(T0)).toBe(false);
    expect(w.advanceTo(T0 - 1)).toBe(false);
    expect(w.value).toBe(T0);
    expect(w.observe(T0 - 5)).toBe(false); // an event behind an advanced watermark leaves it
    expect(w.value).toBe(T0);
  });
});
