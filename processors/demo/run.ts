import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { ClickHouseLogLevel } from '@clickhouse/client';
import { SingleBar, Presets } from 'cli-progress';
import { clickhouseClient } from '../clickhouse/client.ts';
import { migrate } from '../clickhouse/migrate.ts';
import { runDbt, EXIT_LOCKED } from '../dbt/run.ts';
import { readMarts, readWarehouse, type DemoSummary } from './summary.ts';
import { countRecords } from './topic-count.ts';
import { rngFor } from '../generate/prng.ts';
import { endOffsets, KafkaEventSink } from '../kafka/kafkajs.ts';
import { CANONICAL_KINDS, DOMAINS, topicSpecs } from '../kafka/topics.ts';
import { endTargets, waitForGroup, type Targets } from '../pipeline/progress.ts';
import { simulate } from '../pipeline/simulate.ts';
import { generatedEnvelopes } from '../pipeline/traffic.ts';
import { createTopicsAndSchemas, pipelineContext } from '../pipeline/wiring.ts';
import { endpoints, PROJECT_ROOT, stateDir } from '../shared/config.ts';
import * as stack from '../stack/stack.ts';

/**
 * `masterdeal demo`: the main job on a fresh machine, end to end. Each step prints a progress
 * line; a failure names its step and exits 1. The processor and the sink run as the real
 * `masterdeal run processor|sink` processes (what an operator runs), stopped with SIGTERM.
 */
export interface DemoOptions {
  deals: number;
  seed: string;
  badFraction: number;
  partitions: number;
  keepRunning: boolean;
  skipStack: boolean;
  apiPort: string;
  timeout: number;
}

class StepFailure extends Error {
  constructor(readonly step: string, reason: unknown) {
    super(`step "${step}" failed: ${reason instanceof Error ? reason.message : String(reason)}`, { cause: reason });
  }
}

export function validateDemoOptions(o: DemoOptions): string | undefined {
  if (!Number.isInteger(o.deals) || o.deals < 1) return '--deals must be a positive integer';
  if (!(o.badFraction >= 0 && o.badFraction <= 1)) return '--bad-fraction must be within 0..1';
  if (!Number.isInteger(o.partitions) || o.partitions < 1) return '--partitions must be a positive integer';
  if (!(o.timeout > 0)) return '--timeout must be > 0';
  if (!/^\d+$/.test(o.apiPort)) return '--api-port must be a port number';
  return undefined;
}

const say = (line: string) => process.stderr.write(`${line}\n`);
const seconds = (ms: number) => (ms / 1000).toFixed(1);

