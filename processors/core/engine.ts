import type {
  CanonicalEvent,
  GateView,
  SlaUpdated,
  SlaView,
  Snapshot,
  TimelineEntry,
} from './canonical.ts';
import type { Envelope } from './envelope.ts';
import type { Effect, Rules } from './rules/load.ts';

/**
 * The per-deal engine (SPEC §3-5): pure functions, no I/O, no clock — time arrives as event
 * time or as a watermark. The state is plain JSON (the live processor writes it to a changelog).
 *
 * Determinism: the state keeps the gate-relevant facts sorted by (event_ts, event_id) and derives
 * gates, stage and timeline by folding over them, so the result depends only on the set of
 * distinct events. An event that sorts after every known fact (the usual, in-order case) extends
 * the previous derivation; any other event re-derives from the start.
 */

/** A gate-relevant event, reduced to what derivation needs (payloads are not kept). */
export interface FactEvent {
  ts: number;
  id: string;
  type: string;
}

/**
 * The event behind a fact's current value: the earliest setting event since the last reset, or
 * the reset itself. Whether the fact holds is its bit in `Derived.mask`. (The FactEvent is the mark.)
 */
export interface Mark {
  ts: number;
  id: string;
}

/** A pure function of `facts`, cached in the state. Facts are bits in `mask` (rules order). */
export interface Derived {
  /** The facts that hold now. */
  mask: number;
  /** Per fact (rules order): its mark, null while no event has set or reset it. */
  marks: Array<Mark | null>;
  stage: string;
  timeline: TimelineEntry[];
}

export interface DealState {
  master_deal_id: string;
  /** Bumped whenever the snapshot's content changes; the warehouse keeps the highest. */
  version: number;
  /**
   * The fingerprint of the rules the derivation was built with (Rules.fingerprint): a state is
   * only valid under those rules. Absent in states written before it existed.
   */
  rules?: string;
  /** Every distinct event_id seen, in arrival order (the dedupe set, including KPI/NPS events). */
  seen: string[];
  /**
   * `seenHash(seen[i])`, same order: the dedupe check scans these small numbers (one packed
   * array) and compares an id string only on a hash match, instead of touching every id string.
   * Derivable from `seen`; absent in states written before it existed (see `seenHashesOf`).
   */
  seen_hash?: number[];
  facts: FactEvent[];
  derived: Derived;
  /** SLAs whose breach was published (each at most once per deal). */
  breaches: string[];
  /**
   * 53-bit hashes of the stage.changed / closed / sla.updated output ids already published, in
   * publishing order: a re-derivation after a late event publishes an id at most once per deal.
   * Absent in states written before it existed (see `emittedOf`). Breaches are kept by `breaches`.
   */
  emitted?: number[];
  /** The latest event-time watermark this deal was told about. */
  watermark: number | null;
  /** The earliest deadline of an open, not yet breached timer: when the watermark must revisit. */
  next_deadline: number | null;
  first_event_ts: number | null;
  last_event_ts: number | null;
}

export interface Step {
  state: DealState;
  outputs: CanonicalEvent[];
}

export function emptyDeal(masterDealId: string, rules: Rules): DealState {
  return dealState(masterDealId, 0, rules.fingerprint, [], [], [], initialDerived(rules), [], [], null, null, null, null);
}

/** One construction site with a fixed field order keeps every state object on one V8 shape. */
function dealState(
  master_deal_id: string,
  version: number,
  rules: string | undefined,
  seen: string[],
  seen_hash: number[],
  facts: FactEvent[],
  derived: Derived,
  breaches: string[],
  emitted: number[],
  watermark: number | null,
  next_deadline: number | null,
  first_event_ts: number | null,
  last_event_ts: number | null,
): DealState {
  return { master_deal_id, version, rules, seen, seen_hash, facts, derived, breaches, emitted, watermark, next_deadline, first_event_ts, last_event_ts };
}

/**
 * Applies one validated envelope to its deal. A duplicate event_id returns the same state
 * object and no outputs. `watermarkMs`, when given, is applied in the same step (cheaper than a
 * separate advanceWatermark call).
 */
