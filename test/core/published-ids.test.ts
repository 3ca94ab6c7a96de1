import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  closedId,
  closedIdHash,
  idHash,
  slaUpdatedId,
  slaUpdatedIdHash,
  stageChangedId,
  stageChangedIdHash,
} from '../../processors/core/published-ids.ts';

describe('published-ids', () => {
  it('keeps the id hash saved in changelog states (values of the first release)', () => {
    expect(idHash('MD-000001:stage:ec1fed98-06f1-4cca-b2a4-94c9c58c6525:draft>briefed')).toBe(2696451449752044);
    expect(idHash('MD-7:closed:e-9')).toBe(7957260538650345);
    expect(idHash('MD-7:sla:lead_to_brief:e-1:-')).toBe(6867815342503909);
    expect(idHash('')).toBe(35186538225093);
  });

  it('hashes an id from its parts exactly as from the whole id', () => {
    const part = fc.string({ unit: 'binary', maxLength: 40 });
    fc.assert(
      fc.property(part, part, part, part, fc.option(part), (deal, a, b, c, stop) => {
        expect(stageChangedIdHash(deal, a, b, c)).toBe(idHash(stageChangedId(deal, a, b, c)));
        expect(closedIdHash(deal, a)).toBe(idHash(closedId(deal, a)));
        expect(slaUpdatedIdHash(deal, a, b, stop)).toBe(idHash(slaUpdatedId(deal, a, b, stop)));
      }),
      { numRuns: 2000 },
    );
  });
});

