import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChdbEngine } from '../../../processors/clickhouse/endpoint/engine.ts';

/** The session emulation over one embedded chDB engine (no server, no network). */
let dir: string;
let engine: ChdbEngine;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'masterdeal-engine-'));
  engine = await ChdbEngine.open({ dataDir: join(dir, 'data'), databases: ['masterdeal'] });
});

afterAll(async () => {
  await engine?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function sql(sessionId: string | undefined, statement: string): Promise<string> {
  const result = await engine.execute({
    sessionId, sessionTimeoutSec: 60, sessionCheck: false, settings: new Map(), params: new Map(), sql: statement, format: 'TSV',
  });
  return result.body.toString();
}

describe('temporary tables per session', () => {
  it('regression: a second session creating a finished session\'s temporary table name no longer fails with "already exists"', async () => {
    // What a second `dbt build` within a minute did: the first run's session had not expired yet.
    await sql('dbt-run-1', 'CREATE TEMPORARY TABLE fact_deal__dbt_tmp (x UInt8)');
    await sql('dbt-run-2', 'CREATE TEMPORARY TABLE fact_deal__dbt_tmp (y String)');
    await sql('dbt-run-2', "INSERT INTO fact_deal__dbt_tmp VALUES ('second')");
    expect(await sql('dbt-run-2', 'SELECT * FROM fact_deal__dbt_tmp')).toBe('second\n');
  });

  it('keeps each session\'s table and rows when two live sessions use the same name in turn', async () => {
    await sql('a', 'CREATE TEMPORARY TABLE scratch (x UInt8 DEFAULT 9, s String) ENGINE = MergeTree ORDER BY x');
    await sql('a', "INSERT INTO scratch VALUES (1, 'from a')");
    await sql('b', 'CREATE TEMPORARY TABLE scratch (n UInt32)');
    await sql('b', 'INSERT INTO scratch VALUES (42)');
    expect(await sql('a', 'SELECT x, s FROM scratch')).toBe('1\tfrom a\n');
    // a's table came back with its own engine and defaults.
    await sql('a', "INSERT INTO scratch (s) VALUES ('default x')");
    expect(await sql('a', 'SELECT x, s FROM scratch ORDER BY s')).toBe('9\tdefault x\n1\tfrom a\n');
    expect(await sql('b', 'SELECT n FROM scratch')).toBe('42\n');
    expect(await sql('a', 'SELECT count() FROM scratch')).toBe('2\n');
  });

  it('a session dropping its own table of a shared name leaves the other session\'s table alone', async () => {
    await sql('c', 'CREATE TEMPORARY TABLE shared_name (v UInt8)');
    await sql('c', 'INSERT INTO shared_name VALUES (3)');
    await sql('d', 'CREATE TEMPORARY TABLE shared_name (v UInt8)');
    await sql('d', 'DROP TEMPORARY TABLE shared_name');
    await expect(sql('d', 'SELECT v FROM shared_name')).rejects.toMatchObject({ message: expect.stringMatching(/UNKNOWN_TABLE/) });
    expect(await sql('c', 'SELECT v FROM shared_name')).toBe('3\n');
  });

  it('a session-less request may create and reuse a name another session holds', async () => {
    await sql('e', 'CREATE TEMPORARY TABLE oneshot (v UInt8)');
    await sql('e', 'INSERT INTO oneshot VALUES (5)');
    await sql(undefined, 'CREATE TEMPORARY TABLE oneshot (w String)');
    await sql(undefined, 'CREATE TEMPORARY TABLE oneshot (w String)');
    expect(await sql('e', 'SELECT v FROM oneshot')).toBe('5\n');
  });
});
