import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RULES_PATH } from '../../processors/core/index.ts';
import { KafkaEventSink } from '../../processors/kafka/kafkajs.ts';
import { DOMAINS } from '../../processors/kafka/topics.ts';
import { endTargets, waitForGroup } from '../../processors/pipeline/progress.ts';
import { simulate } from '../../processors/pipeline/simulate.ts';
import { createTopicsAndSchemas, pipelineContext } from '../../processors/pipeline/wiring.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startSink } from '../../processors/pipeline/roles.ts';
import { PROJECT_ROOT } from '../../processors/shared/config.ts';
import { cleanupAfterAll, generateToFile, isolate, spawnRole, until, warehouseSnapshots } from './pipeline-support.ts';

/**
 * A rules change without a rebuild: the processor's saved deal states were derived under the
 * old rules, so a processor started with new rules must refuse them (exit code 3 and the way
 * out) rather than mix two rule sets in one deal.
 */
const run = promisify(execFile);
const HOUR = 3_600_000;
const cleanups = cleanupAfterAll();

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

  it('given a replay --rebuild under new rules, when the live roles run in the replay\'s namespace, then they go on from its state and new deals carry the new targets', async () => {
    const iso = await isolate('promote');
    cleanups.push(async () => iso.clickhouse?.stop());
    const events = generateToFile({ deals: 30, seed: 8 }, join(iso.workDir, 'events.ndjson'));
    const ctx = pipelineContext();
    const { schemas } = await createTopicsAndSchemas(ctx, 2);
    const producer = new KafkaEventSink(ctx.kafka);
    cleanups.push(() => producer.close());
    await simulate(events, producer, { layout: ctx.layout, schemaIds: schemas.envelope, rate: 0, random: Math.random });

    const rules = join(iso.workDir, 'rules-v2.yaml');
    writeFileSync(rules, readFileSync(DEFAULT_RULES_PATH, 'utf8').replace('target: 8h', 'target: 9h'));
    await run('node', ['scripts/masterdeal.mjs', 'replay', '--from', 'earliest', '--rebuild', '--rules', rules, '--id', 'v2', '--no-progress'], {
      cwd: PROJECT_ROOT,
      env: process.env,
    });
    const rebuilt = await warehouseSnapshots(iso.database);
    expect(rebuilt.size).toBe(new Set(events.map((e) => e.master_deal_id)).size);
    for (const s of rebuilt.values()) expect((s.sla as Record<string, { target_ms: number }>).lead_to_brief.target_ms).toBe(9 * HOUR);

    // Live, in the replay's namespace: the processor restores the replay's states (same rules) and goes on.
    const namespace = `${iso.prefix}.replay-v2`;
    const log = join(iso.workDir, 'processor.log');
    const live = spawnRole(['run', 'processor', '--namespace', namespace, '--rules', rules, '--partitions', '2', '--idle-after', '0', '--metrics-port', '0'], log);
    cleanups.push(async () => live.child.kill('SIGKILL'));
    const { sink, close } = await startSink({ namespace, maxAgeMs: 300, partitions: 2 }, pipelineContext(namespace));
    cleanups.push(async () => {
      await sink.stop();
      await close();
    });
    const lastTs = Math.max(...events.map((e) => e.event_ts));
    const newDeal = {
      event_id: 'promote-new-1', event_type: 'crm.deal.created', source_system: 'CRM', master_deal_id: 'MD-NEW-1', event_ts: lastTs + HOUR,
      payload: { client_id: 'CL-1', client_name: 'New', industry: 'retail', client_type: 'direct', budget_rub: 1_000_000 },
    };
    await simulate([newDeal], producer, { layout: ctx.layout, schemaIds: schemas.envelope, rate: 0, random: Math.random });
    await until('the new deal in the warehouse', async () => (await warehouseSnapshots(iso.database)).has('MD-NEW-1'), 120_000);
    const after = await warehouseSnapshots(iso.database);
    expect((after.get('MD-NEW-1')!.sla as Record<string, { target_ms: number }>).lead_to_brief.target_ms).toBe(9 * HOUR);
    expect(after.size).toBe(rebuilt.size + 1);
    expect(live.child.exitCode).toBeNull(); // still running: no rules mismatch
  }, 300_000);
});
