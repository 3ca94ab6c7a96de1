import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDefaultRules } from '../../processors/core/index.ts';
import { KafkaEventSink } from '../../processors/kafka/kafkajs.ts';
import { CANONICAL_KINDS, DOMAINS } from '../../processors/kafka/topics.ts';
import { endTargets, waitForGroup } from '../../processors/pipeline/progress.ts';
import { startProcessor, startSink } from '../../processors/pipeline/roles.ts';
import { simulate } from '../../processors/pipeline/simulate.ts';
import { createTopicsAndSchemas, pipelineContext } from '../../processors/pipeline/wiring.ts';
import {
  cleanupAfterAll,
  fold,
  foldSnapshots,
  generateToFile,
  isolate,
  ownClickHouse,
  query,
  sleep,
  until,
  warehouseSnapshots,
} from './pipeline-support.ts';

/**
 * The ClickHouse endpoint goes away while traffic flows: the sink retries with backoff and holds
 * its offsets; once the endpoint is back, everything arrives, once.
 */
const DAY = 86_400_000;
const cleanups = cleanupAfterAll();

describe('ClickHouse outage', () => {
  it('given the ClickHouse endpoint stopped mid-run and restarted, nothing is lost and nothing is doubled', async () => {
    const iso = await isolate('chdown');
    let clickhouse = iso.clickhouse!;
    cleanups.push(async () => clickhouse.stop());
    const file = join(iso.workDir, 'events.ndjson');
    const events = generateToFile({ deals: 250, seed: 44, duplicates: 0.03 }, file);
    const ctx = pipelineContext();
    const { schemas } = await createTopicsAndSchemas(ctx, 3);
    const lastTs = Math.max(...events.map((e) => e.event_ts));
    const clockStart = lastTs + 60 * DAY;
    const t0 = Date.now();
    const { processor } = await startProcessor({ idleAfterMs: 1_000, clock: () => clockStart + (Date.now() - t0), partitions: 3 }, ctx);
    cleanups.push(() => processor.stop());
    const { sink, close } = await startSink({ maxAgeMs: 300, partitions: 3 }, ctx);
    cleanups.push(async () => {
      await sink.stop();
      await close();
    });

    const producer = new KafkaEventSink(ctx.kafka);
    const sending = simulate(events, producer, { layout: ctx.layout, schemaIds: schemas.envelope, rate: 1_000, random: Math.random });
    await until('first rows in ClickHouse', async () => Object.values(sink.stats.inserted).some((n) => n > 0), 60_000, 100);
    await clickhouse.stop();
    const insertedWhileUp = { ...sink.stats.inserted };
    await sleep(6_000);
    expect(sink.stats.retries).toBeGreaterThan(0);
    clickhouse = await ownClickHouse(join(iso.workDir, 'clickhouse'), clickhouse.port);
    await sending;
    await producer.close();

    const rawTopics = DOMAINS.map((d) => ctx.layout.raw[d]);
    await waitForGroup(ctx.kafka, `${ctx.layout.namespace}-processor`, await endTargets(ctx.kafka, rawTopics, false), { timeoutMs: 120_000 });
    const lateness = loadDefaultRules().allowedLatenessMs;
    await until('idle watermarks to follow the clock', async () => processor.partitions().every((p) => p.watermark !== null && p.watermark >= clockStart - lateness));
    await sleep(1_000);
    const canonicalTopics = CANONICAL_KINDS.map((k) => ctx.layout.canonical[k]);
    await waitForGroup(
      ctx.kafka,
      `${ctx.layout.namespace}-sink`,
      new Map([...(await endTargets(ctx.kafka, rawTopics, false)), ...(await endTargets(ctx.kafka, canonicalTopics, true))]),
      { timeoutMs: 180_000 },
    );
    expect(Object.values(sink.stats.inserted).reduce((a, b) => a + b, 0)).toBeGreaterThan(Object.values(insertedWhileUp).reduce((a, b) => a + b, 0));

    const distinct = new Set(events.map((e) => e.event_id)).size;
    const [{ n }] = await query<{ n: string }>(`SELECT count() AS n FROM ${iso.database}.raw_events FINAL`);
    expect(Number(n)).toBe(distinct);
    const expected = foldSnapshots(await fold(file, new Date(clockStart - lateness).toISOString()));
    const actual = await warehouseSnapshots(iso.database);
    expect(actual.size).toBe(expected.size);
    for (const [deal, snap] of expected) expect(actual.get(deal), deal).toEqual(snap);
  });
});
