import { createRequire } from 'node:module';

/**
 * kafkajs groups a send's messages by partition with `[...current, message]` per message
 * (producer/groupMessagesPerPartition.js): quadratic in the messages one partition gets in one
 * request. The processor sends thousands per partition per transaction (outputs, changelog), so
 * this was copying millions of array slots per transaction. Here the same grouping (same
 * partitioner calls, same order, same result shape) in one pass.
 *
 * kafkajs' sendMessages binds the module when kafkajs itself loads, so this must run before
 * anything imports 'kafkajs': kafkajs.ts and assignor.ts import this module first. If kafkajs was
 * loaded already, nothing changes (kafkajs' own grouping stays; `groupingPatched` is false).
 */
const require = createRequire(import.meta.url);

interface GroupArgs {
  topic: string;
  partitionMetadata: unknown[];
  messages: unknown[];
  partitioner: (args: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;
}

export function groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner }: GroupArgs): Record<number, unknown[]> {
  const out: Record<number, unknown[]> = {};
  if (partitionMetadata.length === 0) return out;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    const list = out[partition];
    if (list) list.push(message);
    else out[partition] = [message];
  }
  return out;
}

function install(): boolean {
  const sendMessagesPath = require.resolve('kafkajs/src/producer/sendMessages.js');
  if (require.cache[sendMessagesPath]) return false;
  const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
  require(path);
  require.cache[path]!.exports = groupMessagesPerPartition;
  return true;
}

export const groupingPatched = install();