export function apply(state: DealState, env: Envelope, rules: Rules, watermarkMs?: number | null): Step {
  if (env.master_deal_id !== state.master_deal_id) {
    throw new Error(`event ${env.event_id} of deal ${env.master_deal_id} applied to deal ${state.master_deal_id}`);
  }
  const hashes = seenHashesOf(state);
  const hash = seenHash(env.event_id);
  if (isSeen(state.seen, hashes, env.event_id, hash)) {
    // A duplicate changes nothing, unless the watermark it brings makes a deadline due.
    const due = watermarkMs != null && state.next_deadline !== null && watermarkMs > state.next_deadline;
    return due ? advanceWatermark(state, watermarkMs, rules) : { state, outputs: [] };
  }
  const seen = insertAt(state.seen, state.seen.length, env.event_id);
  const seenHashes = insertAt(hashes, hashes.length, hash);

  let facts = state.facts;
  let derived = state.derived;
  let fact: FactEvent | undefined;
  const info = compiled(rules).byType.get(env.event_type);
  if (info !== undefined) {
    fact = { ts: env.event_ts, id: env.event_id, type: info.type };
    const pos = factIndex(facts, fact);
    facts = insertAt(facts, pos, fact);
    derived = pos === state.facts.length
      ? derive(rules, state.derived, facts, pos)
      : derive(rules, initialDerived(rules), facts, 0);
  }

  const next = dealState(
    state.master_deal_id,
    state.version + 1,
    state.rules,
    seen,
    seenHashes,
    facts,
    derived,
    state.breaches,
    emittedOf(state),
    maxWatermark(state.watermark, watermarkMs),
    state.next_deadline,
    state.first_event_ts === null ? env.event_ts : Math.min(state.first_event_ts, env.event_ts),
    state.last_event_ts === null ? env.event_ts : Math.max(state.last_event_ts, env.event_ts),
  );
  const outputs: CanonicalEvent[] = [];
  if (derived !== state.derived) {
    diffTimeline(state.derived.timeline, derived.timeline, next.master_deal_id, rules, outputs);
    diffSlas(state.derived, derived, next.master_deal_id, rules, outputs);
    if (outputs.length > 0) next.emitted = suppressEmitted(next.emitted as number[], outputs, 0, false);
    settleSla(next, rules, outputs, false);
  } else if (next.next_deadline !== null && next.watermark !== null && next.watermark > next.next_deadline) {
    settleSla(next, rules, outputs, false);
  }
  return { state: next, outputs };
}

/**
 * Tells a deal that event time has reached `watermarkMs`: open timers whose deadline is now
 * strictly behind it are breached (once). Never moves the watermark back.
 */
export function advanceWatermark(state: DealState, watermarkMs: number, rules: Rules): Step {
  if (state.watermark !== null && watermarkMs <= state.watermark) return { state, outputs: [] };
  const due = state.next_deadline !== null && watermarkMs > state.next_deadline;
  const next = dealState(
    state.master_deal_id,
    due ? state.version + 1 : state.version, // an open timer's `breached` flips in the snapshot
    state.rules,
    state.seen,
    seenHashesOf(state),
    state.facts,
    state.derived,
    state.breaches,
    emittedOf(state),
    watermarkMs,
    state.next_deadline,
    state.first_event_ts,
    state.last_event_ts,
  );
  if (!due) return { state: next, outputs: [] };
  const outputs: CanonicalEvent[] = [];
  settleSla(next, rules, outputs, false);
  return { state: next, outputs };
}

// ---- the in-place twin (for an owner of the state: DealBook) ---------------------------------

/**
 * `apply` for a state that only the caller holds: the same result (state JSON, outputs) as the
 * pure `apply`, but `state` is updated in place and outputs are pushed to `out`, so an in-order
 * event allocates only what the state keeps (its fact, marks, transitions). Returns whether the
 * state changed (where `apply` would have returned a new state object).
 * Do not use on a state shared with anyone who expects it unchanged (see `ownedCopy`).
 */
