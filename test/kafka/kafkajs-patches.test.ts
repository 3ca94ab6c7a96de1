import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { groupingPatched, groupMessagesPerPartition } from '../../processors/kafka/kafkajs-patches.ts';

const require = createRequire(import.meta.url);

/** kafkajs' own grouping, loaded afresh beside the patched module in the cache. */
function kafkajsGrouping(): typeof groupMessagesPerPartition {
  const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
  const patched = require.cache[path];
  delete require.cache[path];
  try {
    return require(path);
  } finally {
    if (patched) require.cache[path] = patched;
  }
}

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
