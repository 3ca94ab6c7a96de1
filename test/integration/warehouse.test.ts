import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ClickHouseLogLevel, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickhouseClient } from '../../processors/clickhouse/client.ts';
import { loadFoldOutput, ndjsonFileLines } from '../../processors/clickhouse/load.ts';
import { migrate } from '../../processors/clickhouse/migrate.ts';
import { runDbt } from '../../processors/dbt/run.ts';
import { endpoints, PROJECT_ROOT } from '../../processors/shared/config.ts';
import { DBT_PROJECT_DIR } from '../../processors/stack/components/dbt.ts';

/**
 * Warehouse end to end on the real endpoint and the real dbt: generated events -> `masterdeal
 * fold` -> tables of clickhouse/README.md -> `masterdeal dbt build` -> the marts agree with an
 * independent computation from the fold output and the envelopes; then more events arrive
 * (the rest of the file: new deals, late and duplicate events of old ones), a second build
 * updates the incremental marts, and they still agree.
 */
const exec = promisify(execFile);
const database = `mdwh_${Date.now().toString(36)}`;
const marts = `${database}_marts`;
const env: NodeJS.ProcessEnv = {
  ...process.env,
  MASTERDEAL_CLICKHOUSE_DATABASE: database,
  MASTERDEAL_DBT_SCHEMA: marts,
  MASTERDEAL_LOG_LEVEL: 'warn',
};
let client: ClickHouseClient;
let work: string;

async function cli(...args: string[]): Promise<void> {
  await exec(process.execPath, [join(PROJECT_ROOT, 'scripts', 'masterdeal.mjs'), ...args], { cwd: PROJECT_ROOT, env, maxBuffer: 64 << 20 });
}

async function rows<T>(query: string): Promise<T[]> {
  const rs = await client.query({ query, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
  return (await rs.json()) as T[];
}

async function dbt(args: string[]): Promise<{ exitCode: number; output: string; recordedRows: number }> {
  let output = '';
  const result = await runDbt(args, { env, onOutput: (chunk) => (output += chunk) });
  return { exitCode: result.exitCode, output, recordedRows: result.recordedRows };
}

const readJsonLines = (path: string) =>
  readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, any>);

/** The expected marts, computed in TypeScript from fold snapshots and the distinct envelopes. */
function expected(envelopesPath: string, foldPath: string) {
  const snapshots = readJsonLines(foldPath).filter((o) => o.type === 'masterdeal.snapshot');
  const stageCounts: Record<string, number> = {};
  const sla = new Map<string, { duration_ms: number | null; is_breached: boolean; status: string }>();
  const breaches = new Map<string, number>();
  for (const s of snapshots) {
    stageCounts[s.stage] = (stageCounts[s.stage] ?? 0) + 1;
    let n = 0;
    for (const [name, t] of Object.entries<any>(s.sla)) {
      if (t.started_at === null) continue;
      const status = t.breached ? 'breached' : t.stopped_at === null ? 'open' : 'met';
      sla.set(`${s.master_deal_id}:${name}`, { duration_ms: t.duration_ms, is_breached: t.breached, status });
      if (t.breached) n += 1;
    }
    breaches.set(s.master_deal_id, n);
  }
  const distinct = new Map<string, Record<string, any>>();
  for (const e of readJsonLines(envelopesPath)) if (typeof e.event_id === 'string') distinct.set(e.event_id, e);
  const latest = (a: Record<string, any>, b: Record<string, any> | undefined) =>
    !b || Date.parse(a.event_ts) > Date.parse(b.event_ts) || (a.event_ts === b.event_ts && a.event_id > b.event_id) ? a : b;
  const kpiByDay = new Map<string, Record<string, any>>();
  const npsBySurvey = new Map<string, Record<string, any>>();
  for (const e of distinct.values()) {
    if (e.event_type === 'mediapush.campaign.kpi') {
      const key = `${e.payload.campaign_id}:${e.payload.date}`;
      kpiByDay.set(key, latest(e, kpiByDay.get(key)));
    } else if (e.event_type === 'okk.nps.submitted') {
      npsBySurvey.set(e.payload.survey_id, latest(e, npsBySurvey.get(e.payload.survey_id)));
    }
  }
  let impressions = 0;
  let planImpressions = 0;
  for (const e of kpiByDay.values()) {
    impressions += e.payload.impressions;
    planImpressions += e.payload.plan_impressions;
  }
  const nps = new Map([...npsBySurvey].map(([id, e]) => [id, e.payload.score >= 9 ? 'promoter' : e.payload.score >= 7 ? 'passive' : 'detractor']));
  return { deals: snapshots.length, stageCounts, sla, breaches, kpiDays: kpiByDay.size, impressions, planImpressions, nps };
}

async function assertMartsAgree(envelopesPath: string, foldPath: string): Promise<void> {
  const want = expected(envelopesPath, foldPath);

  const stages = await rows<{ stage: string; n: number }>(`SELECT stage, count() AS n FROM ${marts}.fact_deal GROUP BY stage`);
  expect(Object.fromEntries(stages.map((r) => [r.stage, Number(r.n)]))).toEqual(want.stageCounts);

  const deals = await rows<{ master_deal_id: string; breach_count: number }>(`SELECT master_deal_id, breach_count FROM ${marts}.fact_deal`);
  expect(deals).toHaveLength(want.deals);
  expect(new Map(deals.map((d) => [d.master_deal_id, Number(d.breach_count)]))).toEqual(want.breaches);

  const sla = await rows<{ deal_sla_id: string; duration_ms: number | null; is_breached: boolean | number; sla_status: string }>(
    `SELECT deal_sla_id, duration_ms, is_breached, sla_status FROM ${marts}.fact_sla`,
  );
  const got = new Map(sla.map((r) => [r.deal_sla_id, { duration_ms: r.duration_ms === null ? null : Number(r.duration_ms), is_breached: Boolean(r.is_breached), status: r.sla_status }]));
  expect(got.size).toBe(sla.length); // no duplicate rows after incremental runs
  expect(got).toEqual(want.sla);

  const [kpi] = await rows<{ days: number; impressions: number; plan: number }>(
    `SELECT count() AS days, sum(impressions) AS impressions, sum(plan_impressions) AS plan FROM ${marts}.fact_kpi`,
  );
  expect({ days: Number(kpi.days), impressions: Number(kpi.impressions), plan: Number(kpi.plan) }).toEqual({
    days: want.kpiDays, impressions: want.impressions, plan: want.planImpressions,
  });

  const nps = await rows<{ survey_id: string; nps_category: string }>(`SELECT survey_id, nps_category FROM ${marts}.fact_nps`);
  expect(new Map(nps.map((r) => [r.survey_id, r.nps_category]))).toEqual(want.nps);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'md-warehouse-'));
  client = clickhouseClient({ ...endpoints(env), clickhouseDatabase: database }, { database: undefined, log: { level: ClickHouseLogLevel.OFF } });
  await migrate(client, { database });
  await cli('generate', '--deals', '300', '--seed', '11', '--shuffle', '--duplicates', '0.03', '--late', '0.03', '--no-progress', '--out', join(work, 'all.ndjson'));
  // The first 70 % of arrivals now, the rest later: later lines hold new deals and late facts of old ones.
  const lines = readFileSync(join(work, 'all.ndjson'), 'utf8').split('\n').filter(Boolean);
  writeFileSync(join(work, 'first.ndjson'), `${lines.slice(0, Math.floor(lines.length * 0.7)).join('\n')}\n`);
});

