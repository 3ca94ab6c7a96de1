import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDefaultRules } from '../../processors/core/index.ts';
import { KafkaEventSink } from '../../processors/kafka/kafkajs.ts';
import { DOMAINS } from '../../processors/kafka/topics.ts';
import { endTargets, groupProgress, waitForGroup } from '../../processors/pipeline/progress.ts';
import { startSink } from '../../processors/pipeline/roles.ts';
import { simulate } from '../../processors/pipeline/simulate.ts';
import { createTopicsAndSchemas, pipelineContext } from '../../processors/pipeline/wiring.ts';
import {
  canonicalIdCounts,
  cleanupAfterAll,
  drainToWarehouse,
  fold,
  foldSnapshots,
  generateToFile,
  isolate,
  spawnRole,
  until,
  warehouseSnapshots,
} from './pipeline-support.ts';

/**
 * Two processor members in one consumer group: the co-partitioning assignor splits the partition
 * numbers between them (each member owns partition N of every raw topic); when one stops
 * gracefully mid-stream, the other takes its partitions over, restores their state from the
 * changelog and goes on, exactly once.
 */
const DAY = 86_400_000;
const cleanups = cleanupAfterAll();

/** The partitions a member logged as owned, assignment by assignment. */
function assignments(logPath: string): number[][] {
  return readFileSync(logPath, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"partitions assigned"'))
    .map((l) => (JSON.parse(l) as { owned: number[] }).owned);
}

describe('processor rebalance', () => {
  it('given two members sharing the partitions, when one stops mid-stream, then the other takes its partitions over and the warehouse equals fold with no canonical event twice', async () => {
    const { database, workDir, clickhouse } = await isolate('rebalance');
    cleanups.push(async () => clickhouse?.stop());
    const file = join(workDir, 'events.ndjson');
    const events = generateToFile({ deals: 300, seed: 71, duplicates: 0.02, shuffleWindow: 32 }, file);
    const ctx = pipelineContext();
    const { schemas } = await createTopicsAndSchemas(ctx, 4);
    const clockStart = new Date(Math.max(...events.map((e) => e.event_ts)) + 60 * DAY).toISOString();
    const args = ['run', 'processor', '--partitions', '4', '--idle-after', '1500', '--now', clockStart, '--metrics-port', '0'];
    const logA = join(workDir, 'processor-a.log');
    const logB = join(workDir, 'processor-b.log');
    const a = spawnRole(args, logA);
    const b = spawnRole(args, logB);
    cleanups.push(async () => a.child.kill('SIGKILL'));
    cleanups.push(async () => b.child.kill('SIGKILL'));
    const { sink, close } = await startSink({ maxAgeMs: 300, partitions: 4 }, ctx);
    cleanups.push(async () => {
      await sink.stop();
      await close();
    });

    const producer = new KafkaEventSink(ctx.kafka);
    cleanups.push(() => producer.close());
    const sending = simulate(events, producer, { layout: ctx.layout, schemaIds: schemas.envelope, rate: 1_000, random: Math.random });
    const rawTopics = DOMAINS.map((d) => ctx.layout.raw[d]);
    const groupId = `${ctx.layout.namespace}-processor`;

    // Both members own a share: partition numbers split between them, none twice.
    const owning = (log: string) => (assignments(log).at(-1)?.length ?? 0) > 0;
    await until('both members to own partitions', async () => owning(logA) && owning(logB), 60_000);
    const [ownA, ownB] = [assignments(logA).at(-1)!, assignments(logB).at(-1)!];
    expect([...ownA, ...ownB].sort()).toEqual([0, 1, 2, 3]);
    await until('some work committed', async () => (await groupProgress(ctx.kafka, groupId, new Map(), await endTargets(ctx.kafka, rawTopics, false))).done > 0);

    a.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    await until('the remaining member to own every partition', async () => assignments(logB).at(-1)?.length === 4, 60_000);

    await sending;
    await waitForGroup(ctx.kafka, groupId, await endTargets(ctx.kafka, rawTopics, false), { timeoutMs: 180_000 });
    await drainToWarehouse(ctx, rawTopics);

    for (const [kind, { published, repeated }] of Object.entries(await canonicalIdCounts(ctx))) {
      expect(published, kind).toBeGreaterThan(0);
      expect(repeated, `${kind} ids published more than once`).toEqual([]);
    }
    const lateness = loadDefaultRules().allowedLatenessMs;
    const expected = foldSnapshots(await fold(file, new Date(Date.parse(clockStart) - lateness).toISOString()));
    const actual = await warehouseSnapshots(database);
    expect(actual.size).toBe(expected.size);
    for (const [deal, snap] of expected) expect(actual.get(deal), deal).toEqual(snap);
  }, 360_000);
});
