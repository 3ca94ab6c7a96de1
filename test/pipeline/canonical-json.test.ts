import { describe, expect, it } from 'vitest';
import { decodeCanonicalValue, encodeCanonicalOutput, type CanonicalJson } from '../../processors/codec/envelope-avro.ts';
import { validateEnvelope } from '../../processors/codec/envelope-json.ts';
import { toJson, type CanonicalOutput } from '../../processors/core/canonical.ts';
import { DealBook } from '../../processors/core/deal-book.ts';
import { loadDefaultRules } from '../../processors/core/rules/load.ts';
import { generateEvents } from '../../processors/generate/generator.ts';
import type { ConsumedRecord } from '../../processors/kafka/ports.ts';
import { canonicalJsonRenderer } from '../../processors/pipeline/canonical-json.ts';
import { canonicalEventLine, canonicalValueLine, snapshotLine, type CanonicalValue } from '../../processors/pipeline/warehouse-rows.ts';

/** Every kind of output the engine makes (late events and breaches included), as the sink decodes them from Avro. */
function decodedOutputs(): CanonicalValue[] {
  const book = new DealBook(loadDefaultRules());
  const outputs: CanonicalOutput[] = [];
  for (const json of generateEvents({ deals: 80, seed: 5, late: 0.05 })) {
    const r = validateEnvelope(json);
    if (r.ok) outputs.push(...book.apply(r.envelope).outputs);
  }
  outputs.push(...book.advanceTo((book.highestEventTs ?? 0) + 90 * 86_400_000).outputs, ...book.snapshots());
  return outputs.map((o) => decodeCanonicalValue(o.type, encodeCanonicalOutput(o)));
}

const record = (i: number): ConsumedRecord => ({ topic: 'md.canonical', partition: i % 5, offset: String(i), timestamp: 1_700_000_000_000 + i, key: null, value: null, headers: { 'masterdeal.version': Buffer.from('9') } });

describe('canonical records rendered as JSON text from their decoded values', () => {
  const values = decodedOutputs();

  it('covers every canonical type', () => {
    expect(new Set(values.map((v) => v.type))).toEqual(new Set(['masterdeal.stage.changed', 'masterdeal.sla.updated', 'masterdeal.sla.breached', 'masterdeal.closed', 'masterdeal.snapshot']));
  });

  it('given any decoded output, then the text is JSON.stringify(toJson(value)), byte for byte', () => {
    for (const v of values) {
      const json = JSON.stringify(toJson(v as unknown as CanonicalOutput));
      expect(canonicalJsonRenderer(v.type)!.render(v)).toBe(json);
    }
  });

  it('given any decoded output, then its warehouse line is the line of its JSON form', () => {
    values.forEach((v, i) => {
      const body = toJson(v as unknown as CanonicalOutput) as CanonicalJson;
      const expected = v.type === 'masterdeal.snapshot' ? snapshotLine(body, record(i)) : canonicalEventLine(body, record(i));
      expect(canonicalValueLine(v, record(i))).toBe(expected);
    });
  });

  it('given hostile strings, nulls, empty maps and an unusual key order in maps, then still JSON.stringify(toJson(value))', () => {
    const snapshot = values.find((v) => v.type === 'masterdeal.snapshot')!;
    const odd: CanonicalValue = {
      ...snapshot,
      master_deal_id: 'MD-"q"\\back\ttab\n💥\u2028\ud800',
      stage: 'stage "x"',
      stage_since: null,
      gates: { '10': { value: true, event_ts: null, event_id: null }, b: { value: false, event_ts: 0, event_id: 'é' }, '2': { value: true, event_ts: -1, event_id: '' } },
      facts: {},
      timeline: [],
      last_event_ts: null,
    };
    expect(canonicalJsonRenderer('masterdeal.snapshot')!.render(odd)).toBe(JSON.stringify(toJson(odd as unknown as CanonicalOutput)));

    expect(canonicalValueLine(odd, record(1))).toBe(snapshotLine(toJson(odd as unknown as CanonicalOutput) as CanonicalJson, record(1)));
    const event = values.find((v) => v.type === 'masterdeal.sla.updated')!;
    const nulls: CanonicalValue = { ...event, stopped_at: null, duration_ms: null, sla: 'a\\b' };
    expect(canonicalJsonRenderer(nulls.type)!.render(nulls)).toBe(JSON.stringify(toJson(nulls as unknown as CanonicalOutput)));
  });

  it('given an event without an id, then its line still is the JSON form line (the id hashed from it)', () => {
    const v = { ...values.find((x) => x.type === 'masterdeal.closed')!, event_id: '' };
    expect(canonicalValueLine(v, record(3))).toBe(canonicalEventLine(toJson(v as unknown as CanonicalOutput) as CanonicalJson, record(3)));
  });
});
