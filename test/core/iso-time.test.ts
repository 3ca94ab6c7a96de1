import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoUtc } from '../../processors/core/iso-time.ts';

describe('isoUtc', () => {
  it('writes what Date.toISOString writes, for any millisecond of years 0000-9999', () => {
    fc.assert(
      fc.property(fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }), (ms) => {
        expect(isoUtc(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 20_000 },
    );
  });

  it('is right at day and year boundaries, and across the per-day cache', () => {
    for (const iso of ['1970-01-01T00:00:00.000Z', '1969-12-31T23:59:59.999Z', '2024-02-29T23:59:59.999Z', '2026-11-24T00:00:00.001Z', '0000-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']) {
      const ms = Date.parse(iso);
      expect(isoUtc(ms)).toBe(iso);
      expect(isoUtc(ms + 1)).toBe(new Date(ms + 1).toISOString());
      expect(isoUtc(ms)).toBe(iso);
    }
  });

  it('hands other values to Date: extended years, and a RangeError for what has no ISO form', () => {
    expect(isoUtc(8.64e15)).toBe('+275760-09-13T00:00:00.000Z');
    expect(isoUtc(-8.64e15)).toBe('-271821-04-20T00:00:00.000Z');
    expect(() => isoUtc(Number.NaN)).toThrow(RangeError);
    expect(() => isoUtc(8.64e15 + 1)).toThrow(RangeError);
  });
});
