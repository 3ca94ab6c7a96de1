import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { endOffsets } from '../kafka/kafkajs.ts';

/**
 * Committed records of `topic` from `starts` (partition → first offset; 0 when absent) up to its
 * current end, counted by reading them (read_committed): transactional topics end with commit
 * markers, so offsets alone overcount.
 */
export async function countRecords(kafka: Kafka, topic: string, starts: Map<number, bigint> = new Map(), timeoutMs = 60_000): Promise<number> {
  const ends = await endOffsets(kafka, topic);
  const pending = new Map([...ends].filter(([p, e]) => e > (starts.get(p) ?? 0n)));
  if (pending.size === 0) return 0;
  const consumer = kafka.consumer({ groupId: `masterdeal-demo-count-${randomUUID()}`, maxWaitTimeInMs: 100 });
  let count = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    const { partition, lastOffset } = e.payload as { partition: number; lastOffset: string };
    const end = pending.get(partition);
    if (end !== undefined && BigInt(lastOffset) + 1n >= end) pending.delete(partition);
    if (pending.size === 0) finish();
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const from = starts.get(batch.partition) ?? 0n;
        for (const m of batch.messages) if (BigInt(m.offset) >= from) count++;
      },
    });
    await Promise.race([done, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), timeoutMs)))]);
    return count;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
}
