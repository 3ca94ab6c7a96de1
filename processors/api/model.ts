/**
 * What the API and the dashboard need to know about the pipeline's vocabulary (SPEC §2-§4):
 * stage order, gates, SLA timers and the default stage rules, used to present and explain a
 * snapshot. The stage explanation reads the engine's rules (data, processors/core/rules); the
 * labels here only make the default vocabulary readable.
 */

export const STAGES = ['draft', 'briefed', 'offer_ready', 'contracting', 'running', 'closing', 'closed', 'cancelled'] as const;
export type Stage = (typeof STAGES)[number];

export interface GateInfo {
  gate: string;
  code: string;
  label: string;
  /** Event types that set it (first one) or reset it (compensation). */
  setBy: string;
  resetBy?: string;
}

export const GATES: readonly GateInfo[] = [
  { gate: 'has_brief', code: 'G1', label: 'Brief submitted', setBy: 'crm.brief.submitted' },
  { gate: 'mediaplan_ready', code: 'G2', label: 'Media plan ready', setBy: 'media.mediaplan.ready' },
  { gate: 'offer_approved', code: 'G3', label: 'Offer approved', setBy: 'crm.offer.approved' },
  { gate: 'contract_signed', code: 'G4', label: 'Contract signed', setBy: 'docflow.contract.signed', resetBy: 'docflow.contract.revoked' },
  { gate: 'campaign_started', code: 'G5', label: 'Campaign started', setBy: 'mediapush.campaign.started' },
  { gate: 'invoice_issued', code: 'G6', label: 'Invoice issued', setBy: 'dcm.invoice.issued' },
  { gate: 'closeout_completed', code: 'G7', label: 'Close-out completed', setBy: 'dcm.closeout.completed' },
];

export interface SlaInfo {
  sla: string;
  label: string;
  /** The stage a deal sits in while this timer runs: where a slow timer shows as a bottleneck. */
  waitingStage: Stage;
  targetMs: number;
}

const H = 3_600_000;
export const SLAS: readonly SlaInfo[] = [
  { sla: 'lead_to_brief', label: 'Lead → brief', waitingStage: 'draft', targetMs: 8 * H },
  { sla: 'brief_to_offer', label: 'Brief → offer', waitingStage: 'briefed', targetMs: 48 * H },
  { sla: 'offer_to_contract', label: 'Offer → contract', waitingStage: 'offer_ready', targetMs: 72 * H },
  { sla: 'contract_to_launch', label: 'Contract → launch', waitingStage: 'contracting', targetMs: 48 * H },
  { sla: 'launch_to_close', label: 'Launch → close', waitingStage: 'running', targetMs: 720 * H },
];
export const SLA_NAMES = SLAS.map((s) => s.sla);

/**
 * Budget segments (RUB): small < 5M <= medium < 20M <= large. The definition is dbt's var
 * `budget_segment_bounds_rub` (dbt/dbt_project.yml), so fact_deal and the API's filters agree;
 * test/api/budget-segments.test.ts fails if these bounds drift from it.
 */
export const BUDGET_SEGMENT_BOUNDS_RUB = [5_000_000, 20_000_000] as const;
const [MEDIUM_FROM, LARGE_FROM] = BUDGET_SEGMENT_BOUNDS_RUB;
const millions = (rub: number) => `${rub / 1_000_000}M`;

export const BUDGET_SEGMENTS = [
  { segment: 'small', label: `< ${millions(MEDIUM_FROM)} ₽`, below: MEDIUM_FROM },
  { segment: 'medium', label: `${millions(MEDIUM_FROM)}–${millions(LARGE_FROM)} ₽`, below: LARGE_FROM },
  { segment: 'large', label: `≥ ${millions(LARGE_FROM)} ₽`, below: Infinity },
] as const;
export type BudgetSegment = (typeof BUDGET_SEGMENTS)[number]['segment'];

export function budgetSegment(budgetRub: number | null | undefined): BudgetSegment | 'unknown' {
  if (budgetRub === null || budgetRub === undefined || !Number.isFinite(budgetRub)) return 'unknown';
  return BUDGET_SEGMENTS.find((s) => budgetRub < s.below)!.segment;
}

/** ClickHouse expression for the segment of a Nullable(Float64) budget column (the same as dbt's macro). */
export function budgetSegmentSql(column: string): string {
  return `multiIf(${column} IS NULL, 'unknown', ${column} < ${MEDIUM_FROM}, 'small', ${column} < ${LARGE_FROM}, 'medium', 'large')`;
}

// ---- snapshot shape (SPEC §6, processors/core/canonical.ts toJson) and its presentation ----

