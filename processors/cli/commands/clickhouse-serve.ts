import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_MAX_BODY_BYTES, startEndpoint } from '../../clickhouse/endpoint/server.ts';
import { endpoints, stateDir } from '../../shared/config.ts';
import { log } from '../../shared/log.ts';

/** Where the endpoint keeps its chDB data by default. */
export function defaultClickhouseDataDir(): string {
  return resolve(stateDir(), 'clickhouse');
}

function portFromUrl(url: string): number {
  const u = new URL(url);
  return Number(u.port || (u.protocol === 'https:' ? 443 : 8123));
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * `masterdeal clickhouse serve`: the ClickHouse HTTP endpoint over embedded chDB,
 * in the foreground (the stack component starts it detached). Others may add
 * more `clickhouse` subcommands: the parent command is shared, not redefined.
 */
export function register(program: Command): void {
  const clickhouse = program.commands.find((c) => c.name() === 'clickhouse')
    ?? program.command('clickhouse').description('ClickHouse: the local endpoint and warehouse tasks');
  const cfg = endpoints();
  clickhouse
    .command('serve')
    .description('Serve the ClickHouse HTTP interface over embedded chDB (foreground; Ctrl-C stops)')
    .option('--host <host>', 'interface to listen on', process.env.MASTERDEAL_CLICKHOUSE_LISTEN_HOST ?? '127.0.0.1')
    .option('--port <port>', 'TCP port (0 = any free port)', positiveInt, portFromUrl(cfg.clickhouseUrl))
    .option('--data-dir <dir>', 'chDB data directory', defaultClickhouseDataDir())
    .option('--max-body-bytes <n>', 'largest accepted request body', positiveInt, DEFAULT_MAX_BODY_BYTES)
    .option('--database <name>', 'create this Atomic database at start (repeatable)', collect, [] as string[])
    .action(async (opts: { host: string; port: number; dataDir: string; maxBodyBytes: number; database: string[] }) => {
      const databases = opts.database.length > 0
        ? opts.database
        : [cfg.clickhouseDatabase, process.env.MASTERDEAL_DBT_SCHEMA ?? 'masterdeal_marts'];
      const endpoint = await startEndpoint({
        host: opts.host,
        port: opts.port,
        dataDir: resolve(opts.dataDir),
        maxBodyBytes: opts.maxBodyBytes,
        user: cfg.clickhouseUser,
        password: cfg.clickhousePassword,
        databases,
      });
      log.info({ url: endpoint.url, dataDir: resolve(opts.dataDir), version: endpoint.engine.version, databases }, 'clickhouse endpoint listening');
      process.stdout.write(`ClickHouse endpoint (chDB ${endpoint.engine.version}) listening on ${endpoint.url}\n`);
      const stop = (signal: string) => {
        log.info({ signal }, 'clickhouse endpoint stopping');
        endpoint.close().then(() => process.exit(0), (e: unknown) => {
          log.error({ err: e }, 'clickhouse endpoint: unclean stop');
          process.exit(1);
        });
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
}
