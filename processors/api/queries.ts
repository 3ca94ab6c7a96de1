import {
  BUDGET_SEGMENTS,
  budgetSegmentSql,
  SLA_NAMES,
  STAGES,
  type EventRef,
  type Snapshot,
} from './model.ts';
import type { SqlReader, Tables } from './warehouse.ts';

/**
 * The API's reads from ClickHouse: deal snapshots (FINAL: latest version per deal), raw envelopes
 * and canonical events. Client attributes (industry, client type, budget) come from the deal's
 * earliest crm.deal.created payload. Every user value is a bound parameter, never spliced.
 */

export interface DealFilter {
  stage?: string;
  industry?: string;
  client_type?: string;
  budget_segment?: string;
  breached?: boolean;
}

const SLA_ARRAY = `[${SLA_NAMES.map((s) => `'${s}'`).join(', ')}]`;
// Each snapshot body is parsed once into typed maps; per-gate / per-SLA lookups then cost nothing
// (extracting field by field re-parses the JSON each time: 5x slower at 20k deals).
const GATES_T = `'Map(String, Tuple(value Bool, event_ts Nullable(String)))'`;
const SLA_T = `'Map(String, Tuple(started_at Nullable(String), stopped_at Nullable(String), deadline_at Nullable(String), duration_ms Nullable(Int64), target_ms Nullable(Int64), breached Bool))'`;
const slaField = (sla: string, field: string) => `tupleElement(sla_map[${sla}], '${field}')`;
const msToIso = (ms: number | null | undefined): string | null =>
  ms === null || ms === undefined || ms <= 0 ? null : new Date(ms).toISOString();

/**
 * One row per deal: the latest snapshot, joined with its client attributes only when a filter or
 * the caller needs them (the join reads every deal.created payload; pipeline-wide figures skip it).
 */
function dealsSql(t: Tables, withAttributes = true): string {
  const snapshots = `SELECT master_deal_id, stage, version, updated_at, body,
           JSONExtract(body, 'gates', ${GATES_T}) AS gates_map, JSONExtract(body, 'sla', ${SLA_T}) AS sla_map
    FROM ${t.snapshots} FINAL`;
  const breachCount = `s.gates_map AS gates_map, s.sla_map AS sla_map,
           arrayCount(v -> tupleElement(v, 'breached'), mapValues(s.sla_map)) AS breach_count`;
  if (!withAttributes) {
    return `
    SELECT s.master_deal_id AS master_deal_id, s.stage AS stage, s.body AS body,
           toUnixTimestamp64Milli(s.updated_at) AS updated_at_ms, ${breachCount}
    FROM (${snapshots}) AS s`;
  }
  return `
    SELECT s.master_deal_id AS master_deal_id, s.stage AS stage, s.version AS version,
           toUnixTimestamp64Milli(s.updated_at) AS updated_at_ms, s.body AS body,
           if(a.has_created, a.industry, 'unknown') AS industry,
           if(a.has_created, a.client_type, 'unknown') AS client_type,
           a.client_name AS client_name,
           if(a.has_created AND a.has_budget, a.budget, NULL) AS budget_rub,
           ${budgetSegmentSql('budget_rub')} AS budget_segment,
           a.created_ms AS created_at_ms,
           a.cancelled_ms AS cancelled_at_ms,
           ${breachCount}
    FROM (${snapshots}) AS s
    LEFT JOIN (
      SELECT master_deal_id, has_created, created_ms, cancelled_ms,
             JSONExtractString(p, 'industry') AS industry,
             JSONExtractString(p, 'client_type') AS client_type,
             JSONExtractString(p, 'client_name') AS client_name,
             JSONHas(p, 'budget_rub') AS has_budget,
             JSONExtractFloat(p, 'budget_rub') AS budget
      FROM (
        SELECT master_deal_id,
               countIf(event_type = 'crm.deal.created') > 0 AS has_created,
               argMinIf(payload, (event_ts, event_id), event_type = 'crm.deal.created') AS p,
               toUnixTimestamp64Milli(minIf(event_ts, event_type = 'crm.deal.created')) AS created_ms,
               toUnixTimestamp64Milli(minIf(event_ts, event_type = 'crm.deal.cancelled')) AS cancelled_ms
        FROM ${t.raw} FINAL
        WHERE event_type IN ('crm.deal.created', 'crm.deal.cancelled')
        GROUP BY master_deal_id
      )
    ) AS a ON a.master_deal_id = s.master_deal_id`;
}

