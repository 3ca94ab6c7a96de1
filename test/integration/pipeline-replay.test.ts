import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { rngFor } from '../../processors/generate/prng.ts';
import { KafkaEventSink } from '../../processors/kafka/kafkajs.ts';
import { CANONICAL_KINDS, DOMAINS } from '../../processors/kafka/topics.ts';
import { endTargets, waitForGroup } from '../../processors/pipeline/progress.ts';
import { startProcessor, startSink } from '../../processors/pipeline/roles.ts';
import { simulate } from '../../processors/pipeline/simulate.ts';
import { createTopicsAndSchemas, pipelineContext } from '../../processors/pipeline/wiring.ts';
import { PROJECT_ROOT } from '../../processors/shared/config.ts';
import { cleanupAfterAll, generateToFile, isolate, query, until, warehouseSnapshots } from './pipeline-support.ts';

/** `masterdeal replay --from earliest --rebuild` into an empty database reproduces the live tables. */
const run = promisify(execFile);
const DAY = 86_400_000;
const cleanups = cleanupAfterAll();

describe('replay', () => {
  it('replay --rebuild into an empty warehouse reproduces the live raw events, snapshots and closes', async () => {
    const iso = await isolate('replay');
    cleanups.push(async () => iso.clickhouse?.stop());
    const events = generateToFile({ deals: 150, seed: 55, duplicates: 0.03, shuffleWindow: 32 }, join(iso.workDir, 'events.ndjson'));
    const ctx = pipelineContext();
    const { schemas } = await createTopicsAndSchemas(ctx, 3);
    const rng = rngFor(3, 'replay');
    await simulate(events, new KafkaEventSink(ctx.kafka), { layout: ctx.layout, schemaIds: schemas.envelope, rate: 0, badFraction: 0.02, random: () => rng.next() });

    // Live run, clock 60 days after the data.
    const clockStart = Math.max(...events.map((e) => e.event_ts)) + 60 * DAY;
    const t0 = Date.now();
    const { processor } = await startProcessor({ idleAfterMs: 1_000, clock: () => clockStart + (Date.now() - t0), partitions: 3 }, ctx);
    cleanups.push(() => processor.stop());
    const { sink, close } = await startSink({ maxAgeMs: 300, partitions: 3 }, ctx);
    cleanups.push(async () => {
      await sink.stop();
      await close();
    });
    const rawTopics = DOMAINS.map((d) => ctx.layout.raw[d]);
    await waitForGroup(ctx.kafka, `${ctx.layout.namespace}-processor`, await endTargets(ctx.kafka, rawTopics, false), { timeoutMs: 120_000 });
    await until('idle watermarks', async () => processor.partitions().every((p) => p.watermark !== null && p.watermark >= clockStart - processor.allowedLatenessMs));
    const canonicalTopics = CANONICAL_KINDS.map((k) => ctx.layout.canonical[k]);
    await waitForGroup(
      ctx.kafka,
      `${ctx.layout.namespace}-sink`,
      new Map([...(await endTargets(ctx.kafka, rawTopics, false)), ...(await endTargets(ctx.kafka, canonicalTopics, true))]),
      { timeoutMs: 120_000 },
    );

    // Replay as an operator runs it, into a fresh database.
    const rebuilt = `${iso.database}_rebuild`;
    const { stdout } = await run(
      'node',
      ['scripts/masterdeal.mjs', 'replay', '--from', 'earliest', '--rebuild', '--now', new Date(clockStart).toISOString(), '--no-progress'],
      { cwd: PROJECT_ROOT, env: { ...process.env, MASTERDEAL_CLICKHOUSE_DATABASE: rebuilt }, maxBuffer: 1 << 28 },
    );
    const result = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(result.namespace).toMatch(/\.replay-/);

    const rawRows = (db: string) =>
      query<Record<string, string>>(`SELECT event_id, event_type, source_system, master_deal_id, event_ts, payload FROM ${db}.raw_events FINAL ORDER BY event_id`);
    const liveRaw = await rawRows(iso.database);
    expect(liveRaw.length).toBe(new Set(events.map((e) => e.event_id)).size);
    expect(await rawRows(rebuilt)).toEqual(liveRaw);

    const live = await warehouseSnapshots(iso.database);
    const replayed = await warehouseSnapshots(rebuilt);
    expect(replayed.size).toBe(live.size);
    for (const [deal, snap] of live) expect(replayed.get(deal), deal).toEqual(snap);

    const closes = (db: string) => query<{ id: string }>(`SELECT canonical_id AS id FROM ${db}.canonical_events FINAL WHERE type = 'masterdeal.closed' ORDER BY id`);
    expect(await closes(rebuilt)).toEqual(await closes(iso.database));
  });
});