export interface SnapshotGate {
  value: boolean;
  event_ts: string | null;
  event_id: string | null;
}
export interface SnapshotSla {
  started_at: string | null;
  stopped_at: string | null;
  duration_ms: number | null;
  target_ms: number;
  breached: boolean;
  status?: SlaStatus;
  deadline_at?: string | null;
  start_event_id?: string | null;
  stop_event_id?: string | null;
}
export interface Snapshot {
  master_deal_id: string;
  stage: string;
  stage_since?: string | null;
  gates: Record<string, SnapshotGate | undefined>;
  /** Terminal and marker facts (cancelled, deal_created, ...). */
  facts?: Record<string, SnapshotGate | undefined>;
  sla: Record<string, SnapshotSla | undefined>;
  timeline?: Array<{ from_stage: string; to_stage: string; event_ts: string; cause_event_id: string; compensation: boolean }>;
}

/** A raw event as the API shows it when a gate or stage points at it. */
export interface EventRef {
  event_id: string;
  event_type: string;
  source_system: string;
  event_ts: string;
}

export interface GateView {
  gate: string;
  code: string;
  label: string;
  value: boolean;
  set_at: string | null;
  event_id: string | null;
  event_type: string | null;
  source_system: string | null;
}

/** The rules' vocabulary the API presents with (a subset of processors/core Rules). */
export interface RulesView {
  gates: ReadonlyArray<{ name: string; label?: string }>;
  stages: ReadonlyArray<{ name: string; when: string }>;
  slas: ReadonlyArray<{ name: string; start: string; stop: string; startFacts: number[]; stopFacts: number[]; targetMs: number }>;
  facts: ReadonlyArray<{ name: string }>;
}

function factView(name: string, code: string, label: string, s: SnapshotGate | undefined, events: ReadonlyMap<string, EventRef>): GateView {
  const ev = s?.event_id ? events.get(s.event_id) : undefined;
  return {
    gate: name,
    code,
    label,
    value: s?.value === true,
    set_at: s?.event_ts ?? null,
    event_id: s?.event_id ?? null,
    event_type: ev?.event_type ?? null,
    source_system: ev?.source_system ?? null,
  };
}

const FACT_LABELS: Record<string, string> = { cancelled: 'Deal cancelled', deal_created: 'Deal created', lead_qualified: 'Lead qualified' };
const labelOf = (name: string) => GATES.find((g) => g.gate === name)?.label ?? FACT_LABELS[name] ?? name.replace(/_/g, ' ');

/** Gates in rules order, each with when it was set, by which event and from which system. */
export function gateViews(snapshot: Snapshot, events: ReadonlyMap<string, EventRef>, rules?: RulesView): GateView[] {
  const names = rules ? rules.gates.map((g) => ({ name: g.name, code: g.label ?? '' })) : GATES.map((g) => ({ name: g.gate, code: g.code }));
  return names.map(({ name, code }) => factView(name, code, labelOf(name), snapshot.gates?.[name], events));
}

export type SlaStatus = 'not_started' | 'open' | 'met' | 'breached';

export interface SlaView {
  sla: string;
  label: string;
  status: SlaStatus;
  started_at: string | null;
  stopped_at: string | null;
  deadline_at: string | null;
  duration_ms: number | null;
  target_ms: number;
  /** Time left until the deadline at `as_of` (negative once overdue); null unless open. */
  remaining_ms: number | null;
  breached: boolean;
  start_event_id: string | null;
  stop_event_id: string | null;
}

export function slaViews(snapshot: Snapshot, asOfMs: number): SlaView[] {
  const names = [...new Set([...SLA_NAMES, ...Object.keys(snapshot.sla ?? {})])].filter((n) => snapshot.sla?.[n] || SLA_NAMES.includes(n));
  return names.map((name) => {
    const info = SLAS.find((s) => s.sla === name);
    const s = snapshot.sla?.[name];
    const target = typeof s?.target_ms === 'number' ? s.target_ms : (info?.targetMs ?? 0);
    const started = s?.started_at ? Date.parse(s.started_at) : NaN;
    const deadline = s?.deadline_at ? Date.parse(s.deadline_at) : Number.isFinite(started) ? started + target : NaN;
    const breached = s?.breached === true;
    const open = Number.isFinite(started) && !s?.stopped_at;
    const status: SlaStatus = s?.status ?? (!Number.isFinite(started) ? 'not_started' : breached ? 'breached' : open ? 'open' : 'met');
    return {
      sla: name,
      label: info?.label ?? name.replace(/_/g, ' '),
      status,
      started_at: s?.started_at ?? null,
      stopped_at: s?.stopped_at ?? null,
      deadline_at: Number.isFinite(deadline) ? new Date(deadline).toISOString() : null,
      duration_ms: s?.duration_ms ?? null,
      target_ms: target,
      remaining_ms: open && Number.isFinite(deadline) ? deadline - asOfMs : null,
      breached,
      start_event_id: s?.start_event_id ?? null,
      stop_event_id: s?.stop_event_id ?? null,
    };
  });
}

export interface StageExplanation {
  stage: string;
  /** The rule that placed the deal here, as written in the rules file. */
  rule: string;
  /** Facts the rule refers to, with the events that set them. */
  because: GateView[];
  /** The cancelling event for a cancelled deal. */
  cancelled_by: EventRef | null;
  /** One sentence for people and copilots. */
  text: string;
}