const needsAttributes = (f: DealFilter) => f.industry !== undefined || f.client_type !== undefined || f.budget_segment !== undefined;

function whereClause(f: DealFilter): { sql: string; params: Record<string, unknown> } {
  const conds: string[] = [];
  const params: Record<string, unknown> = {};
  if (f.stage !== undefined) (conds.push('stage = {stage:String}'), (params.stage = f.stage));
  if (f.industry !== undefined) (conds.push('industry = {industry:String}'), (params.industry = f.industry));
  if (f.client_type !== undefined) (conds.push('client_type = {client_type:String}'), (params.client_type = f.client_type));
  if (f.budget_segment !== undefined) (conds.push('budget_segment = {budget_segment:String}'), (params.budget_segment = f.budget_segment));
  if (f.breached !== undefined) conds.push(f.breached ? 'breach_count > 0' : 'breach_count = 0');
  return { sql: conds.length ? `WHERE ${conds.join(' AND ')}` : '', params };
}

// ---------------------------------------------------------------- single deal

export interface DealRecord {
  snapshot: Snapshot | null;
  version: number | null;
  updated_at: string | null;
  client: {
    client_id: string | null;
    client_name: string | null;
    industry: string | null;
    client_type: string | null;
    budget_rub: number | null;
  } | null;
  events: EventRef[];
}

interface RawRow {
  event_id: string;
  event_type: string;
  source_system: string;
  event_ts_ms: number;
  payload: string;
}

export async function readDeal(db: SqlReader, t: Tables, id: string): Promise<DealRecord | null> {
  const [snaps, raws] = await Promise.all([
    db.rows<{ body: string; version: number; updated_at_ms: number }>(
      `SELECT body, version, toUnixTimestamp64Milli(updated_at) AS updated_at_ms
       FROM ${t.snapshots} FINAL WHERE master_deal_id = {id:String} LIMIT 1`,
      { id },
    ),
    db.rows<RawRow>(
      `SELECT event_id, event_type, source_system, toUnixTimestamp64Milli(event_ts) AS event_ts_ms, payload
       FROM ${t.raw} FINAL WHERE master_deal_id = {id:String} ORDER BY event_ts, event_id`,
      { id },
    ),
  ]);
  if (snaps.length === 0 && raws.length === 0) return null;
  const snap = snaps[0];
  const snapshot = snap ? (JSON.parse(snap.body) as Snapshot) : null;
  const created = raws.find((r) => r.event_type === 'crm.deal.created');
  const p = created ? (JSON.parse(created.payload) as Record<string, unknown>) : null;
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    snapshot,
    version: snap ? Number(snap.version) : null,
    updated_at: snap ? msToIso(snap.updated_at_ms) : null,
    client: p
      ? {
          client_id: str(p.client_id),
          client_name: str(p.client_name),
          industry: str(p.industry),
          client_type: str(p.client_type),
          budget_rub: typeof p.budget_rub === 'number' ? p.budget_rub : null,
        }
      : null,
    events: raws.map((r) => ({
      event_id: r.event_id,
      event_type: r.event_type,
      source_system: r.source_system,
      event_ts: msToIso(Number(r.event_ts_ms)) ?? '',
    })),
  };
}

export interface TimelineItem {
  kind: 'event' | 'canonical';
  type: string;
  event_ts: string;
  id: string;
  source_system: string | null;
  body: Record<string, unknown>;
}

/** A deal's domain events and canonical outputs in event time (ties: domain events first, then id). */
export async function readTimeline(db: SqlReader, t: Tables, id: string): Promise<TimelineItem[] | null> {
  const rows = await db.rows<{ kind: string; type: string; ts_ms: number; id: string; source_system: string; body: string }>(
    `SELECT * FROM (
       SELECT 'event' AS kind, toString(event_type) AS type, toUnixTimestamp64Milli(event_ts) AS ts_ms,
              event_id AS id, toString(source_system) AS source_system, payload AS body
       FROM ${t.raw} FINAL WHERE master_deal_id = {id:String}
       UNION ALL
       SELECT 'canonical' AS kind, toString(type) AS type, toUnixTimestamp64Milli(event_ts) AS ts_ms,
              canonical_id AS id, '' AS source_system, body
       FROM ${t.canonical} FINAL WHERE master_deal_id = {id:String}
     ) ORDER BY ts_ms, kind DESC, id`,
    { id },
  );
  if (rows.length === 0) {
    const snap = await db.rows<{ n: number }>(`SELECT count() AS n FROM ${t.snapshots} WHERE master_deal_id = {id:String}`, { id });
    if (Number(snap[0]?.n ?? 0) === 0) return null;
  }
  return rows.map((r) => ({
    kind: r.kind as TimelineItem['kind'],
    type: r.type,
    event_ts: msToIso(Number(r.ts_ms)) ?? '',
    id: r.id,
    source_system: r.kind === 'event' ? r.source_system : null,
    body: JSON.parse(r.body) as Record<string, unknown>,
  }));
}

