import type { Command } from 'commander';
import { tail } from '../../stack/process.ts';
import * as stack from '../../stack/stack.ts';

/** `masterdeal stack up|down|status|install`: the local stack (Kafka, registry, ClickHouse, dbt) without Docker. */
export function register(program: Command): void {
  const cmd = program
    .command('stack')
    .description('run the local stack without Docker: Kafka (KRaft), Apicurio schema registry, ClickHouse endpoint, dbt')
    .addHelpText(
      'after',
      `
Data, logs and pid files live in .masterdeal/ (or $MASTERDEAL_HOME); downloads are cached in
~/.cache/masterdeal (or $MASTERDEAL_CACHE). Ports: Kafka 9092 (controller 9093), registry 8081
(Confluent API at /apis/ccompat/v7), ClickHouse HTTP 8123.`,
    );
  const only = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);

  cmd
    .command('install')
    .description('download and cache every component (Maven Central, PyPI); idempotent')
    .option('--only <names>', `comma-separated subset of: ${stack.COMPONENT_ORDER.join(', ')}`, only)
    .action(async (opts: { only?: string[] }) => {
      const ctx = stack.defaultContext();
      await run(ctx, async () => stack.install(ctx, await stack.loadComponents(opts.only)));
    });

  cmd
    .command('up')
    .description('install (cached), start and wait until every component is healthy; idempotent')
    .option('--only <names>', `comma-separated subset of: ${stack.COMPONENT_ORDER.join(', ')}`, only)
    .action(async (opts: { only?: string[] }) => {
      const ctx = stack.defaultContext();
      await run(ctx, async () => {
        const started = Date.now();
        const rows = await stack.up(ctx, await stack.loadComponents(opts.only));
        process.stdout.write(`${stack.formatStatusTable(rows)}\n`);
        ctx.say(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      });
    });

  cmd
    .command('down')
    .description('stop the processes this stack started (by pid file); data is kept unless --purge')
    .option('--purge', 'also delete the data (topics, schemas, tables)', false)
    .option('--only <names>', `comma-separated subset of: ${stack.COMPONENT_ORDER.join(', ')}`, only)
    .action(async (opts: { purge: boolean; only?: string[] }) => {
      const ctx = stack.defaultContext();
      await run(ctx, async () => stack.down(ctx, await stack.loadComponents(opts.only), { purge: opts.purge }));
    });

  cmd
    .command('status')
    .description('print a table of the components; exit code 0 only if all are healthy')
    .option('--only <names>', `comma-separated subset of: ${stack.COMPONENT_ORDER.join(', ')}`, only)
    .action(async (opts: { only?: string[] }) => {
      const ctx = stack.defaultContext();
      await run(ctx, async () => {
        const rows = await stack.status(ctx, await stack.loadComponents(opts.only));
        process.stdout.write(`${stack.formatStatusTable(rows)}\n`);
        if (!rows.every((r) => r.healthy)) process.exitCode = 1;
      });
    });
}

async function run(ctx: { say(line: string): void }, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (err) {
    ctx.say(`error: ${(err as Error).message}`);
    if (err instanceof stack.StackError) {
      // The component's log tail is usually already in the message; point at the file too.
      const rows = await stack
        .status(stack.defaultContext(() => undefined), await stack.loadComponents([err.component]))
        .catch(() => []);
      const log = rows[0]?.logFile;
      if (log && !(err.message.includes('(tail)'))) ctx.say(`--- ${log} (tail) ---\n${tail(log)}`);
      else if (log) ctx.say(`full log: ${log}`);
    }
    process.exitCode = 2;
  }
}
