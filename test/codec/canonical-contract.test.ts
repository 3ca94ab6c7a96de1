import { describe, expect, it } from 'vitest';
import { decodeCanonical, encodeCanonical, type CanonicalJson } from '../../processors/codec/envelope-avro.ts';
import { validateEnvelope } from '../../processors/codec/envelope-json.ts';
import { toJson, type CanonicalOutput } from '../../processors/core/canonical.ts';
import { DealBook } from '../../processors/core/deal-book.ts';
import { loadDefaultRules } from '../../processors/core/rules/load.ts';
import { generateEvents } from '../../processors/generate/generator.ts';

describe('canonical schemas fit what the engine produces', () => {
  it('every output of folding generated deals encodes to Avro and decodes to the same JSON form', () => {
    const book = new DealBook(loadDefaultRules());
    const outputs: CanonicalOutput[] = [];
    for (const json of generateEvents({ deals: 150, seed: 4, duplicates: 0.05, late: 0.05, shuffleWindow: 64 })) {
      const r = validateEnvelope(json);
      if (!r.ok) throw new Error(r.reason);
      outputs.push(...book.apply(r.envelope).outputs);
    }
    outputs.push(...book.advanceTo(book.highestEventTs ?? 0).outputs, ...book.snapshots());
    const seen = new Set<string>();
    for (const o of outputs) {
      const json = toJson(o) as CanonicalJson;
      expect(decodeCanonical(json.type, encodeCanonical(json))).toEqual(json);
      seen.add(o.type);
    }
    expect([...seen].sort()).toEqual(['masterdeal.closed', 'masterdeal.sla.breached', 'masterdeal.sla.updated', 'masterdeal.snapshot', 'masterdeal.stage.changed']);
  });
});