// ---------------------------------------------------------------- deal list

export interface DealListItem {
  master_deal_id: string;
  stage: string;
  client_name: string | null;
  industry: string;
  client_type: string;
  budget_rub: number | null;
  budget_segment: string;
  created_at: string | null;
  updated_at: string | null;
  breached: boolean;
  breach_count: number;
}

export async function listDeals(
  db: SqlReader,
  t: Tables,
  filter: DealFilter,
  page: number,
  pageSize: number,
): Promise<{ total: number; items: DealListItem[] }> {
  const w = whereClause(filter);
  const params = { ...w.params, limit: pageSize, offset: (page - 1) * pageSize };
  const [countRows, rows] = await Promise.all([
    db.rows<{ total: number }>(`SELECT count() AS total FROM (${dealsSql(t)}) ${w.sql}`, w.params),
    db.rows<{
      master_deal_id: string;
      stage: string;
      client_name: string;
      industry: string;
      client_type: string;
      budget_rub: number | null;
      budget_segment: string;
      created_at_ms: number;
      updated_at_ms: number;
      breach_count: number;
    }>(
      `SELECT master_deal_id, stage, client_name, industry, client_type, budget_rub, budget_segment,
              created_at_ms, updated_at_ms, breach_count
       FROM (${dealsSql(t)}) ${w.sql}
       ORDER BY master_deal_id LIMIT {limit:UInt32} OFFSET {offset:UInt64}`,
      params,
    ),
  ]);
  return {
    total: Number(countRows[0]?.total ?? 0),
    items: rows.map((r) => ({
      master_deal_id: r.master_deal_id,
      stage: r.stage,
      client_name: r.client_name || null,
      industry: r.industry,
      client_type: r.client_type,
      budget_rub: r.budget_rub === null ? null : Number(r.budget_rub),
      budget_segment: r.budget_segment,
      created_at: msToIso(Number(r.created_at_ms)),
      updated_at: msToIso(Number(r.updated_at_ms)),
      breached: Number(r.breach_count) > 0,
      breach_count: Number(r.breach_count),
    })),
  };
}

// ---------------------------------------------------------------- aggregates

export interface StageCount {
  stage: string;
  /** Deals whose current stage is this one. */
  current: number;
  /** Deals that reached this stage at some point (from the gates; cancelled deals count where they got). */
  reached: number;
}

export interface SlaStats {
  sla: string;
  started: number;
  open: number;
  met: number;
  breached: number;
  /** breached / started (0 when none started). */
  breach_rate: number;
  /** Over stopped timers. */
  median_ms: number | null;
  p90_ms: number | null;
  target_ms: number | null;
}

export interface Totals {
  deals: number;
  open: number;
  closed: number;
  cancelled: number;
  breached_deals: number;
}

// Reached-stage predicates over the snapshot's gate values (SPEC §3 default rules).
const g = (name: string) => `tupleElement(gates_map['${name}'], 'value')`;
const REACHED: Record<string, string> = {
  draft: '1',
  briefed: g('has_brief'),
  offer_ready: `${g('mediaplan_ready')} AND ${g('offer_approved')}`,
  contracting: g('contract_signed'),
  running: g('campaign_started'),
  closing: `${g('campaign_started')} AND ${g('invoice_issued')}`,
  closed: g('closeout_completed'),
  cancelled: `stage = 'cancelled'`,
};

export async function stageCounts(db: SqlReader, t: Tables, filter: DealFilter): Promise<StageCount[]> {
  const w = whereClause(filter);
  const cols = STAGES.map((s, i) => `countIf(stage = '${s}') AS c${i}, countIf(${REACHED[s]}) AS r${i}`).join(', ');
  const [row] = await db.rows<Record<string, number>>(`SELECT ${cols} FROM (${dealsSql(t, needsAttributes(filter))}) ${w.sql}`, w.params);
  return STAGES.map((stage, i) => ({ stage, current: Number(row?.[`c${i}`] ?? 0), reached: Number(row?.[`r${i}`] ?? 0) }));
}

