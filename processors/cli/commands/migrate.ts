import { ClickHouseLogLevel } from '@clickhouse/client';
import { clickhouseClient } from '../../clickhouse/client.ts';
import type { Command } from 'commander';
import { migrate, migrationStatus, MIGRATIONS_DIR, MigrationError } from '../../clickhouse/migrate.ts';
import { endpoints } from '../../shared/config.ts';

/** `masterdeal migrate [--status]`: apply the clickhouse/NNNN_*.sql migrations to the endpoint. */
export function register(program: Command): void {
  program
    .command('migrate')
    .description('apply pending ClickHouse migrations (clickhouse/NNNN_*.sql), forward-only, recorded in schema_migrations')
    .option('--status', 'only list each migration as applied / pending / changed / missing-file')
    .option('--dir <dir>', 'migrations directory', MIGRATIONS_DIR)
    .option('--database <name>', 'target database (default: MASTERDEAL_CLICKHOUSE_DATABASE or masterdeal)')
    .addHelpText('after', '\nExit codes: 0 ok, 1 a migration failed or applied files changed, 2 --status found pending/changed migrations.')
    .action(async (opts: { status?: boolean; dir: string; database?: string }) => {
      const ep = endpoints();
      const database = opts.database ?? ep.clickhouseDatabase;
      // No `database` on the client: the first migration creates it.
      const client = clickhouseClient(ep, { database: undefined, log: { level: ClickHouseLogLevel.OFF } });
      try {
        if (opts.status) {
          const statuses = await migrationStatus(client, database, opts.dir);
          for (const s of statuses) {
            const id = `${String(s.version).padStart(4, '0')}_${s.name}`;
            process.stdout.write(`${s.state.padEnd(12)} ${id}${s.appliedAt ? `  (applied ${s.appliedAt})` : ''}\n`);
          }
          if (statuses.some((s) => s.state !== 'applied')) process.exitCode = 2;
          return;
        }
        const applied = await migrate(client, {
          database,
          dir: opts.dir,
          onApply: (m) => process.stderr.write(`applying ${m.file}\n`),
        });
        process.stdout.write(applied.length === 0 ? `${database}: up to date\n` : `${database}: applied ${applied.length} migration(s)\n`);
      } catch (error) {
        const reason = error instanceof MigrationError ? error.message : `cannot reach ClickHouse at ${ep.clickhouseUrl}: ${(error as Error).message}`;
        process.stderr.write(`migrate: ${reason}\n`);
        process.exitCode = 1;
      } finally {
        await client.close();
      }
    });
}
