import { Option, type Command } from 'commander';
import { apiConfig } from '../../api/config.ts';
import { KafkaIntakePublisher } from '../../api/publisher.ts';
import { buildServer } from '../../api/server.ts';
import { clickhouseReader, tables } from '../../api/warehouse.ts';
import { clickhouseClient } from '../../clickhouse/client.ts';
import { validateEnvelope } from '../../codec/envelope-json.ts';
import { loadDefaultRules, loadRulesFile } from '../../core/rules/load.ts';
import { pipelineContext } from '../../pipeline/wiring.ts';
import { endpoints } from '../../shared/config.ts';
import { log } from '../../shared/log.ts';

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

/**
 * `masterdeal api`: the MasterDeal REST API, HTTP event intake and the United Stage Dashboard in
 * one process. Its own top-level command (not `run api`) so it does not depend on the order in
 * which command files register.
 */
export function register(program: Command): void {
  program
    .command('api')
    .description('serve the REST API (/deals, /pipeline/summary), HTTP intake (POST /events) and the United Stage Dashboard (/)')
    .option('--port <port>', 'port (env MASTERDEAL_API_PORT)', process.env.MASTERDEAL_API_PORT ?? '8080')
    .option('--host <host>', 'interface to listen on (env MASTERDEAL_API_HOST; 0.0.0.0 for all)', process.env.MASTERDEAL_API_HOST ?? '127.0.0.1')
    .addOption(new Option('--read-auth <mode>', 'reads and dashboard: open, or required (API key) (env MASTERDEAL_API_READ_AUTH)').choices(['open', 'required']).default(process.env.MASTERDEAL_API_READ_AUTH ?? 'open'))
    .option('--rules <file>', 'rules YAML used to explain stages (default: the built-in rules)')
    .option('--no-intake', 'do not connect to Kafka; POST /events answers 503')
    .addHelpText(
      'after',
      `
Environment:
  MASTERDEAL_API_KEYS         comma-separated API keys (X-API-Key or Authorization: Bearer); POST /events needs one
  MASTERDEAL_API_BODY_LIMIT   largest request body in bytes (default 1048576; larger -> 413)
  MASTERDEAL_API_MAX_BATCH    most envelopes per POST /events (default 1000)
  MASTERDEAL_CLICKHOUSE_URL & co., MASTERDEAL_KAFKA_BROKERS, MASTERDEAL_REGISTRY_URL: endpoints

Pages: / (dashboard), /docs (OpenAPI UI), /openapi.json, /health.
Exit codes: 0 stopped by SIGINT/SIGTERM, 1 failed to start, 2 bad options.`,
    )
    .action(async (o: { port: string; host: string; readAuth: 'open' | 'required'; rules?: string; intake: boolean }) => {
      let config;
      let rules;
      try {
        config = apiConfig(process.env, { port: Number(o.port), host: o.host, readAuth: o.readAuth });
        rules = o.rules ? loadRulesFile(o.rules) : loadDefaultRules();
      } catch (err) {
        process.stderr.write(`masterdeal api: ${(err as Error).message}\n`);
        process.exitCode = EXIT_USAGE;
        return;
      }
      if (config.apiKeys.length === 0) log.warn('MASTERDEAL_API_KEYS is empty: POST /events will answer 401 until a key is configured');
      const ep = endpoints();
      const client = clickhouseClient(ep);
      const publisher = o.intake ? KafkaIntakePublisher.fromPipeline(pipelineContext()) : undefined;
      const app = await buildServer({
        config,
        db: clickhouseReader(client),
        tables: tables(ep.clickhouseDatabase),
        validate: (v) => validateEnvelope(v),
        rules,
        publisher,
        logger: { level: process.env.MASTERDEAL_LOG_LEVEL ?? 'info' },
      });
      const stop = async () => {
        await app.close();
        await publisher?.close();
        await client.close();
      };
      try {
        const address = await app.listen({ port: config.port, host: config.host });
        process.stderr.write(`MasterDeal API on ${address}  (dashboard ${address}/, docs ${address}/docs)\n`);
      } catch (err) {
        process.stderr.write(`masterdeal api: cannot listen on ${config.host}:${config.port}: ${(err as Error).message}\n`);
        await stop();
        process.exitCode = EXIT_FAILED;
        return;
      }
      await new Promise<void>((resolve) => {
        const onSignal = () => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          resolve();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      await stop();
    });
}
