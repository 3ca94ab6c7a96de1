import { Command } from 'commander';
import { runDbt } from '../../dbt/run.ts';
import { parseEvery, runSchedule } from '../../dbt/schedule.ts';
import { log } from '../../shared/log.ts';

const HELP = `
Runs the project's dbt (.venv-dbt) with --project-dir dbt --profiles-dir dbt against
MASTERDEAL_CLICKHOUSE_URL/USER/PASSWORD (marts database: MASTERDEAL_DBT_SCHEMA, default
masterdeal_marts), streams dbt's output, records target/run_results.json into
<MASTERDEAL_CLICKHOUSE_DATABASE>.dbt_run_results and exits with dbt's exit code
(75 when another dbt build/run holds the lock).

Examples:
  masterdeal dbt build
  masterdeal dbt build --select fact_sla+
  masterdeal dbt docs generate
  masterdeal dbt schedule --every 15m`;

function scheduleCommand(): Command {
  return new Command('masterdeal dbt schedule')
    .description('run `dbt build` every interval, never overlapping, surviving failed runs')
    .requiredOption('--every <duration>', 'interval, e.g. 15m, 1h, 90s')
    .option('--max-runs <n>', 'stop after n runs (default: run until SIGINT/SIGTERM)')
    .option('--args <args>', 'dbt arguments of each run', 'build')
    .exitOverride()
    .action(async (opts: { every: string; maxRuns?: string; args: string }) => {
      const everyMs = parseEvery(opts.every);
      if (!everyMs) {
        process.stderr.write(`dbt schedule: --every "${opts.every}" is not a duration like 15m, 1h, 90s\n`);
        process.exitCode = 2;
        return;
      }
      const maxRuns = opts.maxRuns === undefined ? undefined : Number.parseInt(opts.maxRuns, 10);
      if (maxRuns !== undefined && !(maxRuns > 0)) {
        process.stderr.write(`dbt schedule: --max-runs must be a positive integer\n`);
        process.exitCode = 2;
        return;
      }
      const stop = new AbortController();
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stop.abort());
      try {
        const runs = await runSchedule({
          everyMs,
          args: opts.args.split(/\s+/).filter(Boolean),
          maxRuns,
          signal: stop.signal,
          log: (entry) => log.info(entry, String(entry.event)),
        });
        log.info({ runs }, 'dbt schedule stopped');
      } catch (error) {
        process.stderr.write(`dbt schedule: ${(error as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}

/** `masterdeal dbt <args...>` and `masterdeal dbt schedule --every 15m`. */
export function register(program: Command): void {
  program
    .command('dbt')
    .description('run dbt on the project (dbt/) against the ClickHouse endpoint; `dbt schedule` runs builds periodically')
    .argument('[args...]', 'dbt arguments, e.g. build --select fact_deal')
    .allowUnknownOption()
    .helpOption('--wrapper-help', 'show this help (dbt --help shows dbt\'s)')
    .addHelpText('after', HELP)
    .action(async (args: string[]) => {
      if (args.length === 0) {
        process.stderr.write(`masterdeal dbt: give dbt arguments, e.g. \`masterdeal dbt build\`\n${HELP}\n`);
        process.exitCode = 2;
        return;
      }
      if (args[0] === 'schedule') {
        try {
          await scheduleCommand().parseAsync(args.slice(1), { from: 'user' });
        } catch (error) {
          const code = (error as { exitCode?: number }).exitCode;
          process.exitCode = code === 0 ? 0 : 2;
        }
        return;
      }
      try {
        const result = await runDbt(args);
        if (result.locked) process.stderr.write(`masterdeal dbt: another dbt run holds the lock (pid ${result.locked.holderPid}); try again later\n`);
        if (result.recordError) process.stderr.write(`masterdeal dbt: run_results.json not recorded in ClickHouse: ${result.recordError}\n`);
        else if (result.recordedRows > 0) process.stderr.write(`masterdeal dbt: recorded ${result.recordedRows} run results in dbt_run_results\n`);
        process.exitCode = result.exitCode;
      } catch (error) {
        process.stderr.write(`masterdeal dbt: ${(error as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
