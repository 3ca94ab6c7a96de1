import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { avroToJson, avroValueSurelyValid, jsonToAvro } from '../../processors/codec/json-form.ts';
import { ENVELOPE_TYPE, schemaCatalog } from '../../processors/codec/schemas.ts';
import { encodeEnvelope } from '../../processors/codec/envelope-avro.ts';
import { validateEnvelope } from '../../processors/codec/envelope-json.ts';
import { generateEvents } from '../../processors/generate/generator.ts';

const catalog = schemaCatalog();

/** What ingest did for every payload before the quick check: convert to the JSON form and back. */
function fullConversionPasses(name: string, value: unknown): boolean {
  const schema = catalog.definition(name);
  try {
    jsonToAvro(catalog, schema, avroToJson(catalog, schema, value), 'payload');
    return true;
  } catch {
    return false;
  }
}

/** Edge values for each field of a record: range ends and beyond, empty strings, extreme times, huge amounts. */
function mutations(value: Record<string, unknown>): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const numbers = [-1, 0, 1, 10, 11, 100, 101, 0.5, -0.01, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 - 2, -(2 ** 52), 253_402_300_799_999, 253_402_300_800_000, 2_932_896, 2_932_897, Number.NaN, Number.POSITIVE_INFINITY];
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'number') for (const n of numbers) out.push({ ...value, [k]: n });
    if (typeof v === 'string') out.push({ ...value, [k]: '' }, { ...value, [k]: 'x' });
    if (v === null) out.push({ ...value, [k]: 0 });
    out.push({ ...value, [k]: undefined }, { ...value, [k]: null });
  }
  return out;
}

describe('avroValueSurelyValid (ingest’s quick check of a decoded payload)', () => {
  const payloadTypes = catalog.eventTypes().map((t) => catalog.payloadTypeOf(t)!);

  it('given random and edge payload values of every event type, never says valid when converting to JSON and back would fail', () => {
    let sure = 0;
    let unsure = 0;
    for (const name of payloadTypes) {
      const type = catalog.type(name) as avro.Type;
      const schema = catalog.definition(name);
      for (let i = 0; i < 60; i++) {
        const base = type.random() as unknown as Record<string, unknown>;
        for (const v of [base, ...mutations(base)]) {
          if (avroValueSurelyValid(catalog, schema, v)) {
            sure++;
            expect(fullConversionPasses(name, v), `${name}: ${JSON.stringify(v)}`).toBe(true);
          } else unsure++;
        }
      }
    }
    // Both answers happen: the check is exercised either way.
    expect(sure).toBeGreaterThan(100);
    expect(unsure).toBeGreaterThan(100);
  });

  it('given the generator’s envelopes (valid traffic), is sure of every payload, so ingest skips the conversion back', () => {
    const envelopeType = catalog.type(ENVELOPE_TYPE);
    let n = 0;
    for (const json of generateEvents({ deals: 200, seed: 5, duplicates: 0, late: 0, shuffleWindow: 8 })) {
      const r = validateEnvelope(json);
      if (!r.ok) continue;
      const decoded = envelopeType.fromBuffer(encodeEnvelope(r.envelope)) as { event_type: string; payload: Record<string, unknown> };
      const name = catalog.payloadTypeOf(decoded.event_type)!;
      expect(avroValueSurelyValid(catalog, catalog.definition(name), decoded.payload[name])).toBe(true);
      n++;
    }
    expect(n).toBeGreaterThan(500);
  });
});