export function applyInPlace(
  state: DealState,
  env: Envelope,
  rules: Rules,
  watermarkMs: number | null | undefined,
  out: CanonicalEvent[],
): boolean {
  if (env.master_deal_id !== state.master_deal_id) {
    throw new Error(`event ${env.event_id} of deal ${env.master_deal_id} applied to deal ${state.master_deal_id}`);
  }
  // A state read from an older changelog: seeded from its timeline before the derivation moves.
  if (state.emitted === undefined) state.emitted = emittedOf(state);
  if (state.seen_hash === undefined) state.seen_hash = seenHashesOf(state);
  const hash = seenHash(env.event_id);
  if (isSeen(state.seen, state.seen_hash, env.event_id, hash)) {
    const due = watermarkMs != null && state.next_deadline !== null && watermarkMs > state.next_deadline;
    return due ? advanceWatermarkInPlace(state, watermarkMs, rules, out) : false;
  }

  const c = compiled(rules);
  const info = c.byType.get(env.event_type);
  // The derivation before a re-derived (out-of-order) fact: what its outputs diff against.
  let prev: Derived | null = null;
  // An in-order fact: the timers it touches, evaluated before it (c.before), and where its transitions start.
  let touched = 0;
  let timelineFrom = -1;
  if (info !== undefined) {
    const fact: FactEvent = { ts: env.event_ts, id: env.event_id, type: info.type };
    const facts = state.facts;
    const pos = factIndex(facts, fact);
    const d = state.derived;
    if (pos === facts.length) {
      // Stage lookup first: it is the step that can throw, and nothing is mutated yet.
      const mask = nextMask(d.mask, info.effects);
      const stage = rules.stages[rules.stageOf(mask)].name;
      // A fact changes marks only where it flips a bit (a set gate keeps its earliest mark).
      touched = timersOf(c, d.mask ^ mask);
      if (touched !== 0) recordTimers(rules, d, touched, c);
      timelineFrom = d.timeline.length;
      facts.push(fact);
      deriveOne(d, fact, info.effects, stage);
    } else {
      insertInPlace(facts, pos, fact);
      let derived: Derived;
      try {
        derived = derive(rules, initialDerived(rules), facts, 0);
      } catch (err) {
        facts.splice(pos, 1);
        throw err;
      }
      prev = d;
      state.derived = derived;
    }
  }
  state.seen.push(env.event_id);
  state.seen_hash.push(hash);
  state.version++;
  state.watermark = maxWatermark(state.watermark, watermarkMs);
  const ts = env.event_ts;
  if (state.first_event_ts === null || ts < state.first_event_ts) state.first_event_ts = ts;
  if (state.last_event_ts === null || ts > state.last_event_ts) state.last_event_ts = ts;

  if (prev !== null || touched !== 0 || (timelineFrom >= 0 && state.derived.timeline.length > timelineFrom)) {
    const after = state.derived.timeline;
    const from = out.length;
    if (prev === null) {
      publishTransitions(after, timelineFrom, undefined, state.master_deal_id, c, out);
      publishTimers(rules, state.derived, touched, state.master_deal_id, c, out);
    } else {
      diffTimeline(prev.timeline, after, state.master_deal_id, rules, out);
      diffSlas(prev, state.derived, state.master_deal_id, rules, out);
    }
    if (out.length > from) suppressEmitted(state.emitted, out, from, true);
    settleSla(state, rules, out, true);
  } else if (state.next_deadline !== null && state.watermark !== null && state.watermark > state.next_deadline) {
    settleSla(state, rules, out, true);
  }
  return true;
}

/** `advanceWatermark` in place (see `applyInPlace`); returns whether the state changed. */
export function advanceWatermarkInPlace(state: DealState, watermarkMs: number, rules: Rules, out: CanonicalEvent[]): boolean {
  if (state.watermark !== null && watermarkMs <= state.watermark) return false;
  const due = state.next_deadline !== null && watermarkMs > state.next_deadline;
  state.watermark = watermarkMs;
  if (due) {
    state.version++; // an open timer's `breached` flips in the snapshot
    settleSla(state, rules, out, true);
  }
  return true;
}

/**
 * What a changelog needs to keep of a deal: the state without what is rebuilt from it on
 * restore — the derivation (a pure function of the facts) and the dedupe hashes. About 45% fewer
 * bytes per changelog record than the whole state.
 */
export type SavedDealState = Omit<DealState, 'derived' | 'seen_hash'>;

export function savedState(state: DealState): SavedDealState {
  const { derived: _derived, seen_hash: _hashes, ...saved } = state;
  return saved;
}

/**
 * A state to hold and update in place, from a saved one (SavedDealState, or a whole DealState as
 * written before): shares no mutable part with `saved`; a missing derivation is rebuilt from the
 * facts under `rules` (which must be the rules the state was built with: see DealBook.restore).
 */
