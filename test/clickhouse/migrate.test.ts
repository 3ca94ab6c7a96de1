import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareMigrations,
  migrate,
  migrationStatus,
  MIGRATIONS_DIR,
  readMigrations,
  renderStatement,
  splitStatements,
} from '../../processors/clickhouse/migrate.ts';

// Real ClickHouse (embedded chDB, one engine per process) in a temporary directory.
let client: ClickHouseClient;
let dataDir: string;

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'md-migrate-'));
  client = createClient({ connection: createChdbConnection({ path: join(dataDir, 'chdb') }) } as never);
});
afterAll(async () => {
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function migrationsDir(files: Record<string, string>): string {
  const dir = join(dataDir, `m-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

async function tables(database: string): Promise<string[]> {
  const rs = await client.query({ query: `SELECT name FROM system.tables WHERE database = '${database}' ORDER BY name`, format: 'JSONEachRow' });
  return ((await rs.json()) as Array<{ name: string }>).map((r) => r.name);
}

describe('the project migrations in clickhouse/', () => {
  it('have unique numbers and NNNN_description.sql names', () => {
    const migrations = readMigrations(MIGRATIONS_DIR);
    const sqlFiles = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql'));
    expect(migrations).toHaveLength(sqlFiles.length);
    expect(new Set(migrations.map((m) => m.version)).size).toBe(migrations.length);
  });

  it('create the contract tables, and a second run applies nothing', async () => {
    const applied = await migrate(client, { database: 'wh_project' });
    expect(applied.map((m) => m.version)).toEqual(readMigrations().map((m) => m.version));
    expect(await tables('wh_project')).toEqual(['canonical_events', 'dbt_run_results', 'deal_snapshots', 'raw_events', 'schema_migrations']);
    expect(await migrate(client, { database: 'wh_project' })).toEqual([]);
    const status = await migrationStatus(client, 'wh_project');
    expect(status.every((s) => s.state === 'applied')).toBe(true);
  });

  it('make a re-delivered raw event collapse to one row', async () => {
    await migrate(client, { database: 'wh_dedupe' });
    const row = { event_id: 'e1', event_type: 'crm.deal.created', source_system: 'CRM', master_deal_id: 'MD-1', event_ts: '2026-03-02 09:00:00.000', payload: '{}' };
    await client.insert({ table: 'wh_dedupe.raw_events', values: [row], format: 'JSONEachRow' });
    await client.insert({ table: 'wh_dedupe.raw_events', values: [{ ...row, kafka_offset: 7 }], format: 'JSONEachRow' });
    const rs = await client.query({ query: 'SELECT count() AS n, any(kafka_offset) AS offset FROM wh_dedupe.raw_events FINAL', format: 'JSONEachRow' });
    const [row1] = (await rs.json()) as Array<{ n: number | string; offset: number | string }>;
    expect({ n: Number(row1.n), offset: Number(row1.offset) }).toEqual({ n: 1, offset: 7 });
  });
});

describe('migrate', () => {
  it('rejects duplicate migration numbers', () => {
    const dir = migrationsDir({ '0001_a.sql': 'SELECT 1;', '0001_b.sql': 'SELECT 2;' });
    expect(() => readMigrations(dir)).toThrow(/duplicate migration number 0001: 0001_a.sql and 0001_b.sql/);
  });

  it('rejects files not named NNNN_description.sql', () => {
    expect(() => readMigrations(migrationsDir({ '1_create.sql': 'SELECT 1;' }))).toThrow(/NNNN_description.sql/);
  });

  it('refuses to run when an applied file changed, and applies nothing', async () => {
    const base = 'CREATE DATABASE IF NOT EXISTS {database:Identifier};\n';
    const ledger = readMigrations().find((m) => m.version === 1)!.sql;
    const dir = migrationsDir({ '0001_ledger.sql': ledger, '0002_t.sql': `${base}CREATE TABLE IF NOT EXISTS {database:Identifier}.t (x UInt8) ENGINE = MergeTree ORDER BY x;\n` });
    await migrate(client, { database: 'wh_changed', dir });
    writeFileSync(join(dir, '0002_t.sql'), `${base}CREATE TABLE IF NOT EXISTS {database:Identifier}.t (x UInt16) ENGINE = MergeTree ORDER BY x;\n`);
    writeFileSync(join(dir, '0003_u.sql'), 'CREATE TABLE IF NOT EXISTS {database:Identifier}.u (x UInt8) ENGINE = MergeTree ORDER BY x;\n');
    await expect(migrate(client, { database: 'wh_changed', dir })).rejects.toThrow(/0002_t \(changed\)/);
    expect(await tables('wh_changed')).not.toContain('u');
    expect((await migrationStatus(client, 'wh_changed', dir)).map((s) => s.state)).toEqual(['applied', 'changed', 'pending']);
  });

  it('reports an applied migration whose file is gone as missing-file', () => {
    const statuses = compareMigrations([], [{ version: 3, name: 'x', checksum: 'c', applied_at: 't' }]);
    expect(statuses).toEqual([{ version: 3, name: 'x', state: 'missing-file', appliedAt: 't' }]);
  });

  it('splits statements at line-ending semicolons and drops comment-only chunks', () => {
    expect(splitStatements('-- a comment\nCREATE TABLE a (x String DEFAULT \';x\');\n-- tail;\n')).toEqual(["-- a comment\nCREATE TABLE a (x String DEFAULT ';x')"]);
  });

  it('accepts only plain identifiers as the database name', () => {
    expect(renderStatement('USE {database:Identifier}', 'md_1')).toBe('USE `md_1`');
    expect(() => renderStatement('USE {database:Identifier}', 'x`; DROP')).toThrow(/not a plain identifier/);
  });
});