export async function totals(db: SqlReader, t: Tables, filter: DealFilter): Promise<Totals> {
  const w = whereClause(filter);
  const [r] = await db.rows<Record<string, number>>(
    `SELECT count() AS deals, countIf(stage NOT IN ('closed', 'cancelled')) AS open,
            countIf(stage = 'closed') AS closed, countIf(stage = 'cancelled') AS cancelled,
            countIf(breach_count > 0) AS breached_deals
     FROM (${dealsSql(t, needsAttributes(filter))}) ${w.sql}`,
    w.params,
  );
  return {
    deals: Number(r?.deals ?? 0),
    open: Number(r?.open ?? 0),
    closed: Number(r?.closed ?? 0),
    cancelled: Number(r?.cancelled ?? 0),
    breached_deals: Number(r?.breached_deals ?? 0),
  };
}

export async function slaStats(db: SqlReader, t: Tables, filter: DealFilter): Promise<SlaStats[]> {
  const w = whereClause(filter);
  const rows = await db.rows<{
    sla: string;
    started: number;
    open: number;
    met: number;
    breached: number;
    median_ms: number | null;
    p90_ms: number | null;
    target_ms: number | null;
  }>(
    `SELECT sla,
            countIf(is_started) AS started,
            countIf(is_started AND NOT is_stopped AND NOT is_breached) AS open,
            countIf(is_started AND is_stopped AND NOT is_breached) AS met,
            countIf(is_breached) AS breached,
            if(countIf(is_stopped AND duration_ms IS NOT NULL) = 0, NULL,
               quantileExactIf(0.5)(assumeNotNull(duration_ms), is_stopped AND duration_ms IS NOT NULL)) AS median_ms,
            if(countIf(is_stopped AND duration_ms IS NOT NULL) = 0, NULL,
               quantileExactIf(0.9)(assumeNotNull(duration_ms), is_stopped AND duration_ms IS NOT NULL)) AS p90_ms,
            maxOrNull(sla_target_ms) AS target_ms
     FROM (
       SELECT sla,
              isNotNull(${slaField('sla', 'started_at')}) AS is_started,
              isNotNull(${slaField('sla', 'stopped_at')}) AS is_stopped,
              ${slaField('sla', 'breached')} AS is_breached,
              ${slaField('sla', 'duration_ms')} AS duration_ms,
              ${slaField('sla', 'target_ms')} AS sla_target_ms
       FROM (SELECT sla_map FROM (${dealsSql(t, needsAttributes(filter))}) ${w.sql})
       ARRAY JOIN ${SLA_ARRAY} AS sla
     )
     GROUP BY sla`,
    w.params,
  );
  const bySla = new Map(rows.map((r) => [r.sla, r]));
  return SLA_NAMES.map((sla) => {
    const r = bySla.get(sla);
    const started = Number(r?.started ?? 0);
    const breached = Number(r?.breached ?? 0);
    return {
      sla,
      started,
      open: Number(r?.open ?? 0),
      met: Number(r?.met ?? 0),
      breached,
      breach_rate: started === 0 ? 0 : breached / started,
      median_ms: r?.median_ms === null || r?.median_ms === undefined ? null : Number(r.median_ms),
      p90_ms: r?.p90_ms === null || r?.p90_ms === undefined ? null : Number(r.p90_ms),
      target_ms: r?.target_ms === null || r?.target_ms === undefined ? null : Number(r.target_ms),
    };
  });
}

const MAX_TREND_POINTS = 400;

export interface TrendPoint {
  bucket: string;
  created: number;
  closed: number;
  cancelled: number;
  breaches: number;
}

/**
 * Deals created, closed, cancelled and SLA breaches per event-time bucket (hour or day; `auto`
 * picks hours for spans up to 3 days). Close/cancel/breach times come from the snapshot
 * (G7 time, the deadline of each breached timer) and the raw cancelling event, so the trend is live
 * with the snapshots and needs no canonical stream.
 */