afterAll(async () => {
  await client?.command({ query: `DROP DATABASE IF EXISTS ${marts}` }).catch(() => undefined);
  await client?.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
  await client?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('warehouse: fold output -> tables -> dbt marts', () => {
  it('a first dbt build (models, tests, unit tests) yields marts that agree with the fold', async () => {
    await cli('fold', '--in', join(work, 'first.ndjson'), '--out', join(work, 'first.fold.ndjson'), '--emit', 'all', '--no-progress');
    const loaded = await loadFoldOutput(client, ndjsonFileLines(join(work, 'first.ndjson')), ndjsonFileLines(join(work, 'first.fold.ndjson')), { database });
    expect(loaded.rejected).toEqual([]);
    expect(loaded.dealSnapshots).toBeGreaterThan(100);

    const build = await dbt(['build']);
    expect(build.exitCode, build.output.slice(-4000)).toBe(0);
    expect(build.recordedRows).toBeGreaterThan(50);
    await assertMartsAgree(join(work, 'first.ndjson'), join(work, 'first.fold.ndjson'));

    const recorded = await rows<{ n: number }>(`SELECT count() AS n FROM ${database}.dbt_run_results WHERE command = 'build' AND status IN ('success', 'pass')`);
    expect(Number(recorded[0].n)).toBe(build.recordedRows);
  });

  it('more events and a second build update the incremental marts, which still agree', async () => {
    await cli('fold', '--in', join(work, 'all.ndjson'), '--out', join(work, 'all.fold.ndjson'), '--emit', 'all', '--no-progress');
    // Everything again: already loaded rows are re-deliveries and must collapse.
    const loaded = await loadFoldOutput(client, ndjsonFileLines(join(work, 'all.ndjson')), ndjsonFileLines(join(work, 'all.fold.ndjson')), { database });
    expect(loaded.rejected).toEqual([]);

    // Unit tests run again within a minute of the first build's (their temporary tables must not collide).
    // No look-back: only rows ingested since the first build count as new, so the increment is real.
    const build = await dbt(['build', '--vars', '{incremental_lookback_minutes: 0}']);
    expect(build.exitCode, build.output.slice(-4000)).toBe(0);
    expect(build.output).toMatch(/incremental model .*fact_sla/);
    await assertMartsAgree(join(work, 'all.ndjson'), join(work, 'all.fold.ndjson'));
  });

  it('every analysis compiles and runs against the marts', async () => {
    const compile = await dbt(['compile', '--select', 'resource_type:analysis']);
    expect(compile.exitCode, compile.output.slice(-4000)).toBe(0);
    const dir = join(DBT_PROJECT_DIR, 'target', 'compiled', 'masterdeal', 'analyses');
    const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
    expect(files).toEqual([
      'bottleneck_stage.sql', 'cycle_time_by_segment.sql', 'funnel_by_stage.sql', 'kpi_delivery_vs_plan.sql',
      'nps_by_industry.sql', 'sla_breach_rate.sql', 'sla_time_by_segment.sql',
    ]);
    for (const file of files) {
      const result = await rows<Record<string, unknown>>(readFileSync(join(dir, file), 'utf8'));
      expect(result.length, file).toBeGreaterThan(0);
    }
    // Spot-check one against the fold: breached timers per SLA.
    const want = expected(join(work, 'all.ndjson'), join(work, 'all.fold.ndjson'));
    const breachRate = await rows<{ sla_name: string; breached: number }>(readFileSync(join(dir, 'sla_breach_rate.sql'), 'utf8'));
    for (const r of breachRate) {
      const n = [...want.sla].filter(([k, v]) => k.endsWith(`:${r.sla_name}`) && v.status === 'breached').length;
      expect(Number(r.breached), r.sla_name).toBe(n);
    }
  });

  it('dbt docs generate succeeds', async () => {
    const docs = await dbt(['docs', 'generate']);
    expect(docs.exitCode, docs.output.slice(-4000)).toBe(0);
  });
});
