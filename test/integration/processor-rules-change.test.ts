import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_RULES_PATH } from '../../processors/core/index.ts';
import { KafkaEventSink } from '../../processors/kafka/kafkajs.ts';
import { DOMAINS } from '../../processors/kafka/topics.ts';
import { endTargets, waitForGroup } from '../../processors/pipeline/progress.ts';
import { simulate } from '../../processors/pipeline/simulate.ts';
import { createTopicsAndSchemas, pipelineContext } from '../../processors/pipeline/wiring.ts';
import { generateToFile, isolate, spawnRole } from './pipeline-support.ts';

/**
 * A rules change without a rebuild: the processor's saved deal states were derived under the
 * old rules, so a processor started with new rules must refuse them (exit code 3 and the way
 * out) rather than mix two rule sets in one deal.
 */
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe('processor and a rules change', () => {
  it('given partitions processed under the default rules, when the processor restarts with a changed SLA target, then it exits with code 3 naming both fingerprints and the rebuild', async () => {
    const { workDir } = await isolate('rules', { clickhouse: false });
    const events = generateToFile({ deals: 30, seed: 5 }, join(workDir, 'events.ndjson'));
    const ctx = pipelineContext();
    const { schemas } = await createTopicsAndSchemas(ctx, 2);
    const producer = new KafkaEventSink(ctx.kafka);
    cleanups.push(() => producer.close());
    await simulate(events, producer, { layout: ctx.layout, schemaIds: schemas.envelope, rate: 0, random: Math.random });

    const log = join(workDir, 'processor.log');
    const args = ['run', 'processor', '--partitions', '2', '--idle-after', '0', '--metrics-port', '0'];
    const first = spawnRole(args, log);
    cleanups.push(async () => first.child.kill('SIGKILL'));
    const rawTopics = DOMAINS.map((d) => ctx.layout.raw[d]);
    await waitForGroup(ctx.kafka, `${ctx.layout.namespace}-processor`, await endTargets(ctx.kafka, rawTopics, false), { timeoutMs: 120_000 });
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const changed = join(workDir, 'changed-rules.yaml');
    writeFileSync(changed, readFileSync(DEFAULT_RULES_PATH, 'utf8').replace('target: 8h', 'target: 9h'));
    const second = spawnRole([...args, '--rules', changed], log);
    cleanups.push(async () => second.child.kill('SIGKILL'));
    expect(await second.exited).toBe(3);
    const output = readFileSync(log, 'utf8');
    expect(output).toMatch(/was built with rules [0-9a-f]{16}, but changed-rules\.yaml is [0-9a-f]{16}/);
    expect(output).toContain('masterdeal replay --from earliest --rebuild');
  }, 240_000);
});