export async function trend(
  db: SqlReader,
  t: Tables,
  filter: DealFilter,
  bucket: 'hour' | 'day' | 'auto',
): Promise<{ bucket: 'hour' | 'day'; points: TrendPoint[] }> {
  const w = whereClause(filter);
  const parse = (expr: string) => `toUnixTimestamp64Milli(parseDateTime64BestEffortOrNull(${expr}, 3, 'UTC'))`;
  const factsSql = `
    SELECT kind, ts_ms FROM (
      SELECT master_deal_id, stage, gates_map, sla_map, created_at_ms, cancelled_at_ms FROM (${dealsSql(t)}) ${w.sql}
    ) AS d
    ARRAY JOIN
      ['created', 'closed', 'cancelled', 'breach', 'breach', 'breach', 'breach', 'breach'] AS kind,
      [
        if(created_at_ms > 0, created_at_ms, NULL),
        if(stage = 'closed', ${parse(`tupleElement(gates_map['closeout_completed'], 'event_ts')`)}, NULL),
        if(stage = 'cancelled' AND cancelled_at_ms > 0, cancelled_at_ms, NULL),
        ${SLA_NAMES.map(
          (n) => `if(${slaField(`'${n}'`, 'breached')},
                 coalesce(${parse(slaField(`'${n}'`, 'deadline_at'))},
                          ${parse(slaField(`'${n}'`, 'started_at'))} + ${slaField(`'${n}'`, 'target_ms')}), NULL)`,
        ).join(',\n        ')}
      ] AS ts_ms
    WHERE ts_ms IS NOT NULL`;
  let unit = bucket;
  if (unit === 'auto') {
    const [span] = await db.rows<{ lo: number | null; hi: number | null }>(`SELECT min(ts_ms) AS lo, max(ts_ms) AS hi FROM (${factsSql})`, w.params);
    const lo = Number(span?.lo ?? 0);
    const hi = Number(span?.hi ?? 0);
    unit = hi - lo <= 3 * 86_400_000 ? 'hour' : 'day';
  }
  const size = unit === 'hour' ? 3_600_000 : 86_400_000;
  const rows = await db.rows<{ b: number; created: number; closed: number; cancelled: number; breaches: number }>(
    `SELECT intDiv(ts_ms, ${size}) * ${size} AS b,
            countIf(kind = 'created') AS created, countIf(kind = 'closed') AS closed,
            countIf(kind = 'cancelled') AS cancelled, countIf(kind = 'breach') AS breaches
     FROM (${factsSql}) GROUP BY b ORDER BY b`,
    w.params,
  );
  // Empty buckets as zeros, so the time axis is even (at most MAX_TREND_POINTS, the latest ones).
  const byBucket = new Map(rows.map((r) => [Number(r.b), r]));
  const points: TrendPoint[] = [];
  if (rows.length > 0) {
    const last = Number(rows[rows.length - 1].b);
    const first = Math.max(Number(rows[0].b), last - (MAX_TREND_POINTS - 1) * size);
    for (let b = first; b <= last; b += size) {
      const r = byBucket.get(b);
      points.push({
        bucket: new Date(b).toISOString(),
        created: Number(r?.created ?? 0),
        closed: Number(r?.closed ?? 0),
        cancelled: Number(r?.cancelled ?? 0),
        breaches: Number(r?.breaches ?? 0),
      });
    }
  }
  return { bucket: unit, points };
}

export interface FilterOptions {
  industries: string[];
  client_types: string[];
  budget_segments: Array<{ segment: string; label: string }>;
  stages: readonly string[];
}

export async function filterOptions(db: SqlReader, t: Tables): Promise<FilterOptions> {
  const rows = await db.rows<{ industries: string[]; client_types: string[] }>(
    `SELECT arraySort(groupUniqArray(JSONExtractString(payload, 'industry'))) AS industries,
            arraySort(groupUniqArray(JSONExtractString(payload, 'client_type'))) AS client_types
     FROM ${t.raw} WHERE event_type = 'crm.deal.created'`,
  );
  return {
    industries: (rows[0]?.industries ?? []).filter(Boolean),
    client_types: (rows[0]?.client_types ?? []).filter(Boolean),
    budget_segments: BUDGET_SEGMENTS.map((s) => ({ segment: s.segment, label: s.label })),
    stages: STAGES,
  };
}

/**
 * A cheap fingerprint of the warehouse contents (row counts and latest versions, no FINAL): the
 * live stream tells dashboards to refresh when it changes.
 */
export async function dataVersion(db: SqlReader, t: Tables): Promise<string> {
  const [r] = await db.rows<{ raw: number; snaps: number; v: number; c: number }>(
    `SELECT (SELECT count() FROM ${t.raw}) AS raw, (SELECT count() FROM ${t.snapshots}) AS snaps,
            (SELECT max(version) FROM ${t.snapshots}) AS v, (SELECT count() FROM ${t.canonical}) AS c`,
  );
  return `${r?.raw ?? 0}.${r?.snaps ?? 0}.${r?.v ?? 0}.${r?.c ?? 0}`;
}
