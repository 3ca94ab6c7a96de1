import { describe, expect, it } from 'vitest';
import {
  decodeCanonical,
  decodeEnvelope,
  encodeEnvelope,
  decodeCanonicalValue,
  encodeCanonical,
  encodeCanonicalOutput,
  encodeCanonicalOutputFramed,
  type CanonicalJson,
} from '../../processors/codec/envelope-avro.ts';
import * as wire from '../../processors/codec/wire-format.ts';
import { envelopeToJson, validateEnvelope } from '../../processors/codec/envelope-json.ts';
import { toJson, type CanonicalOutput } from '../../processors/core/canonical.ts';
import { DealBook } from '../../processors/core/deal-book.ts';
import { loadDefaultRules } from '../../processors/core/rules/load.ts';
import { generateEvents } from '../../processors/generate/generator.ts';

function engineOutputs(): CanonicalOutput[] {
  const book = new DealBook(loadDefaultRules());
  const outputs: CanonicalOutput[] = [];
  for (const json of generateEvents({ deals: 120, seed: 11, duplicates: 0.05, late: 0.05, shuffleWindow: 64 })) {
    const r = validateEnvelope(json);
    if (!r.ok) throw new Error(r.reason);
    outputs.push(...book.apply(r.envelope).outputs);
  }
  outputs.push(...book.advanceTo(book.highestEventTs ?? 0).outputs, ...book.snapshots());
  return outputs;
}

describe('direct path: engine outputs <-> Avro without the JSON form', () => {
  const outputs = engineOutputs();

  it('encodes every engine output to the same bytes as the JSON-form path', () => {
    const types = new Set<string>();
    for (const o of outputs) {
      expect(encodeCanonicalOutput(o).equals(encodeCanonical(toJson(o) as CanonicalJson))).toBe(true);
      types.add(o.type);
    }
    expect(types.size).toBe(5);
  });

  it('decodes to the engine shape, whose toJson is the JSON-form decode (same text)', () => {
    for (const o of outputs) {
      const body = encodeCanonicalOutput(o);
      const value = decodeCanonicalValue(o.type, body);
      expect(value).toEqual(o);
      expect(JSON.stringify(toJson(value as unknown as CanonicalOutput))).toBe(JSON.stringify(decodeCanonical(o.type, body)));
    }
  });

  it('frames every engine output to the bytes of wire.encode(id, body), also after the scratch buffer grew', () => {
    for (const o of outputs) expect(encodeCanonicalOutputFramed(o, 7).equals(wire.encode(7, encodeCanonicalOutput(o)))).toBe(true);
    const snapshot = outputs.find((o) => o.type === 'masterdeal.snapshot')!;
    // A snapshot bigger than the 64 KiB scratch buffer (a very long timeline).
    const big = { ...snapshot, timeline: Array.from({ length: 3_000 }, () => (snapshot as any).timeline[0]) } as CanonicalOutput;
    const framed = encodeCanonicalOutputFramed(big, 0xfffffffe);
    expect(framed.length).toBeGreaterThan(64 * 1024);
    expect(framed.equals(wire.encode(0xfffffffe, encodeCanonicalOutput(big)))).toBe(true);
    expect(encodeCanonicalOutputFramed(outputs[0]!, 3).equals(wire.encode(3, encodeCanonicalOutput(outputs[0]!)))).toBe(true);
    expect(() => encodeCanonicalOutputFramed(outputs[0]!, -1)).toThrow(RangeError);
  });

  it('refuses an output whose fields do not fit the schema, naming the type', () => {
    const bad = { ...outputs.find((o) => o.type === 'masterdeal.stage.changed')!, event_ts: 'soon' } as unknown as CanonicalOutput;
    expect(() => encodeCanonicalOutput(bad)).toThrow(expect.objectContaining({ code: 'AVRO_ENCODE_FAILED', message: expect.stringMatching(/^cannot encode masterdeal\.stage\.changed: /) }));
    expect(() => encodeCanonicalOutput({ type: 'masterdeal.nope' } as unknown as CanonicalOutput)).toThrow(expect.objectContaining({ code: 'CANONICAL_INVALID' }));
    expect(() => encodeCanonicalOutputFramed(bad, 1)).toThrow(expect.objectContaining({ code: 'AVRO_ENCODE_FAILED', message: expect.stringMatching(/^cannot encode masterdeal\.stage\.changed: /) }));
  });
});

describe('envelope decode without the JSON round trip', () => {
  it('gives the envelope validateEnvelope gives for the JSON form, for every generated event type', () => {
    const types = new Set<string>();
    for (const json of generateEvents({ deals: 60, seed: 5, duplicates: 0.05, late: 0.05 })) {
      const r = validateEnvelope(json);
      if (!r.ok) throw new Error(r.reason);
      const decoded = decodeEnvelope(encodeEnvelope(r.envelope));
      expect(decoded).toEqual(r.envelope);
      const viaJson = validateEnvelope(envelopeToJson(decoded));
      expect(viaJson.ok && JSON.stringify(viaJson.envelope)).toBe(JSON.stringify(decoded));
      types.add(decoded.event_type);
    }
    expect(types.size).toBeGreaterThan(8);
  });
});
