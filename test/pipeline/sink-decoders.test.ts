import { describe, expect, it } from 'vitest';
import { decodeCanonicalValueFramed, decodeEnvelopeFramed, encodeCanonicalOutputFramed, encodeEnvelopeFramed } from '../../processors/codec/envelope-avro.ts';
import { CANONICAL_TYPES, ENVELOPE_TYPE, schemaCatalog } from '../../processors/codec/schemas.ts';
import { DealBook } from '../../processors/core/deal-book.ts';
import { loadDefaultRules } from '../../processors/core/rules/load.ts';
import { generatedEnvelopes } from '../../processors/pipeline/traffic.ts';
import { canonicalValueDecoder, envelopeDecoder, type PipelineContext } from '../../processors/pipeline/wiring.ts';

const catalog = schemaCatalog();
const ids: Record<number, string> = { 1: ENVELOPE_TYPE, 2: CANONICAL_TYPES['masterdeal.snapshot'], 3: CANONICAL_TYPES['masterdeal.stage.changed'] };
/** A registry lookup that answers asynchronously and counts its calls. */
function context() {
  const calls = { n: 0 };
  const lookup = async (id: number) => {
    calls.n++;
    return ids[id] ? catalog.type(ids[id]!) : undefined;
  };
  return { ctx: { registry: { lookup } } as unknown as PipelineContext, lookup, calls };
}

describe("the sink's decoders", () => {
  const envelopes = [...generatedEnvelopes({ deals: 5, seed: 3 })];

  it('given framed envelopes, then the same envelopes as the framed decoder: the first of a schema id asynchronously, the rest at once', async () => {
    const { ctx, lookup, calls } = context();
    const decode = envelopeDecoder(ctx);
    const first = decode(encodeEnvelopeFramed(envelopes[0]!, 1));
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toEqual(await decodeEnvelopeFramed(encodeEnvelopeFramed(envelopes[0]!, 1), lookup));
    const before = calls.n;
    for (const env of envelopes.slice(1)) {
      const framed = encodeEnvelopeFramed(env, 1);
      const got = decode(framed);
      expect(got).not.toBeInstanceOf(Promise);
      expect(got).toEqual(await decodeEnvelopeFramed(framed, lookup));
    }
    expect(calls.n - before).toBe(envelopes.length - 1); // only the reference decodes looked up
  });

  it('given bad frames or an unknown schema id, then the same codec errors as the framed decoder', async () => {
    const { ctx, lookup } = context();
    const decode = envelopeDecoder(ctx);
    const good = encodeEnvelopeFramed(envelopes[0]!, 1);
    await decode(good);
    const cases = [Buffer.from([0, 0]), Buffer.from([1, 0, 0, 0, 1, 2]), Buffer.concat([Buffer.from([0, 0, 0, 0, 9]), good.subarray(5)]), Buffer.concat([good.subarray(0, 5), Buffer.from([0xff, 0xff])])];
    for (const buf of cases) {
      const expected = await decodeEnvelopeFramed(buf, lookup).then(() => 'ok', (e) => `${e.code}`);
      const got = await (async () => decode(buf))().then(() => 'ok', (e) => `${e.code}`);
      expect(got).toBe(expected);
      expect(got).not.toBe('ok');
    }
  });

  it('given canonical records of several types, then the decoded values of the framed decoder', async () => {
    const { ctx, lookup } = context();
    const decode = canonicalValueDecoder(ctx);
    const book = new DealBook(loadDefaultRules());
    for (const env of envelopes) {
      for (const o of book.apply(env).outputs) {
        if (o.type !== 'masterdeal.stage.changed') continue;
        const framed = encodeCanonicalOutputFramed(o, 3);
        expect(await decode(o.type, framed)).toEqual(await decodeCanonicalValueFramed(o.type, framed, lookup));
      }
    }
    for (const snap of book.snapshots()) {
      const framed = encodeCanonicalOutputFramed(snap, 2);
      expect(await decode(snap.type, framed)).toEqual(await decodeCanonicalValueFramed(snap.type, framed, lookup));
    }
  });
});
