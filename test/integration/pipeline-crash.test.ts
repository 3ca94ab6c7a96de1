import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rngFor } from '../../processors/generate/prng.ts';
import { KafkaEventSink } from '../../processors/kafka/kafkajs.ts';
import { DOMAINS } from '../../processors/kafka/topics.ts';
import { readDeadLetter } from '../../processors/pipeline/deadletter.ts';
import { endTargets, groupProgress, waitForGroup } from '../../processors/pipeline/progress.ts';
import { startSink } from '../../processors/pipeline/roles.ts';
import { simulate } from '../../processors/pipeline/simulate.ts';
import { createTopicsAndSchemas, pipelineContext } from '../../processors/pipeline/wiring.ts';
import { loadDefaultRules } from '../../processors/core/index.ts';
import {
  canonicalIdCounts,
  cleanupAfterAll,
  convergedWarehouseSnapshots,
  drainToWarehouse,
  fold,
  foldSnapshots,
  generateToFile,
  isolate,
  logLength,
  readTopic,
  sleep,
  spawnRole,
  until,
  untilRestored,
} from './pipeline-support.ts';

/**
 * Exactly once across a crash: the processor runs as its own process, is SIGKILLed while
 * traffic flows (twice, each time once it owns every partition and has committed work), and
 * restarted. Its transactional id per partition fences the zombie; state comes back from the
 * changelog; consumed offsets were committed in the same transactions.
 */
const DAY = 86_400_000;
const cleanups = cleanupAfterAll();

describe('processor crash', () => {
  it('given a processor SIGKILLed mid-stream and restarted, no record is processed twice (dead letters) nor any canonical event published twice and the warehouse equals fold', async () => {
    const { database, workDir, clickhouse } = await isolate('crash');
    cleanups.push(async () => clickhouse?.stop());
    const file = join(workDir, 'events.ndjson');
    const events = generateToFile({ deals: 400, seed: 33, duplicates: 0.02, shuffleWindow: 32 }, file);
    const ctx = pipelineContext();
    const { schemas } = await createTopicsAndSchemas(ctx, 3);
    const lastTs = Math.max(...events.map((e) => e.event_ts));
    const clockStart = new Date(lastTs + 60 * DAY).toISOString();
    const log = join(workDir, 'processor.log');
    const processorArgs = ['run', 'processor', '--partitions', '3', '--idle-after', '1500', '--now', clockStart, '--metrics-port', '0'];

    let proc = spawnRole(processorArgs, log);
    let logFrom = 0;
    cleanups.push(async () => {
      proc.child.kill('SIGKILL');
    });
    const { sink, close } = await startSink({ maxAgeMs: 300, partitions: 3 }, ctx);
    cleanups.push(async () => {
      await sink.stop();
      await close();
    });

    // Traffic at a steady rate, long enough (about 30 s) that both kills land mid-stream: a killed
    // member's partitions move only when its session expires (10 s), so each takeover takes a while.
    const rng = rngFor(9, 'crash-malformed');
    const producer = new KafkaEventSink(ctx.kafka);
    const sending = simulate(events, producer, { layout: ctx.layout, schemaIds: schemas.envelope, rate: 300, badFraction: 0.03, random: () => rng.next() });
    const rawTopics = DOMAINS.map((d) => ctx.layout.raw[d]);
    const groupId = `${ctx.layout.namespace}-processor`;
    const progress = async () => groupProgress(ctx.kafka, groupId, new Map(), await endTargets(ctx.kafka, rawTopics, false));
    for (let kill = 0; kill < 2; kill++) {
      // Each process is killed once it owns every partition and committed work of its own.
      await untilRestored(log, logFrom, 3);
      const before = (await progress()).done;
      await until('the processor to commit work of its own', async () => {
        const p = await progress();
        return p.done > before || p.complete;
      });
      await sleep(1_000);
      proc.child.kill('SIGKILL');
      await proc.exited;
      logFrom = logLength(log);
      proc = spawnRole(processorArgs, log);
    }
    const sent = await sending;
    await producer.close();

    // Only a live owner moves the idle watermarks that fire the deals' last breaches: wait for the
    // takeover before asking whether the canonical topics have settled.
    await untilRestored(log, logFrom, 3, 180_000);
    await waitForGroup(ctx.kafka, groupId, await endTargets(ctx.kafka, rawTopics, false), { timeoutMs: 180_000 });
    const lateness = loadDefaultRules().allowedLatenessMs;
    await drainToWarehouse(ctx, rawTopics);

    // Exactly once, seen where it is observable: dead letters carry their source offset and nothing
    // dedupes them, so a re-processed batch would show up here. Each malformed record exactly once.
    const malformed = Object.values(sent.malformed).reduce((a, b) => a + b, 0);
    expect(malformed).toBeGreaterThan(20);
    const sources = (await readTopic(ctx.kafka, ctx.layout.deadLetter)).map((r) => {
      const d = readDeadLetter(r.headers);
      return `${d.sourceTopic}:${d.sourcePartition}:${d.sourceOffset}`;
    });
    expect(new Set(sources).size).toBe(sources.length);
    expect(sources.length).toBe(malformed);
    // No canonical event twice (read_committed): neither a batch re-processed after the restart
    // nor a late event re-deriving a deal's history (the state remembers what it published).
    // Snapshots are state, not events: a deal's snapshot is republished as it changes.
    for (const [kind, { published, repeated }] of Object.entries(await canonicalIdCounts(ctx))) {
      expect(published, kind).toBeGreaterThan(0);
      expect(repeated, `${kind} ids published more than once`).toEqual([]);
    }

    const expected = foldSnapshots(await fold(file, new Date(Date.parse(clockStart) - lateness).toISOString()));
    const actual = await convergedWarehouseSnapshots(database, expected);
    expect(actual.size).toBe(expected.size);
    for (const [deal, snap] of expected) expect(actual.get(deal), deal).toEqual(snap);
  });
});