export function restoredState(saved: SavedDealState | DealState, rules: Rules): DealState {
  const derived = 'derived' in saved ? saved.derived : derive(rules, initialDerived(rules), saved.facts, 0);
  return ownedCopy({ ...saved, derived });
}

/** A copy sharing no mutable part with `state` (its arrays and derivation), safe to update in place. */
export function ownedCopy(state: DealState): DealState {
  const d = state.derived;
  return dealState(
    state.master_deal_id,
    state.version,
    state.rules,
    state.seen.slice(),
    seenHashesOf(state).slice(),
    state.facts.slice(),
    { mask: d.mask, marks: d.marks.slice(), stage: d.stage, timeline: d.timeline.slice() },
    state.breaches.slice(),
    emittedOf(state).slice(),
    state.watermark,
    state.next_deadline,
    state.first_event_ts,
    state.last_event_ts,
  );
}

/** SLA views of a deal as of its watermark (SPEC §4). */
export function slaViews(state: DealState, rules: Rules): Record<string, SlaView> {
  const out: Record<string, SlaView> = {};
  for (const sla of rules.slas) out[sla.name] = withWatermark(slaView(rules, state.derived, sla), state.watermark);
  return out;
}

export function snapshot(state: DealState, rules: Rules): Snapshot {
  const gates: Record<string, GateView> = {};
  const facts: Record<string, GateView> = {};
  for (const f of rules.facts) {
    const m = state.derived.marks[f.index];
    const on = (state.derived.mask & (1 << f.index)) !== 0;
    const view: GateView = m ? { value: on, event_ts: m.ts, event_id: m.id } : { value: false, event_ts: null, event_id: null };
    (f.kind === 'gate' ? gates : facts)[f.name] = view;
  }
  const timeline = state.derived.timeline;
  return {
    type: 'masterdeal.snapshot',
    master_deal_id: state.master_deal_id,
    version: state.version,
    stage: state.derived.stage,
    stage_since: timeline.length > 0 ? timeline[timeline.length - 1].event_ts : state.first_event_ts,
    gates,
    facts,
    sla: slaViews(state, rules),
    timeline: timeline.map((t) => ({ ...t })),
    event_count: state.seen.length,
    first_event_ts: state.first_event_ts,
    last_event_ts: state.last_event_ts,
    updated_at: state.last_event_ts,
  };
}

// ---- derivation -------------------------------------------------------------------------

function initialDerived(rules: Rules): Derived {
  return { mask: 0, marks: new Array(rules.facts.length).fill(null), stage: rules.initialStage, timeline: [] };
}

/** Folds facts[from..] onto `base` (not mutated). */
function derive(rules: Rules, base: Derived, facts: FactEvent[], from: number): Derived {
  let mask = base.mask;
  let stage = base.stage;
  const marks = base.marks.slice();
  let timeline = base.timeline;
  let copied = false;
  for (let k = from; k < facts.length; k++) {
    const f = facts[k];
    const effects = rules.effects.get(f.type);
    if (!effects) continue;
    const before = mask;
    mask = applyEffects(marks, mask, f, effects);
    const compensation = (before & ~mask) !== 0;
    const to = rules.stages[rules.stageOf(mask)].name;
    if (to !== stage) {
      if (!copied) {
        timeline = timeline.slice();
        copied = true;
      }
      timeline.push({ from_stage: stage, to_stage: to, event_ts: f.ts, cause_event_id: f.id, compensation });
      stage = to;
    }
  }
  return { mask, marks, stage, timeline };
}

function nextMask(mask: number, effects: readonly Effect[]): number {
  for (const e of effects) mask = e.set ? mask | (1 << e.fact) : mask & ~(1 << e.fact);
  return mask;
}

/**
 * Applies one fact's effects to `marks` (in place) and returns the new mask. Only a flip
 * records a mark: in (ts, id) order, the first setting event since the last reset is the
 * earliest, and a reset of an unset fact changes nothing. A cleared bit is a compensation.
 */
function applyEffects(marks: Array<Mark | null>, mask: number, f: FactEvent, effects: readonly Effect[]): number {
  for (const e of effects) {
    const bit = 1 << e.fact;
    if (e.set === ((mask & bit) === 0)) {
      mask ^= bit;
      marks[e.fact] = f; // the fact itself is the mark: nothing to allocate
    }
  }
  return mask;
}

