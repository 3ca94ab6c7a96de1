import type { Command } from 'commander';
import { runDemo, validateDemoOptions, type DemoOptions } from '../../demo/run.ts';
import { formatSummary } from '../../demo/summary.ts';

const num = (v: string) => Number(v);

/** `masterdeal demo`: the main job end to end (processors/demo/run.ts). */
export function register(program: Command): void {
  program
    .command('demo')
    .description('the main job end to end: stack up, topics + schemas, migrate, simulate deals (some malformed), processor + sink until caught up, dbt build, summary')
    .option('--deals <n>', 'synthetic deals to simulate', num, 2_000)
    .option('--seed <s>', 'generator seed', '1')
    .option('--bad-fraction <f>', 'per event, the chance of an extra malformed record (dead-lettered)', num, 0.02)
    .option('--partitions <n>', 'partitions when topics must be created', num, 6)
    .option('--keep-running', 'leave the processor, the sink and the API running afterwards', false)
    .option('--skip-stack', 'do not run `stack up` (use the MASTERDEAL_* endpoints as they are)', false)
    .option('--api-port <port>', 'port of the API/dashboard (with --keep-running)', process.env.MASTERDEAL_API_PORT ?? '8080')
    .option('--timeout <s>', 'give up waiting for the pipeline to catch up after this many seconds', num, 600)
    .addHelpText('after', `
Topics start with $MASTERDEAL_TOPIC_PREFIX (default masterdeal); tables go to $MASTERDEAL_CLICKHOUSE_DATABASE,
marts to $MASTERDEAL_DBT_SCHEMA. Role logs: <state dir>/logs/demo-*.log.
Exit codes: 0 done, 1 a step failed (named on stderr), 2 bad options.`)
    .action(async (o: DemoOptions) => {
      const bad = validateDemoOptions(o);
      if (bad) {
        process.stderr.write(`demo: ${bad}\n`);
        process.exitCode = 2;
        return;
      }
      try {
        process.stdout.write(formatSummary(await runDemo(o)));
      } catch (err) {
        process.stderr.write(`demo: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    });
}
