import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { PROJECT_ROOT } from '../shared/config.ts';

/**
 * Forward-only ClickHouse migrations: `clickhouse/NNNN_description.sql`, applied in order,
 * each recorded in `<database>.schema_migrations` with the SHA-256 of the file. An applied
 * file that changed afterwards is an error: fix forward with a new file instead.
 *
 * Files name the database as `{database:Identifier}`; it is substituted here (after checking
 * it is a plain identifier) so the same files serve any MASTERDEAL_CLICKHOUSE_DATABASE.
 */
export const MIGRATIONS_DIR = resolve(PROJECT_ROOT, 'clickhouse');
const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface Migration {
  version: number;
  name: string;
  file: string;
  sql: string;
  checksum: string;
}

export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
  applied_at: string;
}

export type MigrationState = 'applied' | 'pending' | 'changed' | 'missing-file';

export interface MigrationStatus {
  version: number;
  name: string;
  state: MigrationState;
  appliedAt?: string;
}

export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

/** Reads and validates the migration files; rejects stray names and duplicate numbers. */
export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  const byVersion = new Map<number, string>();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match) {
      throw new MigrationError(`${file}: migration files must be named NNNN_description.sql (lower-case, digits, underscores)`);
    }
    const version = Number(match[1]);
    const clash = byVersion.get(version);
    if (clash) throw new MigrationError(`duplicate migration number ${match[1]}: ${clash} and ${file}`);
    byVersion.set(version, file);
    const sql = readFileSync(join(dir, file), 'utf8');
    migrations.push({ version, name: match[2], file, sql, checksum: sha256(sql) });
  }
  return migrations;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Splits a migration into statements at `;` that end a line. Comment-only chunks are dropped.
 * Migrations therefore must not put `;` at a line end inside a string literal.
 */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;[ \t]*(?:\r?\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.split('\n').some((line) => line.trim() !== '' && !line.trim().startsWith('--')));
}

export function renderStatement(statement: string, database: string): string {
  if (!IDENTIFIER.test(database)) {
    throw new MigrationError(`database name "${database}" is not a plain identifier ([A-Za-z_][A-Za-z0-9_]*)`);
  }
  return statement.replaceAll('{database:Identifier}', `\`${database}\``);
}

async function ledgerExists(client: ClickHouseClient, database: string): Promise<boolean> {
  const rs = await client.query({
    query: 'SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = {table:String}',
    query_params: { db: database, table: 'schema_migrations' },
    format: 'JSONEachRow',
  });
  const rows = (await rs.json()) as Array<{ n: string | number }>;
  return Number(rows[0]?.n ?? 0) > 0;
}

export async function appliedMigrations(client: ClickHouseClient, database: string): Promise<AppliedMigration[]> {
  if (!(await ledgerExists(client, database))) return [];
  const rs = await client.query({
    query: `SELECT version, name, checksum, toString(applied_at) AS applied_at
            FROM ${renderStatement('{database:Identifier}', database)}.schema_migrations FINAL ORDER BY version`,
    format: 'JSONEachRow',
  });
  const rows = (await rs.json()) as Array<AppliedMigration & { version: number | string }>;
  return rows.map((r) => ({ ...r, version: Number(r.version) }));
}

/** Compares files with the ledger. Pure: used by `migrate --status` and before applying. */
export function compareMigrations(files: Migration[], applied: AppliedMigration[]): MigrationStatus[] {
  const appliedByVersion = new Map(applied.map((a) => [a.version, a]));
  const statuses: MigrationStatus[] = files.map((m) => {
    const a = appliedByVersion.get(m.version);
    if (!a) return { version: m.version, name: m.name, state: 'pending' };
    const state: MigrationState = a.checksum === m.checksum ? 'applied' : 'changed';
    return { version: m.version, name: m.name, state, appliedAt: a.applied_at };
  });
  const fileVersions = new Set(files.map((m) => m.version));
  for (const a of applied) {
    if (!fileVersions.has(a.version)) {
      statuses.push({ version: a.version, name: a.name, state: 'missing-file', appliedAt: a.applied_at });
    }
  }
  return statuses.sort((x, y) => x.version - y.version);
}

export async function migrationStatus(
  client: ClickHouseClient,
  database: string,
  dir: string = MIGRATIONS_DIR,
): Promise<MigrationStatus[]> {
  return compareMigrations(readMigrations(dir), await appliedMigrations(client, database));
}

export interface MigrateOptions {
  database: string;
  dir?: string;
  onApply?: (migration: Migration) => void;
}

/**
 * Applies pending migrations in order. Refuses to run at all when an applied file changed or
 * disappeared, or when a pending file sorts before an applied one (history must stay linear).
 * Returns the migrations it applied.
 */
export async function migrate(client: ClickHouseClient, options: MigrateOptions): Promise<Migration[]> {
  const { database } = options;
  const files = readMigrations(options.dir ?? MIGRATIONS_DIR);
  const statuses = compareMigrations(files, await appliedMigrations(client, database));
  const broken = statuses.filter((s) => s.state === 'changed' || s.state === 'missing-file');
  if (broken.length > 0) {
    const list = broken.map((s) => `${String(s.version).padStart(4, '0')}_${s.name} (${s.state})`).join(', ');
    throw new MigrationError(
      `refusing to migrate: applied migrations differ from the files: ${list}. Migrations are forward-only; add a new file instead of editing one.`,
    );
  }
  const lastApplied = Math.max(0, ...statuses.filter((s) => s.state === 'applied').map((s) => s.version));
  const pending = files.filter((m) => statuses.find((s) => s.version === m.version)?.state === 'pending');
  const outOfOrder = pending.filter((m) => m.version < lastApplied);
  if (outOfOrder.length > 0) {
    throw new MigrationError(
      `refusing to migrate: ${outOfOrder.map((m) => m.file).join(', ')} is numbered below the last applied migration ${lastApplied}`,
    );
  }
  for (const migration of pending) {
    options.onApply?.(migration);
    for (const statement of splitStatements(migration.sql)) {
      try {
        await client.command({ query: renderStatement(statement, database) });
      } catch (error) {
        throw new MigrationError(`${migration.file} failed: ${(error as Error).message}`, { cause: error });
      }
    }
    await client.insert({
      table: `${database}.schema_migrations`,
      values: [{ version: migration.version, name: migration.name, checksum: migration.checksum }],
      format: 'JSONEachRow',
    });
  }
  return pending;
}
