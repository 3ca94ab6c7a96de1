import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import type { FastifyInstance } from 'fastify';
import { validateEnvelope } from '../../processors/codec/envelope-json.ts';
import { loadDefaultRules } from '../../processors/core/rules/load.ts';
import { apiConfig, type ApiConfig } from '../../processors/api/config.ts';
import { buildServer } from '../../processors/api/server.ts';
import type { EventPublisher } from '../../processors/api/routes/events.ts';
import { clickhouseReader, tables } from '../../processors/api/warehouse.ts';

/**
 * The API over an embedded chDB (in this process, no endpoint needed): for tests of the routes'
 * SQL and shaping, and for working on the dashboard (`npx tsx test/api/harness.ts` serves one).
 */
export interface Harness {
  app: FastifyInstance;
  client: ClickHouseClient;
  database: string;
}

export function embeddedClickhouse(path = ':memory:'): ClickHouseClient {
  // chdb/connection implements @clickhouse/client's Connection; the option is not in the public types.
  return createClient({ connection: createChdbConnection({ path }) } as unknown as Parameters<typeof createClient>[0]);
}

export async function buildHarness(options: {
  client: ClickHouseClient;
  database: string;
  config?: Partial<ApiConfig>;
  publisher?: EventPublisher;
}): Promise<Harness> {
  const config = apiConfig({}, { apiKeys: ['test-key-0123456789'], livePollMs: 200, ...options.config });
  const app = await buildServer({
    config,
    db: clickhouseReader(options.client),
    tables: tables(options.database),
    validate: (v) => validateEnvelope(v),
    rules: loadDefaultRules(),
    publisher: options.publisher,
  });
  return { app, client: options.client, database: options.database };
}

// Dev server: synthetic deals in an on-disk chDB, the API on :8080 (MASTERDEAL_API_PORT).
if (import.meta.url === `file://${process.argv[1]}`) {
  const { syntheticDeals, loadDeals } = await import('./fixtures.ts');
  const client = embeddedClickhouse(process.env.HARNESS_CHDB_PATH ?? '/tmp/masterdeal-api-dev');
  const database = 'masterdeal';
  const count = Number(process.env.HARNESS_DEALS ?? 300);
  await loadDeals(client, database, syntheticDeals(count));
  const h = await buildHarness({ client, database, config: { livePollMs: 2000 } });
  const port = Number(process.env.MASTERDEAL_API_PORT ?? 8080);
  await h.app.listen({ port, host: '127.0.0.1' });
  console.error(`API with ${count} synthetic deals on http://127.0.0.1:${port}/`);
}