/** One in-order fact folded onto `d` in place: what `derive(rules, d, facts, facts.length - 1)` computes. */
function deriveOne(d: Derived, f: FactEvent, effects: readonly Effect[], to: string): void {
  const before = d.mask;
  d.mask = applyEffects(d.marks, before, f, effects);
  if (to !== d.stage) {
    d.timeline.push({ from_stage: d.stage, to_stage: to, event_ts: f.ts, cause_event_id: f.id, compensation: (before & ~d.mask) !== 0 });
    d.stage = to;
  }
}

const transitionKey = (t: TimelineEntry) => `${t.cause_event_id}:${t.from_stage}>${t.to_stage}`;
const sameTransition = (a: TimelineEntry, b: TimelineEntry) =>
  a === b || (a.cause_event_id === b.cause_event_id && a.from_stage === b.from_stage && a.to_stage === b.to_stage);

/** Publishes the transitions of the new timeline that the old one did not have. */
function diffTimeline(before: TimelineEntry[], after: TimelineEntry[], deal: string, rules: Rules, out: CanonicalEvent[]): void {
  let common = 0;
  while (common < before.length && common < after.length && sameTransition(before[common], after[common])) common++;
  if (common === after.length) return;
  const old = common === before.length ? undefined : new Set(before.slice(common).map(transitionKey));
  publishTransitions(after, common, old, deal, compiled(rules), out);
}

function publishTransitions(
  after: TimelineEntry[],
  from: number,
  old: Set<string> | undefined,
  deal: string,
  c: Compiled,
  out: CanonicalEvent[],
): void {
  for (let i = from; i < after.length; i++) {
    const t = after[i];
    const key = transitionKey(t);
    if (old?.has(key)) continue;
    out.push({
      type: 'masterdeal.stage.changed',
      event_id: `${deal}:stage:${key}`,
      master_deal_id: deal,
      from_stage: t.from_stage,
      to_stage: t.to_stage,
      event_ts: t.event_ts,
      cause_event_id: t.cause_event_id,
      compensation: t.compensation,
    });
    if (c.finalStages.has(t.to_stage)) {
      out.push({
        type: 'masterdeal.closed',
        event_id: `${deal}:closed:${t.cause_event_id}`,
        master_deal_id: deal,
        stage: t.to_stage,
        event_ts: t.event_ts,
        cause_event_id: t.cause_event_id,
      });
    }
  }
}

// ---- SLA ----------------------------------------------------------------------------------

type Rule = Rules['slas'][number];

/** When all of `facts` hold: the latest of their marks by (ts, id); else null. */
function timeOf(marks: Array<Mark | null>, mask: number, facts: number[]): Mark | null {
  let best: Mark | null = null;
  for (const i of facts) {
    const m = marks[i];
    if (!m || (mask & (1 << i)) === 0) return null;
    if (!best || m.ts > best.ts || (m.ts === best.ts && m.id > best.id)) best = m;
  }
  return best;
}

function terminalOf(rules: Rules, d: Derived): Mark | null {
  if ((d.mask & rules.terminalMask) === 0) return null;
  let best: Mark | null = null;
  for (const i of rules.terminals) {
    const m = d.marks[i];
    if (!m || (d.mask & (1 << i)) === 0) continue;
    if (!best || m.ts < best.ts || (m.ts === best.ts && m.id < best.id)) best = m;
  }
  return best;
}

/**
 * The watermark-independent state of one timer, from the final facts, written into a reusable
 * record: this runs several times per event, so it allocates nothing.
 */
interface TimerEval {
  started: boolean;
  start: Mark | null;
  stop: Mark | null;
  deadline: number;
  stoppedAt: number;
  byTerminal: boolean;
}

const scratchA: TimerEval = { started: false, start: null, stop: null, deadline: 0, stoppedAt: 0, byTerminal: false };
const scratchB: TimerEval = { started: false, start: null, stop: null, deadline: 0, stoppedAt: 0, byTerminal: false };

