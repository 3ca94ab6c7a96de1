import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { clickhouseClient } from '../../processors/clickhouse/client.ts';
import { PROJECT_ROOT } from '../../processors/shared/config.ts';

/**
 * `masterdeal demo` as a user runs it, against the test stack (MASTERDEAL_* from the global
 * setup) with its own topic prefix, database and marts schema: every figure it prints must be
 * what ClickHouse holds.
 */
const run = promisify(execFile);
const id = randomUUID().slice(0, 8);
const database = `it_demo_${id}`;
const marts = `it_demo_${id}_marts`;
const env = { ...process.env, MASTERDEAL_TOPIC_PREFIX: `it-demo-${id}`, MASTERDEAL_CLICKHOUSE_DATABASE: database, MASTERDEAL_DBT_SCHEMA: marts };
const client = clickhouseClient(undefined, { database: undefined });

afterAll(async () => {
  for (const db of [marts, database]) await client.command({ query: `DROP DATABASE IF EXISTS ${db}` }).catch(() => undefined);
  await client.close();
});

async function scalar(sql: string): Promise<number> {
  const [row] = await (await client.query({ query: sql, format: 'JSONEachRow' })).json<{ n: string }>();
  return Number(row.n);
}

/** `label: 1,234 ...` → 1234 from the summary. */
function figure(summary: string, label: string): number {
  const m = new RegExp(`^\\s*${label.replace(/[()]/g, '\\$&')}:\\s+([\\d,]+)`, 'm').exec(summary);
  if (!m) throw new Error(`no "${label}" line in the summary:\n${summary}`);
  return Number(m[1].replace(/,/g, ''));
}

describe('masterdeal demo', () => {
  it('with --skip-stack --deals 200 prints a summary whose counts equal what ClickHouse holds', async () => {
    const { stdout, stderr } = await run(
      process.execPath,
      [join(PROJECT_ROOT, 'scripts', 'masterdeal.mjs'), 'demo', '--skip-stack', '--deals', '200', '--bad-fraction', '0.05', '--seed', '7', '--partitions', '3'],
      { cwd: PROJECT_ROOT, env, maxBuffer: 1 << 26, timeout: 600_000 },
    );
    // One progress line per step, each ok.
    for (const step of ['topics and schemas', 'migrate', 'simulate', 'processor and sink', 'stop processor and sink', 'dbt build', 'summary']) {
      expect(stderr).toMatch(new RegExp(`\\[\\d/7\\] ${step}: ok in`));
    }

    const produced = /events in \(produced\):\s+([\d,]+) \(([\d,]+) valid \+ ([\d,]+) malformed\) for ([\d,]+) deals/.exec(stdout);
    expect(produced, stdout).not.toBeNull();
    const [, , valid, malformed, deals] = produced!.map((x) => Number(x?.replace(/,/g, '')));
    expect(deals).toBe(200);
    expect(malformed).toBeGreaterThan(0);
    expect(figure(stdout, 'dead-lettered')).toBe(malformed);

    expect(figure(stdout, 'raw events in ClickHouse')).toBe(await scalar(`SELECT count() AS n FROM ${database}.raw_events FINAL`));
    expect(figure(stdout, 'raw events in ClickHouse')).toBe(valid);
    expect(figure(stdout, 'canonical events in ClickHouse')).toBe(await scalar(`SELECT count() AS n FROM ${database}.canonical_events FINAL`));
    expect(figure(stdout, 'deal snapshots in ClickHouse')).toBe(200);
    expect(figure(stdout, 'deals (fact_deal)')).toBe(await scalar(`SELECT count() AS n FROM ${marts}.fact_deal`));
    expect(figure(stdout, 'deals (fact_deal)')).toBe(200);

    // Deals per stage: every printed stage line equals fact_deal, and they add up to all deals.
    const stageRows = await (await client.query({ query: `SELECT stage, count() AS n FROM ${marts}.fact_deal GROUP BY stage`, format: 'JSONEachRow' })).json<{ stage: string; n: string }>();
    const byStage = new Map(stageRows.map((r) => [r.stage, Number(r.n)]));
    const stageBlock = stdout.split('deals per stage')[1].split('SLA breach rate')[0];
    const printed = [...stageBlock.matchAll(/^\s+([a-z_]+)\s+([\d,]+)$/gm)].map((m) => [m[1], Number(m[2].replace(/,/g, ''))] as const);
    expect(printed.length).toBeGreaterThanOrEqual(byStage.size);
    for (const [stage, n] of printed) expect(n, stage).toBe(byStage.get(stage) ?? 0);
    expect(printed.reduce((a, [, n]) => a + n, 0)).toBe(200);

    // SLA breaches per SLA from fact_sla.
    const slaRows = await (await client.query({ query: `SELECT sla_name, count() AS timers, countIf(is_breached) AS breached FROM ${marts}.fact_sla GROUP BY sla_name`, format: 'JSONEachRow' })).json<{ sla_name: string; timers: string; breached: string }>();
    expect(slaRows.length).toBeGreaterThan(0);
    for (const r of slaRows) {
      const m = new RegExp(`^\\s+${r.sla_name}\\s+[\\d.]+%\\s+\\(([\\d,]+) of ([\\d,]+) timers\\)$`, 'm').exec(stdout);
      expect(m, r.sla_name).not.toBeNull();
      expect([Number(m![1].replace(/,/g, '')), Number(m![2].replace(/,/g, ''))]).toEqual([Number(r.breached), Number(r.timers)]);
    }

    const answers = await scalar(`SELECT count() AS n FROM ${marts}.fact_nps`);
    expect(stdout).toMatch(answers > 0 ? new RegExp(`NPS \\(fact_nps\\):\\s+-?[\\d.]+ from ${answers} answers`) : /NPS \(fact_nps\):\s+n\/a/);
    expect(stdout).toMatch(/elapsed per step:[\s\S]*dbt build\s+[\d.]+ s[\s\S]*total\s+[\d.]+ s/);
  });
});