const KEYWORDS = new Set(['and', 'or', 'not', 'otherwise', 'true']);

/** Fact names behind a name in a stage predicate: a fact itself, or a milestone an SLA starts/stops at. */
function factsOf(name: string, rules: RulesView): string[] {
  if (rules.facts.some((f) => f.name === name)) return [name];
  for (const sla of rules.slas) {
    if (sla.start === name) return sla.startFacts.map((i) => rules.facts[i].name);
    if (sla.stop === name) return sla.stopFacts.map((i) => rules.facts[i].name);
  }
  return [];
}

/**
 * "Why is this deal in this stage": the stage's rule (first match wins, so every earlier rule
 * did not hold) and the facts it names, each with its time, event and source system.
 */
export function explainStage(snapshot: Snapshot, events: ReadonlyMap<string, EventRef>, rules: RulesView): StageExplanation {
  const stage = snapshot.stage;
  const def = rules.stages.find((r) => r.name === stage);
  const cancelled = snapshot.facts?.cancelled;
  const cancelledBy = cancelled?.value && cancelled.event_id ? (events.get(cancelled.event_id) ?? null) : null;
  if (!def) {
    return { stage, rule: `${stage} (not a stage of the loaded rules)`, because: [], cancelled_by: cancelledBy, text: `stage ${stage} is not defined in the API's rules file` };
  }
  const names = (def.when.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []).filter((t) => !KEYWORDS.has(t));
  const factNames = [...new Set(names.flatMap((n) => factsOf(n, rules)))];
  const gateCode = (n: string) => rules.gates.find((g) => g.name === n)?.label ?? '';
  const because = factNames.map((n) => factView(n, gateCode(n), labelOf(n), snapshot.gates?.[n] ?? snapshot.facts?.[n], events));
  let text: string;
  if (def.when.trim() === 'otherwise') {
    text = `${stage}: no earlier stage rule holds yet`;
  } else {
    const facts = because
      .filter((g) => g.value)
      .map((g) => `${g.code ? `${g.code} ` : ''}${g.label.toLowerCase()} at ${g.set_at ?? '?'} by ${g.event_type ?? 'event'} ${g.event_id ?? '?'}${g.source_system ? ` from ${g.source_system}` : ''}`);
    text = `${stage} because ${def.when}: ${facts.join('; ') || 'facts not in the warehouse yet'}`;
  }
  return { stage, rule: `${stage} when ${def.when}`, because, cancelled_by: cancelledBy, text };
}

// ---- bottleneck ----

export interface SlaFigures {
  sla: string;
  started: number;
  breached: number;
  breach_rate: number;
  p90_ms: number | null;
  target_ms: number | null;
}

export interface Bottleneck {
  stage: Stage;
  sla: string;
  breach_rate: number;
  /** p90 of completed timers over the target (> 1: most slow deals miss it). */
  p90_over_target: number | null;
  /** Deals sitting in the stage now. */
  waiting: number;
  text: string;
}

const pct = (x: number) => `${Math.round(x * 100)}%`;
export function formatDuration(ms: number): string {
  const h = ms / 3_600_000;
  if (h < 1) return `${Math.round(ms / 60_000)} min`;
  if (h < 48) return `${h.toFixed(h < 10 ? 1 : 0)} h`;
  return `${(h / 24).toFixed(1)} d`;
}

/**
 * The stage where deals get stuck: the stage whose outgoing SLA has the highest breach rate
 * (ties: the higher p90 relative to target). Null until some timer has started.
 */
export function findBottleneck(sla: readonly SlaFigures[], waitingByStage: ReadonlyMap<string, number>): Bottleneck | null {
  const ratio = (s: SlaFigures) => (s.p90_ms !== null && s.target_ms ? s.p90_ms / s.target_ms : null);
  const candidates = sla.filter((s) => s.started > 0);
  if (candidates.length === 0) return null;
  const worst = [...candidates].sort((a, b) => b.breach_rate - a.breach_rate || (ratio(b) ?? 0) - (ratio(a) ?? 0))[0];
  const info = SLAS.find((s) => s.sla === worst.sla);
  if (!info) return null;
  const waiting = waitingByStage.get(info.waitingStage) ?? 0;
  const r = ratio(worst);
  const p90 = worst.p90_ms !== null ? `, p90 ${formatDuration(worst.p90_ms)} vs target ${formatDuration(worst.target_ms ?? info.targetMs)}` : '';
  return {
    stage: info.waitingStage,
    sla: worst.sla,
    breach_rate: worst.breach_rate,
    p90_over_target: r,
    waiting,
    text: `${info.waitingStage}: ${pct(worst.breach_rate)} of ${info.label} timers breached (${worst.breached} of ${worst.started}${p90}); ${waiting} deals waiting there now`,
  };
}