function evalTimer(rules: Rules, d: Derived, sla: Rule, out: TimerEval): TimerEval {
  const start = timeOf(d.marks, d.mask, sla.startFacts);
  const terminal = terminalOf(rules, d);
  out.start = start;
  out.stop = null;
  out.byTerminal = false;
  // A terminated deal starts no new timers.
  out.started = start !== null && !(terminal && start.ts > terminal.ts);
  if (!out.started || start === null) return out;
  out.deadline = sla.calendar ? sla.calendar.add(start.ts, sla.targetMs) : start.ts + sla.targetMs;
  let stop = timeOf(d.marks, d.mask, sla.stopFacts);
  if (terminal && (!stop || stop.ts > terminal.ts)) {
    stop = terminal;
    out.byTerminal = true;
  }
  out.stop = stop;
  // A stop recorded before its start (clock skew between systems) counts as immediate.
  if (stop) out.stoppedAt = Math.max(stop.ts, start.ts);
  return out;
}

function slaView(rules: Rules, d: Derived, sla: Rule): SlaView {
  const t = evalTimer(rules, d, sla, scratchA);
  if (!t.started || !t.start) {
    return {
      started_at: null, stopped_at: null, duration_ms: null, target_ms: sla.targetMs, breached: false,
      status: 'not_started', deadline_at: null, start_event_id: null, stop_event_id: null, stopped_by_terminal: false,
    };
  }
  if (!t.stop) {
    return {
      started_at: t.start.ts, stopped_at: null, duration_ms: null, target_ms: sla.targetMs, breached: false,
      status: 'open', deadline_at: t.deadline, start_event_id: t.start.id, stop_event_id: null, stopped_by_terminal: false,
    };
  }
  const duration = sla.calendar ? sla.calendar.elapsed(t.start.ts, t.stoppedAt) : t.stoppedAt - t.start.ts;
  const breached = t.stoppedAt > t.deadline;
  return {
    started_at: t.start.ts, stopped_at: t.stoppedAt, duration_ms: duration, target_ms: sla.targetMs, breached,
    status: breached ? 'breached' : 'met', deadline_at: t.deadline, start_event_id: t.start.id, stop_event_id: t.stop.id,
    stopped_by_terminal: t.byTerminal,
  };
}

function withWatermark(v: SlaView, watermark: number | null): SlaView {
  if (v.status !== 'open' || watermark === null || v.deadline_at === null || watermark <= v.deadline_at) return v;
  return { ...v, breached: true, status: 'breached' };
}

/** Publishes the sla.updated of every timer whose start or stop moved between two derivations. */
function diffSlas(prev: Derived, next: Derived, deal: string, rules: Rules, out: CanonicalEvent[]): void {
  const c = compiled(rules);
  let touched = 0;
  rules.slas.forEach((sla, i) => {
    if (!sameMarks(prev.marks, next.marks, sla.deps)) touched |= 1 << i; // else: an untouched timer
  });
  recordTimers(rules, prev, touched, c);
  publishTimers(rules, next, touched, deal, c, out);
}

/** The SLA timers (bits, rules order) that depend on any of the facts in `factBits`. */
function timersOf(c: Compiled, factBits: number): number {
  let touched = 0;
  for (let i = 0; i < c.slaDeps.length; i++) if ((c.slaDeps[i] & factBits) !== 0) touched |= 1 << i;
  return touched;
}

/** Remembers the `touched` timers as of `d` (into c.before), for `publishTimers` to compare with. */
function recordTimers(rules: Rules, d: Derived, touched: number, c: Compiled): void {
  const { before } = c;
  for (let i = 0; i < rules.slas.length; i++) {
    if ((touched & (1 << i)) === 0) continue;
    const a = evalTimer(rules, d, rules.slas[i], scratchB);
    before.startId[i] = a.started ? (a.start as Mark).id : null;
    before.stopId[i] = a.started && a.stop ? a.stop.id : null;
    before.stoppedAt[i] = a.stoppedAt;
  }
}

