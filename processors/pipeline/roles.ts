import { ClickHouseLogLevel } from '@clickhouse/client';
import { Readable } from 'node:stream';
import { clickhouseClient } from '../clickhouse/client.ts';
import { loadDefaultRules, loadRulesFile, parseDuration } from '../core/index.ts';
import { KafkaEventSource } from '../kafka/kafkajs.ts';
import { DOMAINS } from '../kafka/topics.ts';
import { serveMetrics } from './metrics.ts';
import { Processor } from './processor.ts';
import { ClickHouseSink, sinkTopics, type Rows } from './sink.ts';
import { COLUMNS, type Table } from './warehouse-rows.ts';
import { canonicalValueDecoder, createTopicsAndSchemas, envelopeDecoder, pipelineContext, processorPorts, type PipelineContext } from './wiring.ts';

/** Builds the processor and the sink from options, for the CLI, replay, tests and the benchmark. */
export interface ProcessorRoleOptions {
  namespace?: string;
  groupId?: string;
  txnPrefix?: string;
  rulesFile?: string;
  lateness?: string;
  /** Live mode: idle partitions follow the clock after this many ms; 0 disables (replay). */
  idleAfterMs?: number;
  clock?: () => number;
  partitions?: number;
  fromBeginning?: boolean;
  snapshotIntervalMs?: number;
  backlogSnapshotIntervalMs?: number;
  concurrency?: number;
}

export async function startProcessor(
  o: ProcessorRoleOptions = {},
  ctx: PipelineContext = pipelineContext(o.namespace),
  stopAt?: Map<string, bigint>,
  startAt?: Map<string, bigint>,
) {
  const { schemas } = await createTopicsAndSchemas(ctx, o.partitions ?? 6);
  const rules = o.rulesFile ? loadRulesFile(o.rulesFile) : loadDefaultRules();
  // Live: group and transactional ids `masterdeal-processor`, `masterdeal-processor-p<N>`.
  const groupId = o.groupId ?? `${ctx.layout.namespace}-processor`;
  const source = new KafkaEventSource(ctx.kafka, {
    groupId,
    topics: DOMAINS.map((d) => ctx.layout.raw[d]),
    coPartitioned: true,
    fromBeginning: o.fromBeginning ?? true,
    // Every topic-partition may deliver at once: batches of one partition then share a transaction.
    partitionsConsumedConcurrently: o.concurrency ?? 32,
    // A crashed member's partitions move after this long (fencing makes the handover safe).
    sessionTimeout: 10_000,
  });
  const idleAfter = o.idleAfterMs ?? 5_000;
  const processor = new Processor(processorPorts(ctx, source, schemas, groupId, o.txnPrefix ?? `${ctx.layout.namespace}-processor`), {
    groupId,
    layout: ctx.layout,
    rules,
    allowedLatenessMs: o.lateness === undefined ? undefined : latenessMs(o.lateness),
    idleAdvance: idleAfter > 0 ? { afterMs: idleAfter, everyMs: Math.min(250, idleAfter) } : false,
    snapshotIntervalMs: o.snapshotIntervalMs,
    backlogSnapshotIntervalMs: o.backlogSnapshotIntervalMs,
    clock: o.clock,
    stopAt,
    startAt,
  });
  const running = processor.run();
  return { processor, running, ctx };
}

export interface SinkRoleOptions {
  namespace?: string;
  groupId?: string;
  maxRows?: number;
  maxAgeMs?: number;
  /** The max age while catching up (ClickHouseSink's backlogMaxAgeMs). */
  backlogMaxAgeMs?: number;
  partitions?: number;
  /** Replay: per `topic:partition`, the first offset not to load. */
  stopAt?: Map<string, bigint>;
  /** Replay: per `topic:partition`, the first offset to load. */
  startAt?: Map<string, bigint>;
}

export async function startSink(o: SinkRoleOptions = {}, ctx: PipelineContext = pipelineContext(o.namespace)) {
  await createTopicsAndSchemas(ctx, o.partitions ?? 6);
  // The sink logs failed inserts itself (with attempt and backoff); the client's own error log is noise.
  const client = clickhouseClient(ctx.endpoints, { request_timeout: 30_000, log: { level: ClickHouseLogLevel.OFF } });
  const database = ctx.endpoints.clickhouseDatabase;
  const groupId = o.groupId ?? `${ctx.layout.namespace}-sink`;
  const source = new KafkaEventSource(ctx.kafka, {
    groupId,
    topics: sinkTopics(ctx.layout),
    fromBeginning: true,
    readCommitted: true,
    sessionTimeout: 60_000,
  });
  const sink = new ClickHouseSink(
    {
      source,
      insert: async (table: Table, rows: Rows, token: string) => {
        await client.insert({
          table: `${database}.${table}`,
          // TabSeparated: the rows' JSON text columns pass unescaped (JSONEachRow escaped them twice).
          values: Readable.from(rows.body(), { objectMode: false }),
          format: 'TabSeparated',
          columns: COLUMNS[table] as [string, ...string[]],
          clickhouse_settings: { insert_deduplication_token: token },
        });
      },
      decodeEnvelope: envelopeDecoder(ctx),
      decodeCanonical: canonicalValueDecoder(ctx),
    },
    { layout: ctx.layout, maxRows: o.maxRows, maxAgeMs: o.maxAgeMs, backlogMaxAgeMs: o.backlogMaxAgeMs, stopAt: o.stopAt, startAt: o.startAt },
  );
  const running = sink.run();
  return { sink, running, ctx, close: () => client.close() };
}

/** Stops `stop` on SIGTERM/SIGINT (a second signal exits at once). */
export function onShutdown(stop: () => Promise<void>, metricsServer?: ReturnType<typeof serveMetrics>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write(`${signal}: stopping gracefully (again to force)\n`);
    stop()
      .then(() => {
        metricsServer?.close();
        process.exit(0);
      })
      .catch((err) => {
        process.stderr.write(`stop failed: ${(err as Error).message}\n`);
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}

function latenessMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`invalid --lateness "${text}" (e.g. 15m, 1h, PT30S)`);
  return ms;
}
