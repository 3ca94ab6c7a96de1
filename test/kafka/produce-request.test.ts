import fc from 'fast-check';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { produceRequestEncoder, type ProduceRequestArgs } from '../../processors/kafka/record-encoding.ts';
import { bytesOrString, recordHeaders } from './arbitraries.ts';

// kafkajs' own Produce v3 request, loaded here without installing ours (this file does not import kafkajs.ts).
const require = createRequire(import.meta.url);
type Request = { apiKey: number; apiVersion: number; apiName: string; expectResponse(): boolean; encode(): Promise<{ buffer: Buffer }> };
const kafkajsRequest = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (a: ProduceRequestArgs) => Request;
const Long = require('kafkajs/src/utils/long.js');
const ours = produceRequestEncoder(kafkajsRequest as never) as unknown as (a: ProduceRequestArgs) => Request;

const message = fc.record(
  {
    key: fc.option(bytesOrString),
    value: fc.option(bytesOrString),
    headers: recordHeaders,
  },
  { requiredKeys: [] },
);
const topicData = fc.array(
  fc.record({
    topic: fc.string({ minLength: 1, maxLength: 30 }),
    partitions: fc.array(fc.record({ partition: fc.nat(64), firstSequence: fc.nat(100_000), messages: fc.array(message, { minLength: 1, maxLength: 30 }) }), {
      minLength: 1,
      maxLength: 3,
    }),
  }),
  { minLength: 1, maxLength: 3 },
);

afterEach(() => vi.restoreAllMocks());

describe('kafkajs Produce request, in one pass', () => {
  it('given any uncompressed messages, transactional or not, the request bytes equal kafkajs Produce v3', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_780_000_000_123);
    await fc.assert(
      fc.asyncProperty(topicData, fc.option(fc.string({ maxLength: 40 })), fc.constantFrom(-1, 0, 1), fc.nat(3), async (data, transactionalId, acks, epoch) => {
        const args: ProduceRequestArgs = { acks, timeout: 30_000, transactionalId, producerId: Long.fromValue(4711 + epoch), producerEpoch: epoch, compression: 0, topicData: data };
        const expected = kafkajsRequest(args);
        const actual = ours(args);
        expect([actual.apiKey, actual.apiVersion, actual.apiName, actual.expectResponse()]).toEqual([expected.apiKey, expected.apiVersion, expected.apiName, expected.expectResponse()]);
        expect((await actual.encode()).buffer.equals((await expected.encode()).buffer)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('given a compressed request or messages with their own timestamps, kafkajs encodes it', () => {
    const calls: ProduceRequestArgs[] = [];
    const encoder = produceRequestEncoder((a) => {
      calls.push(a);
      return kafkajsRequest(a) as never;
    });
    const partitions = [{ partition: 0, messages: [{ key: 'k', value: 'v' }] }];
    encoder({ acks: -1, timeout: 1, compression: 1, topicData: [{ topic: 't', partitions }] });
    encoder({ acks: -1, timeout: 1, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: 'k', value: 'v', timestamp: 5 }] }] }] });
    encoder({ acks: -1, timeout: 1, topicData: [{ topic: 't', partitions }] });
    expect(calls).toHaveLength(2);
  });
});