/** Publishes sla.updated for each `touched` timer whose start or stop differs in `next` from c.before. */
function publishTimers(rules: Rules, next: Derived, touched: number, deal: string, c: Compiled, out: CanonicalEvent[]): void {
  const { before } = c;
  for (let i = 0; i < rules.slas.length; i++) {
    if ((touched & (1 << i)) === 0) continue;
    const sla = rules.slas[i];
    const b = evalTimer(rules, next, sla, scratchA);
    // A timer cleared by a compensation (its start fact reset) shows in the snapshot only.
    if (!b.started || !b.start) continue;
    const bStopId = b.stop ? b.stop.id : null;
    const aStopId = before.stopId[i];
    // Compare ids, not objects: a re-derivation rebuilds equal marks.
    if (before.startId[i] === b.start.id && aStopId === bStopId && (bStopId === null || before.stoppedAt[i] === b.stoppedAt)) continue;
    const stopMoved = bStopId !== null && bStopId !== aStopId;
    const ts = stopMoved ? b.stoppedAt : b.start.ts;
    const id = stopMoved ? (b.stop as Mark).id : b.start.id;
    // The fields of slaView(rules, next, sla), read from `b` (no second evaluation, no view object).
    const start = b.start;
    const stop = b.stop;
    const breached = stop !== null && b.stoppedAt > b.deadline;
    let duration: number | null = null;
    if (stop !== null) duration = sla.calendar ? sla.calendar.elapsed(start.ts, b.stoppedAt) : b.stoppedAt - start.ts;
    out.push({
      type: 'masterdeal.sla.updated',
      event_id: `${deal}:sla:${sla.name}:${start.id}:${stop === null ? '-' : stop.id}`,
      master_deal_id: deal,
      sla: sla.name,
      status: stop === null ? 'open' : breached ? 'breached' : 'met',
      breached,
      event_ts: ts,
      cause_event_id: id,
      started_at: start.ts,
      stopped_at: stop === null ? null : b.stoppedAt,
      duration_ms: duration,
      target_ms: sla.targetMs,
      deadline_at: b.deadline,
    });
  }
}

/**
 * Publishes new breaches and recomputes `next_deadline`; mutates `next` (a fresh state, whose
 * `breaches` array is copied unless `inPlace`: then the array is the state's own).
 */
function settleSla(next: DealState, rules: Rules, out: CanonicalEvent[], inPlace: boolean): void {
  let nextDeadline: number | null = null;
  let breaches = next.breaches;
  const wm = next.watermark;
  for (const sla of rules.slas) {
    const t = evalTimer(rules, next.derived, sla, scratchA);
    if (!t.started || !t.start) continue;
    const open = t.stop === null;
    const breached = open ? wm !== null && wm > t.deadline : t.stoppedAt > t.deadline;
    if (open && !breached && (nextDeadline === null || t.deadline < nextDeadline)) nextDeadline = t.deadline;
    if (!breached || breaches.includes(sla.name)) continue;
    if (inPlace) breaches.push(sla.name);
    else breaches = [...breaches, sla.name];
    out.push({
      type: 'masterdeal.sla.breached',
      event_id: `${next.master_deal_id}:sla.breached:${sla.name}`,
      master_deal_id: next.master_deal_id,
      sla: sla.name,
      started_at: t.start.ts,
      deadline_at: t.deadline,
      target_ms: sla.targetMs,
      stopped_at: open ? null : t.stoppedAt,
    });
  }
  next.breaches = breaches;
  next.next_deadline = nextDeadline;
}

// ---- at most once per output id ---------------------------------------------------------

/**
 * The state's emitted-id hashes. A state written before the field existed gets those of its
 * current timeline (its stage.changed / closed outputs were published when it was derived).
 */
function emittedOf(state: DealState): number[] {
  if (state.emitted !== undefined) return state.emitted;
  const hashes: number[] = [];
  const deal = state.master_deal_id;
  for (const t of state.derived.timeline) {
    const key = transitionKey(t);
    hashes.push(idHash(`${deal}:stage:${key}`), idHash(`${deal}:closed:${t.cause_event_id}`));
  }
  return hashes;
}

/**
 * Drops from out[from..] the outputs whose id is in `emitted` (or repeated within the step) and
 * records the others. `inPlace`: `emitted` and `out` are updated in place and `emitted` is
 * returned; otherwise `emitted` is left as it is and a copy is returned (`out` is always the
 * step's own array).
 */
function suppressEmitted(emitted: number[], out: CanonicalEvent[], from: number, inPlace: boolean): number[] {
  let list = emitted;
  let copied = inPlace;
  let w = from;
  for (let r = from; r < out.length; r++) {
    const o = out[r];
    const h = idHash(o.event_id);
    if (list.includes(h)) continue;
    if (!copied) {
      list = list.slice();
      copied = true;
    }
    list.push(h);
    out[w++] = o;
  }
  out.length = w;
  return list;
}

