import type { ClickHouseClient } from '@clickhouse/client';
import { SLA_NAMES } from '../api/model.ts';

/**
 * What `masterdeal demo` reports once the marts are built: counts from the warehouse and the
 * marts (never from the demo's own bookkeeping, except what it produced), and their rendering.
 */
export interface DemoSummary {
  produced: { events: number; valid: number; malformed: number; deals: number };
  deadLettered: number;
  warehouse: { rawEvents: number; canonicalEvents: number; dealSnapshots: number };
  marts: {
    deals: number;
    stages: Array<{ stage: string; deals: number }>;
    slas: Array<{ sla: string; timers: number; breached: number; breachRate: number }>;
    nps: { answers: number; score: number | null };
    kpi: { campaignDays: number; impressionsDelivery: number | null; spendDelivery: number | null; ctr: number | null; cpaRub: number | null };
  };
  endpoints: { clickhouse: string; api: string; apiRunning: boolean };
  steps: Array<{ step: string; seconds: number }>;
}

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  return (await client.query({ query, format: 'JSONEachRow' })).json<T>();
}

const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);

export async function readWarehouse(client: ClickHouseClient, database: string): Promise<DemoSummary['warehouse']> {
  const [r] = await rows<Record<string, string>>(client, `
    SELECT (SELECT count() FROM ${database}.raw_events FINAL) AS raw,
           (SELECT count() FROM ${database}.canonical_events FINAL) AS canonical,
           (SELECT count() FROM ${database}.deal_snapshots FINAL) AS snapshots`);
  return { rawEvents: Number(r.raw), canonicalEvents: Number(r.canonical), dealSnapshots: Number(r.snapshots) };
}

export async function readMarts(client: ClickHouseClient, marts: string): Promise<DemoSummary['marts']> {
  const [deals] = await rows<{ n: string }>(client, `SELECT count() AS n FROM ${marts}.fact_deal`);
  // Every stage of dim_stage, in funnel order, with zero where no deal is.
  const stages = await rows<{ stage: string; deals: string }>(client, `
    SELECT s.stage AS stage, countIf(f.master_deal_id != '') AS deals
    FROM (SELECT stage, min(stage_order) AS stage_order FROM ${marts}.dim_stage GROUP BY stage) AS s
    LEFT JOIN ${marts}.fact_deal AS f ON f.stage = s.stage
    GROUP BY s.stage, s.stage_order ORDER BY s.stage_order`);
  const slas = await rows<{ sla: string; timers: string; breached: string }>(client, `
    SELECT sla_name AS sla, count() AS timers, countIf(is_breached) AS breached FROM ${marts}.fact_sla GROUP BY sla_name`);
  const order = (name: string) => (SLA_NAMES as readonly string[]).indexOf(name);
  const [nps] = await rows<Record<string, string>>(client, `
    SELECT count() AS n, countIf(nps_category = 'promoter') AS promoters, countIf(nps_category = 'detractor') AS detractors
    FROM ${marts}.fact_nps`);
  const [kpi] = await rows<Record<string, string>>(client, `
    SELECT count() AS days, sum(impressions) AS impressions, sum(plan_impressions) AS plan_impressions,
           sum(spend_rub) AS spend, sum(plan_spend_rub) AS plan_spend, sum(clicks) AS clicks, sum(conversions) AS conversions
    FROM ${marts}.fact_kpi`);
  const n = Number(nps.n);
  return {
    deals: Number(deals.n),
    stages: stages.map((s) => ({ stage: s.stage, deals: Number(s.deals) })),
    slas: slas
      .map((s) => ({ sla: s.sla, timers: Number(s.timers), breached: Number(s.breached), breachRate: Number(s.breached) / Number(s.timers) }))
      .sort((a, b) => order(a.sla) - order(b.sla)),
    nps: { answers: n, score: n > 0 ? ((Number(nps.promoters) - Number(nps.detractors)) / n) * 100 : null },
    kpi: {
      campaignDays: Number(kpi.days),
      impressionsDelivery: ratio(Number(kpi.impressions), Number(kpi.plan_impressions)),
      spendDelivery: ratio(Number(kpi.spend), Number(kpi.plan_spend)),
      ctr: ratio(Number(kpi.clicks), Number(kpi.impressions)),
      cpaRub: ratio(Number(kpi.spend), Number(kpi.conversions)),
    },
  };
}

const pct = (x: number | null, digits = 1) => (x === null ? 'n/a' : `${(x * 100).toFixed(digits)}%`);
const int = (x: number) => x.toLocaleString('en-US');

/** The printed summary; one fact per line, `label: value`, so people and tests can read it. */
export function formatSummary(s: DemoSummary): string {
  const out: string[] = ['', 'MasterDeal demo summary', ''];
  const line = (label: string, value: string) => out.push(`  ${`${label}:`.padEnd(34)} ${value}`);
  line('events in (produced)', `${int(s.produced.events)} (${int(s.produced.valid)} valid + ${int(s.produced.malformed)} malformed) for ${int(s.produced.deals)} deals`);
  line('dead-lettered', int(s.deadLettered));
  line('raw events in ClickHouse', int(s.warehouse.rawEvents));
  line('canonical events in ClickHouse', int(s.warehouse.canonicalEvents));
  line('deal snapshots in ClickHouse', int(s.warehouse.dealSnapshots));
  line('deals (fact_deal)', int(s.marts.deals));
  out.push('', '  deals per stage (dim_stage order):');
  for (const st of s.marts.stages) out.push(`    ${st.stage.padEnd(20)} ${int(st.deals).padStart(8)}`);
  out.push('', '  SLA breach rate (fact_sla):');
  for (const sla of s.marts.slas) {
    out.push(`    ${sla.sla.padEnd(20)} ${pct(sla.breachRate).padStart(7)}  (${int(sla.breached)} of ${int(sla.timers)} timers)`);
  }
  out.push('');
  line('NPS (fact_nps)', s.marts.nps.score === null ? 'n/a (no answers)' : `${s.marts.nps.score.toFixed(1)} from ${int(s.marts.nps.answers)} answers`);
  line('KPI delivery (fact_kpi)', `impressions ${pct(s.marts.kpi.impressionsDelivery)} of plan, spend ${pct(s.marts.kpi.spendDelivery)} of plan over ${int(s.marts.kpi.campaignDays)} campaign-days`);
  line('KPI efficiency', `CTR ${pct(s.marts.kpi.ctr, 2)}, CPA ${s.marts.kpi.cpaRub === null ? 'n/a' : `${Math.round(s.marts.kpi.cpaRub).toLocaleString('en-US')} RUB`}`);
  out.push('');
  line('ClickHouse', s.endpoints.clickhouse);
  line(s.endpoints.apiRunning ? 'dashboard (running)' : 'dashboard (masterdeal api)', `${s.endpoints.api}/  (API docs ${s.endpoints.api}/docs)`);
  out.push('', '  elapsed per step:');
  for (const st of s.steps) out.push(`    ${st.step.padEnd(28)} ${st.seconds.toFixed(1).padStart(7)} s`);
  out.push(`    ${'total'.padEnd(28)} ${s.steps.reduce((a, b) => a + b.seconds, 0).toFixed(1).padStart(7)} s`, '');
  return out.join('\n');
}
