import type { AddressInfo } from 'node:net';
import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import { apiConfig, type ApiConfig } from '../../processors/api/config.ts';
import { KafkaIntakePublisher } from '../../processors/api/publisher.ts';
import { buildServer } from '../../processors/api/server.ts';
import { clickhouseReader, tables } from '../../processors/api/warehouse.ts';
import { clickhouseClient } from '../../processors/clickhouse/client.ts';
import { migrate } from '../../processors/clickhouse/migrate.ts';
import { validateEnvelope } from '../../processors/codec/envelope-json.ts';
import { loadDefaultRules } from '../../processors/core/rules/load.ts';
import { startProcessor, startSink } from '../../processors/pipeline/roles.ts';
import { createTopicsAndSchemas, pipelineContext, type PipelineContext } from '../../processors/pipeline/wiring.ts';
import { endpoints } from '../../processors/shared/config.ts';

/**
 * The API as it runs in production, against the real stack of the integration project: its own
 * topic prefix (so a fresh broker view) and its own ClickHouse database, both unique per run.
 * `startPipeline()` adds the processor and the ClickHouse sink on the same topics and database,
 * so events POSTed to the API travel Kafka -> processor -> sink -> ClickHouse -> API.
 */
export interface LiveApi {
  url: string;
  app: FastifyInstance;
  client: ClickHouseClient;
  database: string;
  ctx: PipelineContext;
  apiKey: string;
  startPipeline(): Promise<{ stop(): Promise<void> }>;
  stop(): Promise<void>;
}

export async function startLiveApi(name: string, config: Partial<ApiConfig> = {}): Promise<LiveApi> {
  const run = `${name}${Date.now().toString(36)}`;
  process.env.MASTERDEAL_TOPIC_PREFIX = run;
  process.env.MASTERDEAL_CLICKHOUSE_DATABASE = run;
  const ep = endpoints();
  // Queries name their database; the connection's default must exist before migrate creates ours.
  const client = clickhouseClient({ ...ep, clickhouseDatabase: 'default' });
  await migrate(client, { database: run });
  const ctx = pipelineContext(run, ep, run);
  // kafkajs' createTopics can answer UNKNOWN_TOPIC_OR_PARTITION while a new topic's leader is
  // being elected; topic creation is idempotent, so try again.
  for (let attempt = 1; ; attempt++) {
    try {
      await createTopicsAndSchemas(ctx, 2);
      break;
    } catch (err) {
      if (attempt >= 4) throw err;
      await new Promise((r) => setTimeout(r, 1_000 * attempt));
    }
  }
  const publisher = KafkaIntakePublisher.fromPipeline(ctx);
  const apiKey = `it-key-${run}`;
  const app = await buildServer({
    config: apiConfig({}, { apiKeys: [apiKey], livePollMs: 500, ...config }),
    db: clickhouseReader(client),
    tables: tables(run),
    validate: (v) => validateEnvelope(v),
    rules: loadDefaultRules(),
    publisher,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    url,
    app,
    client,
    database: run,
    ctx,
    apiKey,
    async startPipeline() {
      const processor = await startProcessor({ namespace: run, partitions: 2, idleAfterMs: 0 }, ctx);
      const sink = await startSink({ namespace: run, partitions: 2, maxAgeMs: 300 }, ctx);
      return {
        async stop() {
          await processor.processor.stop();
          await sink.sink.stop();
          await Promise.allSettled([processor.running, sink.running]);
          await sink.close();
        },
      };
    },
    async stop() {
      await app.close();
      await publisher.close();
      await client.command({ query: `DROP DATABASE IF EXISTS ${run}` }).catch(() => undefined);
      await client.close();
    },
  };
}

/** Polls `probe` until it returns a value (not undefined) or the time is up. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 60_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}