/**
 * A 53-bit hash of an output id (two 32-bit FNV-1a variants): 8 bytes a published output, and a
 * collision (which would drop a real output) is ~1e-13 likely for a deal's ~20 outputs.
 */
function idHash(id: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ id.length;
  for (let i = 0; i < id.length; i++) {
    const ch = id.charCodeAt(i);
    a = Math.imul(a ^ ch, 0x01000193);
    b = Math.imul(b ^ ch, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return (a >>> 0) + (b >>> 11) * 0x100000000;
}

// ---- small helpers ----------------------------------------------------------------------

function sameMarks(a: Array<Mark | null>, b: Array<Mark | null>, indexes: number[]): boolean {
  for (let k = 0; k < indexes.length; k++) if (a[indexes[k]] !== b[indexes[k]]) return false;
  return true;
}

/** A copy of `list` with `item` at `index` (cheaper than slice + splice for short arrays). */
function insertAt<T>(list: T[], index: number, item: T): T[] {
  const n = list.length;
  const out = new Array<T>(n + 1);
  for (let i = 0; i < index; i++) out[i] = list[i];
  out[index] = item;
  for (let i = index; i < n; i++) out[i + 1] = list[i];
  return out;
}

function maxWatermark(a: number | null, b: number | null | undefined): number | null {
  if (b == null) return a;
  return a === null ? b : Math.max(a, b);
}

/** A 30-bit FNV-1a hash of an event id (small integers keep `seen_hash` a packed array of SMIs). */
function seenHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h & 0x3fffffff;
}

function seenHashesOf(state: DealState): number[] {
  return state.seen_hash ?? state.seen.map(seenHash);
}

function isSeen(seen: string[], hashes: number[], id: string, hash: number): boolean {
  for (let i = 0; i < hashes.length; i++) if (hashes[i] === hash && seen[i] === id) return true;
  return false;
}

/** Insertion point of a fact in (ts, id) order; usually the end. */
function factIndex(facts: FactEvent[], f: FactEvent): number {
  let i = facts.length;
  while (i > 0) {
    const p = facts[i - 1];
    if (p.ts < f.ts || (p.ts === f.ts && p.id < f.id)) break;
    i--;
  }
  return i;
}

/** Inserts `item` at `index` in place (a sorted array of ~10-20 entries: shifting is cheap). */
function insertInPlace<T>(list: T[], index: number, item: T): void {
  let i = list.length;
  list.push(item);
  for (; i > index; i--) list[i] = list[i - 1];
  list[index] = item;
}

/** Per-rules lookups the hot path needs, built once per Rules object. */
interface Compiled {
  /** By event_type: the rules' own copy of the type string (shared by every deal's facts) and its effects. */
  byType: Map<string, { type: string; effects: readonly Effect[] }>;
  finalStages: Set<string>;
  /** Per SLA (rules order): its `deps` as fact bits. */
  slaDeps: number[];
  /** Scratch: timers before a step, by SLA index (recordTimers → publishTimers; not re-entrant). */
  before: { startId: Array<string | null>; stopId: Array<string | null>; stoppedAt: number[] };
}

const compiledRules = new WeakMap<Rules, Compiled>();
let lastRules: Rules | undefined;
let lastCompiled: Compiled | undefined;
function compiled(rules: Rules): Compiled {
  if (rules === lastRules) return lastCompiled as Compiled; // one rule set per process, as a rule
  let c = compiledRules.get(rules);
  if (c === undefined) {
    const n = rules.slas.length;
    c = {
      byType: new Map([...rules.effects].map(([type, effects]) => [type, { type, effects }])),
      finalStages: new Set(rules.stages.filter((s) => s.final).map((s) => s.name)),
      slaDeps: rules.slas.map((sla) => sla.deps.reduce((bits, f) => bits | (1 << f), 0)),
      before: { startId: new Array(n).fill(null), stopId: new Array(n).fill(null), stoppedAt: new Array(n).fill(0) },
    };
    compiledRules.set(rules, c);
  }
  lastRules = rules;
  lastCompiled = c;
  return c;
}