export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const names = [
    ...(o.skipStack ? [] : ['stack up']), 'topics and schemas', 'migrate', 'simulate', 'processor and sink',
    'stop processor and sink', 'dbt build', 'summary',
  ];
  const steps: DemoSummary['steps'] = [];
  const step = async <T>(name: string, job: () => Promise<T>, detail?: (r: T) => string): Promise<T> => {
    const n = names.indexOf(name) + 1;
    say(`[${n}/${names.length}] ${name} ...`);
    const t0 = Date.now();
    try {
      const result = await job();
      const took = Date.now() - t0;
      steps.push({ step: name, seconds: took / 1000 });
      say(`[${n}/${names.length}] ${name}: ok in ${seconds(took)} s${detail ? ` (${detail(result)})` : ''}`);
      return result;
    } catch (err) {
      throw new StepFailure(name, err);
    }
  };

  if (!o.skipStack) {
    await step('stack up', async () => stack.up(stack.defaultContext((l) => say(`  ${l}`)), await stack.loadComponents()));
  }
  const ctx = pipelineContext();
  const ep = endpoints();
  const marts = process.env.MASTERDEAL_DBT_SCHEMA ?? 'masterdeal_marts';
  const rawTopics = DOMAINS.map((d) => ctx.layout.raw[d]);
  const canonicalTopics = CANONICAL_KINDS.map((k) => ctx.layout.canonical[k]);

  const { schemas } = await step('topics and schemas', () => createTopicsAndSchemas(ctx, o.partitions),
    () => `${topicSpecs(ctx.layout, o.partitions).length} topics, prefix ${ctx.layout.namespace}`);
  const client = clickhouseClient(ep, { database: undefined, log: { level: ClickHouseLogLevel.OFF } });
  const roles: Role[] = [];
  try {
    const applied = await step('migrate', () => migrate(client, { database: ep.clickhouseDatabase }),
      (r) => `${r.length} new migration(s) in ${ep.clickhouseDatabase}`);
    void applied;

    const deadLetterStarts = await endOffsets(ctx.kafka, ctx.layout.deadLetter);
    const produced = await step('simulate', () => produce(o, ctx, schemas.envelope),
      (r) => `${r.sent} records: ${r.valid} valid, ${r.sent - r.valid} malformed`);

    await step('processor and sink', async () => {
      const logs = join(stateDir(), 'logs');
      mkdirSync(logs, { recursive: true });
      const env = { MASTERDEAL_LOG_LEVEL: process.env.MASTERDEAL_LOG_LEVEL ?? 'warn' };
      const detached = o.keepRunning;
      roles.push(startRole('processor', ['run', 'processor', '--idle-after', '1000', '--metrics-port', '0', '--partitions', String(o.partitions)], logs, env, detached));
      roles.push(startRole('sink', ['run', 'sink', '--max-age', '500', '--metrics-port', '0', '--partitions', String(o.partitions)], logs, env, detached));
      const deadline = Date.now() + o.timeout * 1000;
      await untilCaughtUp(ctx, client, ep.clickhouseDatabase, rawTopics, canonicalTopics, roles, deadline);
    }, () => 'sink caught up, snapshot count stable');

    const stopRoles = async () => {
      for (const role of roles.splice(0).reverse()) await role.stop();
    };
    if (o.keepRunning) {
      await step('stop processor and sink', async () => {
        for (const role of roles.splice(0)) role.child.unref();
      }, () => 'left running (--keep-running)');
    } else {
      await step('stop processor and sink', stopRoles, () => 'SIGTERM, both exited 0');
    }

    await step('dbt build', async () => {
      let output = '';
      const result = await runDbt(['build'], { onOutput: (chunk) => (output += chunk) });
      if (result.exitCode === EXIT_LOCKED) throw new Error(`another dbt run holds the lock (pid ${result.locked?.holderPid})`);
      if (result.exitCode !== 0) throw new Error(`dbt build exited ${result.exitCode}:\n${output.split('\n').slice(-30).join('\n')}`);
      return /Done\. (.*)/.exec(output)?.[1] ?? '';
    }, (line) => line);

    return await step('summary', async () => {
      const api = `http://127.0.0.1:${o.apiPort}`;
      if (o.keepRunning) startRole('api', ['api', '--port', o.apiPort], join(stateDir(), 'logs'), {}, true).child.unref();
      const [warehouse, martsRead, deadLettered] = await Promise.all([
        readWarehouse(client, ep.clickhouseDatabase),
        readMarts(client, marts),
        countRecords(ctx.kafka, ctx.layout.deadLetter, deadLetterStarts),
      ]);
      return {
        produced: { events: produced.sent, valid: produced.valid, malformed: produced.sent - produced.valid, deals: o.deals },
        deadLettered,
        warehouse,
        marts: martsRead,
        endpoints: { clickhouse: ep.clickhouseUrl, api, apiRunning: o.keepRunning },
        steps,
      };
    });
  } finally {
    // On failure the roles are stopped too; with --keep-running on success the list is empty.
    for (const role of roles.splice(0).reverse()) await role.stop().catch(() => undefined);
    await client.close();
  }
}

