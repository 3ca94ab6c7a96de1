import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { frameRequest, groupingPatched, groupMessagesPerPartition, recordDecoder } from '../../processors/kafka/kafkajs-patches.ts';
import { encodeRecord, type RecordInput } from '../../processors/kafka/record-encoding.ts';

const require = createRequire(import.meta.url);

/** kafkajs' own module, loaded afresh beside the patched one in the cache. */
function kafkajsOriginal<T>(module: string): T {
  const path = require.resolve(module);
  const patched = require.cache[path];
  delete require.cache[path];
  try {
    return require(path);
  } finally {
    if (patched) require.cache[path] = patched;
  }
}
const kafkajsGrouping = () => kafkajsOriginal<typeof groupMessagesPerPartition>('kafkajs/src/producer/groupMessagesPerPartition.js');

describe('kafkajs message grouping (linear)', () => {
  it('is installed before kafkajs loads', () => {
    expect(groupingPatched).toBe(true);
  });

  it('given messages with explicit and keyed partitions, groups them exactly as kafkajs does (same lists, same order)', () => {
    const original = kafkajsGrouping();
    expect(original).not.toBe(groupMessagesPerPartition);
    const partitionMetadata = [{ partitionId: 0 }, { partitionId: 1 }, { partitionId: 2 }];
    const messages = Array.from({ length: 500 }, (_, i) => ({ key: `k${i % 7}`, value: `v${i}`, partition: i % 5 === 0 ? 2 : undefined }));
    const partitioner = ({ message }: { message: unknown }) => {
      const m = message as { key: string; partition?: number };
      return m.partition ?? Number(m.key.slice(1)) % 3;
    };
    const args = { topic: 't', partitionMetadata, messages, partitioner };
    expect(groupMessagesPerPartition(args)).toEqual(original(args));
    expect(groupMessagesPerPartition({ ...args, partitionMetadata: [] })).toEqual(original({ ...args, partitionMetadata: [] }));
  });
});

describe('kafkajs request framing (one copy)', () => {
  it('given any request body and client id, the framed bytes equal kafkajs protocol/request.js', async () => {
    type Framed = { buffer: Buffer; size(): number };
    type Frame = (a: { correlationId: number; clientId: string | null; request: { apiKey: number; apiVersion: number; encode(): Promise<unknown> } }) => Promise<Framed>;
    const original = kafkajsOriginal<Frame>('kafkajs/src/protocol/request.js');
    const Encoder = require('kafkajs/src/protocol/encoder.js');
    const ours = frameRequest(Encoder) as unknown as Frame;
    expect(ours).not.toBe(original);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3_000 }), fc.option(fc.string({ unit: 'grapheme', maxLength: 30 })), fc.nat(60), fc.nat(12), fc.nat(2 ** 31 - 1), async (body, clientId, apiKey, apiVersion, correlationId) => {
        const request = { apiKey, apiVersion, encode: async () => new Encoder().writeBytes(Buffer.from(body)) };
        const expected = await original({ correlationId, clientId, request });
        const actual = await ours({ correlationId, clientId, request });
        expect(actual.size()).toBe(expected.size());
        expect(actual.buffer.equals(expected.buffer)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('kafkajs record decoding (numbers, not BigInt)', () => {
  type Decode = (decoder: unknown, ctx?: unknown) => unknown;
  const original = kafkajsOriginal<Decode>('kafkajs/src/protocol/recordBatch/record/v0/decoder.js');
  const ours = recordDecoder(original as never) as Decode;
  const Decoder = require('kafkajs/src/protocol/decoder.js');
  const bytesOrString = fc.oneof(fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), fc.string({ unit: 'grapheme', maxLength: 40 }));
  const record = fc.record({
    offsetDelta: fc.nat(100_000),
    timestampDelta: fc.oneof(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.constant(0), fc.constant(2 ** 50)),
    key: fc.option(bytesOrString),
    value: fc.option(bytesOrString),
    headers: fc.dictionary(
      fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.constantFrom('toString', 'constructor', '__proto__', 'a')),
      fc.oneof(bytesOrString, fc.array(bytesOrString, { minLength: 1, maxLength: 3 })),
      { maxKeys: 4 },
    ),
  }) as fc.Arbitrary<RecordInput>;
  const context = fc.record({
    firstOffset: fc.oneof(fc.nat().map(String), fc.constant('9223372036854775000'), fc.constant('9007199254740000')),
    firstTimestamp: fc.oneof(fc.constant('1780000000000'), fc.constant('-1'), fc.constant('9223372036854000000')),
    magicByte: fc.constant(2),
    isControlBatch: fc.boolean(),
    timestampType: fc.constantFrom(0, 1),
    maxTimestamp: fc.constant('1780000000999'),
  });

  it('given any record and batch context, decodes exactly what kafkajs decodes and leaves the decoder where kafkajs does', () => {
    fc.assert(
      fc.property(record, context, (r, ctx) => {
        // The record's bytes after its length prefix, as kafkajs hands them to the record decoder.
        const framed = encodeRecord(r).buffer;
        const outer = new Decoder(framed);
        const body = outer.readVarIntBytes();
        const a = new Decoder(body);
        const b = new Decoder(body);
        const expected = original(a, ctx);
        const actual = ours(b, ctx);
        expect(actual).toEqual(expected);
        expect(b.offset).toBe(a.offset);
        expect(Object.keys((actual as { headers: object }).headers)).toEqual(Object.keys((expected as { headers: object }).headers));
      }),
      { numRuns: 500 },
    );
  });
});

