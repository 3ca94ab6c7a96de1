import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ClickHouseLogLevel } from '@clickhouse/client';
import { clickhouseClient } from '../clickhouse/client.ts';
import { endpoints } from '../shared/config.ts';
import { stateDir } from '../shared/config.ts';
import { DBT_PROJECT_DIR, dbtExecutable } from '../stack/components/dbt.ts';
import { tryLock } from './lock.ts';
import { runResultRows } from './run-results.ts';

/**
 * Runs the venv's dbt on the project's dbt/ folder and profile, streaming its output, then
 * records target/run_results.json into `<database>.dbt_run_results`. Commands that change the
 * warehouse take a lock so that scheduled, cron and manual runs never overlap.
 */
const WRITING_COMMANDS = new Set(['build', 'run', 'seed', 'snapshot', 'test', 'retry', 'clone']);

export const EXIT_LOCKED = 75; // EX_TEMPFAIL: another dbt run holds the lock

export function dbtLockPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), 'dbt', 'run.lock');
}

export interface DbtRunOptions {
  env?: NodeJS.ProcessEnv;
  /** Where dbt's output goes; default inherit (streams to the terminal). */
  stdio?: 'inherit' | 'pipe';
  onOutput?: (chunk: string) => void;
  /** Skip writing run_results.json into ClickHouse. */
  noRecord?: boolean;
}

export interface DbtRunResult {
  exitCode: number;
  recordedRows: number;
  recordError?: string;
  locked?: { holderPid: number };
}

/** dbt's arguments plus the project's --project-dir/--profiles-dir unless the caller gave them. */
export function dbtArgs(args: string[]): string[] {
  const out = [...args];
  if (!args.includes('--project-dir')) out.push('--project-dir', DBT_PROJECT_DIR);
  if (!args.includes('--profiles-dir')) out.push('--profiles-dir', DBT_PROJECT_DIR);
  return out;
}

/** dbt's environment: the MASTERDEAL_CLICKHOUSE_* endpoint the profile reads, with defaults filled in. */
export function dbtEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const ep = endpoints(env);
  return {
    ...env,
    MASTERDEAL_CLICKHOUSE_URL: ep.clickhouseUrl,
    MASTERDEAL_CLICKHOUSE_USER: ep.clickhouseUser,
    MASTERDEAL_CLICKHOUSE_PASSWORD: ep.clickhousePassword,
    MASTERDEAL_CLICKHOUSE_DATABASE: ep.clickhouseDatabase,
    DBT_SEND_ANONYMOUS_USAGE_STATS: env.DBT_SEND_ANONYMOUS_USAGE_STATS ?? 'false',
  };
}

function spawnDbt(args: string[], options: DbtRunOptions): Promise<number> {
  const exe = dbtExecutable(options.env);
  if (!existsSync(exe)) {
    return Promise.reject(new Error(`dbt is not installed at ${exe}: run \`masterdeal stack install\``));
  }
  return new Promise((resolveExit, reject) => {
    const child = spawn(exe, dbtArgs(args), {
      cwd: DBT_PROJECT_DIR,
      env: dbtEnv(options.env),
      stdio: options.stdio === 'pipe' || options.onOutput ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    });
    child.stdout?.on('data', (d: Buffer) => options.onOutput?.(d.toString()));
    child.stderr?.on('data', (d: Buffer) => options.onOutput?.(d.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => resolveExit(code ?? (signal ? 128 + 15 : 1)));
  });
}

export async function recordRunResults(path: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const rows = runResultRows(JSON.parse(readFileSync(path, 'utf8')));
  if (rows.length === 0) return 0;
  const ep = endpoints(env);
  const client = clickhouseClient(ep, { log: { level: ClickHouseLogLevel.OFF } });
  try {
    await client.insert({ table: `${ep.clickhouseDatabase}.dbt_run_results`, values: rows, format: 'JSONEachRow' });
  } finally {
    await client.close();
  }
  return rows.length;
}

export async function runDbt(args: string[], options: DbtRunOptions = {}): Promise<DbtRunResult> {
  const command = args.find((a) => !a.startsWith('-'));
  const lock = command && WRITING_COMMANDS.has(command) ? tryLock(dbtLockPath(options.env)) : undefined;
  if (lock && !lock.acquired) return { exitCode: EXIT_LOCKED, recordedRows: 0, locked: { holderPid: lock.holderPid } };
  const startedAt = Date.now();
  try {
    const exitCode = await spawnDbt(args, options);
    const resultsPath = join(DBT_PROJECT_DIR, 'target', 'run_results.json');
    // Only this invocation's results (dbt leaves the previous file when it fails early).
    if (options.noRecord || !existsSync(resultsPath) || statSync(resultsPath).mtimeMs < startedAt) {
      return { exitCode, recordedRows: 0 };
    }
    try {
      return { exitCode, recordedRows: await recordRunResults(resultsPath, options.env) };
    } catch (error) {
      return { exitCode, recordedRows: 0, recordError: (error as Error).message };
    }
  } finally {
    if (lock?.acquired) lock.lock.release();
  }
}
