import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { frameRequest, groupingPatched, groupMessagesPerPartition } from '../../processors/kafka/kafkajs-patches.ts';

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
