import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { schemaCatalog } from '../../processors/codec/schemas.ts';
import { DealBook, loadDefaultRules, savedState, type DealState, type SavedDealState } from '../../processors/core/index.ts';
import {
  CHANGELOG_ENTRY_TYPE,
  CHANGELOG_FORMAT_AVRO,
  ChangelogDecodeError,
  decodeChangelogEntry,
  encodeChangelogEntry,
} from '../../processors/pipeline/changelog.ts';
import { generatedEnvelopes } from '../../processors/pipeline/traffic.ts';

const avsc = schemaCatalog().type(CHANGELOG_ENTRY_TYPE);

/** The record avsc writes for a saved state: what encodeChangelogEntry must equal byte for byte. */
function asAvroRecord(s: SavedDealState, snapshotVersion: number | null) {
  return {
    master_deal_id: s.master_deal_id,
    version: s.version,
    rules: s.rules ?? null,
    seen: s.seen,
    facts: s.facts.map((f) => {
      const i = s.seen.indexOf(f.id);
      return { ts: f.ts, seen_index: i, id: i < 0 ? f.id : '', type: f.type };
    }),
    breaches: s.breaches,
    emitted: s.emitted ?? null,
    watermark: s.watermark,
    next_deadline: s.next_deadline,
    first_event_ts: s.first_event_ts,
    last_event_ts: s.last_event_ts,
    snapshot_version: snapshotVersion,
  };
}

// The range a zig-zag long is exact in as a double and avsc reads: [-2^52, 2^53 - 2].
const safeLong = fc.oneof(fc.integer(), fc.integer({ min: -(2 ** 52), max: 2 ** 53 - 2 }));
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', minLength: 20, maxLength: 120 }), fc.uuid());
const saved: fc.Arbitrary<SavedDealState> = fc
  .record({
    master_deal_id: text,
    version: fc.nat(),
    rules: fc.option(fc.string({ minLength: 16, maxLength: 16 }), { nil: undefined }),
    seen: fc.uniqueArray(text, { maxLength: 30 }),
    extraFacts: fc.array(fc.record({ ts: safeLong, id: text, type: text }), { maxLength: 3 }),
    pick: fc.array(fc.record({ at: fc.nat(), ts: safeLong, type: text }), { maxLength: 20 }),
    breaches: fc.array(text, { maxLength: 4 }),
    emitted: fc.option(fc.array(fc.oneof(fc.nat(), fc.integer({ min: 0, max: 2 ** 53 - 1 })), { maxLength: 20 }), { nil: undefined }),
    watermark: fc.option(safeLong),
    next_deadline: fc.option(safeLong),
    first_event_ts: fc.option(safeLong),
    last_event_ts: fc.option(safeLong),
  })
  .map(({ pick, extraFacts, ...s }) => {
    // Facts point into seen (as the engine keeps them), plus some whose id is not there.
    const facts = s.seen.length === 0 ? [] : pick.map((p) => ({ ts: p.ts, id: s.seen[p.at % s.seen.length]!, type: p.type }));
    const out: SavedDealState = { ...s, facts: [...facts, ...extraFacts] };
    if (out.rules === undefined) delete out.rules;
    if (out.emitted === undefined) delete out.emitted;
    return out;
  });

function generatedStates(): DealState[] {
  const book = new DealBook(loadDefaultRules(), { allowedLatenessMs: 1e15 });
  let n = 0;
  for (const e of generatedEnvelopes({ deals: 300, seed: 7, shuffleWindow: 64 })) {
    book.apply(e);
    if (++n >= 4_000) break;
  }
  return [...book.states()];
}

describe('changelog values', () => {
  it('given any saved state, the value is the format byte and then exactly avsc’s DealChangelogEntry bytes', () => {
    fc.assert(
      fc.property(saved, fc.option(fc.nat()), (s, sv) => {
        const value = encodeChangelogEntry(s, sv);
        expect(value[0]).toBe(CHANGELOG_FORMAT_AVRO);
        expect(value.subarray(1).equals(avsc.toBuffer(asAvroRecord(s, sv)))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('given any saved state, decoding its value gives the saved state and snapshot version back', () => {
    fc.assert(
      fc.property(saved, fc.option(fc.nat()), (s, sv) => {
        expect(decodeChangelogEntry(encodeChangelogEntry(s, sv))).toEqual({ state: s, snapshot_version: sv });
      }),
      { numRuns: 300 },
    );
  });

  it('given engine states, the value holds what savedState keeps, in fewer bytes than the JSON form', () => {
    let compact = 0;
    let json = 0;
    for (const state of generatedStates()) {
      const value = encodeChangelogEntry(state, state.version - 1);
      expect(decodeChangelogEntry(value)).toEqual({ state: savedState(state), snapshot_version: state.version - 1 });
      compact += value.length;
      json += JSON.stringify({ state: savedState(state), snapshot_version: state.version - 1 }).length;
    }
    expect(compact).toBeLessThan(json * 0.7);
  });

  it('given a JSON value written before the compact form (saved or whole state), it decodes as it was written', () => {
    const [state] = generatedStates();
    const old = { state: savedState(state!), snapshot_version: 3 };
    expect(decodeChangelogEntry(Buffer.from(JSON.stringify(old)))).toEqual(old);
    const whole = JSON.parse(JSON.stringify({ state, snapshot_version: null }));
    expect(decodeChangelogEntry(Buffer.from(JSON.stringify(whole)))).toEqual(whole);
  });

  it('given a number outside the exact range, encoding refuses it rather than write a wrong value', () => {
    const [state] = generatedStates();
    expect(() => encodeChangelogEntry({ ...state!, watermark: -(2 ** 52) - 1 }, null)).toThrow(RangeError);
    expect(() => encodeChangelogEntry({ ...state!, watermark: 1.5 }, null)).toThrow(RangeError);
    // The ends of the range still round-trip (53-bit output hashes reach 2^53 - 1).
    const ends = { ...savedState(state!), watermark: -(2 ** 52), emitted: [2 ** 53 - 1, 0] };
    expect(decodeChangelogEntry(encodeChangelogEntry(ends, 2 ** 53 - 2))).toEqual({ state: ends, snapshot_version: 2 ** 53 - 2 });
    expect(() => encodeChangelogEntry(ends, 2 ** 53 - 1)).toThrow(RangeError);
  });

  it('given a truncated compact value, decoding fails with a ChangelogDecodeError naming the schema', () => {
    const [state] = generatedStates();
    const value = encodeChangelogEntry(state!, null);
    expect(() => decodeChangelogEntry(value.subarray(0, value.length >> 1))).toThrow(ChangelogDecodeError);
    expect(() => decodeChangelogEntry(value.subarray(0, value.length >> 1))).toThrow(/DealChangelogEntry/);
  });
});
