import type { Kafka } from 'kafkajs';
import { readPartitionsToEnd } from '../kafka/kafkajs.ts';

/**
 * Committed records of `topic` from `starts` (partition → first offset; 0 when absent) up to its
 * current end, counted by reading them (read_committed): transactional topics end with commit
 * markers, so offsets alone overcount.
 */
export async function countRecords(kafka: Kafka, topic: string, starts: Map<number, bigint> = new Map(), timeoutMs = 60_000): Promise<number> {
  let count = 0;
  await readPartitionsToEnd(
    kafka,
    topic,
    undefined,
    (r) => {
      if (BigInt(r.offset) >= (starts.get(r.partition) ?? 0n)) count++;
    },
    timeoutMs,
  );
  return count;
}