async function produce(o: DemoOptions, ctx: ReturnType<typeof pipelineContext>, schemaIds: Record<string, number>) {
  const seed = /^-?\d+$/.test(o.seed) ? Number(o.seed) : o.seed;
  const sink = new KafkaEventSink(ctx.kafka);
  const bar = process.stderr.isTTY
    ? new SingleBar({ format: '  simulate {bar} {value} records', hideCursor: true, stream: process.stderr }, Presets.shades_classic)
    : undefined;
  bar?.start(0, 0);
  try {
    const rng = rngFor(typeof seed === 'number' ? seed : 1, 'demo-malformed');
    return await simulate(generatedEnvelopes({ deals: o.deals, seed }), sink, {
      layout: ctx.layout,
      schemaIds,
      rate: 0,
      badFraction: o.badFraction,
      random: () => rng.next(),
      onProgress: (sent) => {
        bar?.setTotal(sent);
        bar?.update(sent);
      },
    });
  } finally {
    bar?.stop();
    await sink.close();
  }
}

interface Role {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** `masterdeal <args>` as its own process, output to <logs>/demo-<name>.log. */
function startRole(name: string, args: string[], logs: string, env: Record<string, string>, detached: boolean): Role {
  const log = join(logs, `demo-${name}.log`);
  const out = openSync(log, 'a');
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'scripts', 'masterdeal.mjs'), ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', out, out],
    detached,
  });
  say(`  started ${name} (pid ${child.pid}, log ${log})`);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));
  return {
    name,
    child,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000).unref())]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        throw new Error(`${name} did not stop within 60 s of SIGTERM (killed; see ${log})`);
      }
      if (code !== 0) throw new Error(`${name} exited ${code} on SIGTERM (see ${log})`);
    },
  };
}

/**
 * Caught up = the processor consumed every raw record, and then, twice in a row, the sink has
 * committed every raw and canonical record while the canonical topics and the warehouse's
 * snapshot count stood still (idle watermarks fire SLA timers after the traffic, so the
 * processor keeps writing for a moment after it caught up).
 */
async function untilCaughtUp(
  ctx: ReturnType<typeof pipelineContext>,
  client: ReturnType<typeof clickhouseClient>,
  database: string,
  rawTopics: string[],
  canonicalTopics: string[],
  roles: Role[],
  deadline: number,
): Promise<void> {
  const failed = Promise.race(roles.map((r) => r.exited.then((code) => {
    throw new Error(`${r.name} exited early with ${code} (see its log)`);
  })));
  failed.catch(() => undefined);
  const guard = <T>(p: Promise<T>) => Promise.race([p, failed]);
  const timeoutMs = () => Math.max(1, deadline - Date.now());
  const rawTargets = await endTargets(ctx.kafka, rawTopics, false);
  await guard(waitForGroup(ctx.kafka, `${ctx.layout.namespace}-processor`, rawTargets, { timeoutMs: timeoutMs() }));
  let previous = '';
  let stableRounds = 0;
  while (stableRounds < 2) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the sink to catch up');
    // Longer than the processor's idle advance (1 s) plus its snapshot interval (0.5 s).
    await guard(new Promise((r) => setTimeout(r, 2_000)));
    const canonicalTargets = await endTargets(ctx.kafka, canonicalTopics, true);
    const targets: Targets = new Map([...rawTargets, ...canonicalTargets]);
    await guard(waitForGroup(ctx.kafka, `${ctx.layout.namespace}-sink`, targets, { timeoutMs: timeoutMs() }));
    const { dealSnapshots } = await readWarehouse(client, database);
    const now = JSON.stringify([...canonicalTargets, dealSnapshots], (_, v) => (typeof v === 'bigint' ? String(v) : v));
    stableRounds = now === previous ? stableRounds + 1 : 0;
    previous = now;
    say(`  sink committed everything; ${dealSnapshots} deal snapshots in ClickHouse${stableRounds > 0 ? ' (unchanged)' : ''}`);
  }
}
