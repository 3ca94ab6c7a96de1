import type { Kafka } from 'kafkajs';
import { endOffsets, groupOffsets } from '../kafka/kafkajs.ts';

/**
 * How far a consumer group has committed, against per-partition targets (`topic:partition` →
 * offset). Used by replay's progress bar and by tests/benchmarks to wait until a role caught up.
 */
export type Targets = Map<string, bigint>;

/**
 * Current end of each partition of `topics`. A transactionally written partition ends with a
 * commit marker that consumers never commit past, so its target is one less.
 */
export async function endTargets(kafka: Kafka, topics: string[], transactional: boolean): Promise<Targets> {
  const out: Targets = new Map();
  for (const topic of topics) {
    for (const [p, end] of await endOffsets(kafka, topic)) out.set(`${topic}:${p}`, transactional && end > 0n ? end - 1n : end);
  }
  return out;
}

export async function groupProgress(kafka: Kafka, groupId: string, starts: Targets, targets: Targets) {
  const topics = [...new Set([...targets.keys()].map((k) => k.slice(0, k.lastIndexOf(':'))))];
  const committed = await groupOffsets(kafka, groupId, topics);
  const at = new Map(committed.map((o) => [`${o.topic}:${o.partition}`, BigInt(o.offset)]));
  let done = 0n;
  let total = 0n;
  let complete = true;
  for (const [key, target] of targets) {
    const start = starts.get(key) ?? 0n;
    const c = at.get(key) ?? -1n;
    const pos = c < start ? start : c > target ? target : c;
    done += pos - start;
    total += target > start ? target - start : 0n;
    if (pos < target) complete = false;
  }
  return { done: Number(done), total: Number(total), complete };
}

export async function waitForGroup(
  kafka: Kafka,
  groupId: string,
  targets: Targets,
  opts: { starts?: Targets; pollMs?: number; timeoutMs?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? Infinity);
  for (;;) {
    const p = await groupProgress(kafka, groupId, opts.starts ?? new Map(), targets);
    opts.onProgress?.(p.done, p.total);
    if (p.complete) return;
    if (Date.now() > deadline) throw new Error(`group ${groupId} did not catch up: ${p.done}/${p.total}`);
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
  }
}
