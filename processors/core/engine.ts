import type { CanonicalEvent, GateView, SlaView, Snapshot } from './canonical.ts';
import { compiled, type TypeRule } from './compiled-rules.ts';
import {
  derive,
  deriveOne,
  diffTimeline,
  factIndex,
  initialDerived,
  nextMask,
  publishTransitions,
  type Derived,
  type FactEvent,
} from './derivation.ts';
import type { Envelope } from './envelope.ts';
import { emittedOf } from './published-ids.ts';
import type { Rules } from './rules/load.ts';
import { ALL_TIMERS, diffSlas, publishTimers, recordTimers, settleSla, slaView, timersOf, withWatermark } from './sla-timers.ts';

export type { Derived, FactEvent, Mark } from './derivation.ts';

/**
 * The per-deal engine (SPEC §3-5): pure functions, no I/O, no clock — time arrives as event
 * time or as a watermark. The state is plain JSON (the live processor writes it to a changelog).
 *
 * Determinism: the state keeps the gate-relevant facts sorted by (event_ts, event_id) and derives
 * gates, stage and timeline by folding over them, so the result depends only on the set of
 * distinct events. An event that sorts after every known fact (the usual, in-order case) extends
 * the previous derivation; any other event re-derives from the start.
 */

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
   * `eventIdHash(seen[i])`, same order: the dedupe check scans these small numbers (one packed
   * array) and compares an id string only on a hash match, instead of touching every id string.
   * Derivable from `seen`: absent in states written before it existed, and in a batch fold's
   * states (see `seenHashesOf`).
   */
  seen_hash?: number[];
  facts: FactEvent[];
  derived: Derived;
  /** SLAs whose breach was published (each at most once per deal). */
  breaches: string[];
  /**
   * 53-bit hashes of the stage.changed / closed / sla.updated output ids that were published and
   * have since left the deal's live history (timeline, current timer pairs) and could come back,
   * so that a late event or a compensation that brings one back does not publish it again
   * (published-ids.ts; a stopped timer's open pair only where a rule can undo the stop, see
   * Compiled.slaReopens). States written before these rules also hold other ones, which changes
   * nothing. Absent in states written before the field existed (see `emittedOf`). Breaches are
   * kept by `breaches`.
   */
  emitted?: number[];
  /** The latest event-time watermark this deal was told about. */
  watermark: number | null;
  /** The earliest deadline of an open, not yet breached timer: when the watermark must revisit. */
  next_deadline: number | null;
  first_event_ts: number | null;
  last_event_ts: number | null;
}

/** What the engine reads of an envelope (the payload feeds only the warehouse). */
export type DealEvent = Pick<Envelope, 'event_id' | 'event_type' | 'master_deal_id' | 'event_ts'>;

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
  seen_hash: number[] | undefined,
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
export function apply(state: DealState, env: DealEvent, rules: Rules, watermarkMs?: number | null): Step {
  if (env.master_deal_id !== state.master_deal_id) {
    throw new Error(`event ${env.event_id} of deal ${env.master_deal_id} applied to deal ${state.master_deal_id}`);
  }
  const hashes = seenHashesOf(state);
  const hash = eventIdHash(env.event_id);
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
    const emitted = (next.emitted as number[]).slice();
    diffTimeline(state.derived.timeline, derived.timeline, next.master_deal_id, rules, outputs, emitted);
    diffSlas(state.derived, derived, next.master_deal_id, rules, outputs, emitted);
    next.emitted = emitted;
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
    state.seen_hash, // rebuilt from `seen` only by a step that dedupes
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
  env: DealEvent,
  rules: Rules,
  watermarkMs: number | null | undefined,
  out: CanonicalEvent[],
): boolean {
  return applyHashedInPlace(state, env, eventIdHash(env.event_id), compiled(rules).byType.get(env.event_type), rules, watermarkMs, out);
}

/**
 * `applyInPlace` with `eventIdHash(env.event_id)` and the rule of env.event_type (undefined: no
 * gate effect) given: a batch hashes each id while it is in cache, and looks a rule up once per
 * event type instead of once per event.
 */
export function applyHashedInPlace(
  state: DealState,
  env: DealEvent,
  hash: number,
  info: TypeRule | undefined,
  rules: Rules,
  watermarkMs: number | null | undefined,
  out: CanonicalEvent[],
): boolean {
  if (env.master_deal_id !== state.master_deal_id) {
    throw new Error(`event ${env.event_id} of deal ${env.master_deal_id} applied to deal ${state.master_deal_id}`);
  }
  // A state read from an older changelog: given the fields it lacks before the derivation moves.
  if (state.emitted === undefined) state.emitted = emittedOf(state);
  if (state.seen_hash === undefined) state.seen_hash = seenHashesOf(state);
  if (isSeen(state.seen, state.seen_hash, env.event_id, hash)) return applyDuplicateInPlace(state, watermarkMs, rules, out);
  applyDistinctInPlace(state, env, info, rules, watermarkMs, out);
  // Recorded once the event applied: a re-derivation that throws leaves the deal as it was.
  state.seen.push(env.event_id);
  state.seen_hash.push(hash);
  return true;
}

/** A duplicate changes nothing, unless the watermark it brings makes a deadline due. */
export function applyDuplicateInPlace(state: DealState, watermarkMs: number | null | undefined, rules: Rules, out: CanonicalEvent[]): boolean {
  const due = watermarkMs != null && state.next_deadline !== null && watermarkMs > state.next_deadline;
  return due ? advanceWatermarkInPlace(state, watermarkMs, rules, out) : false;
}

/**
 * An event of this deal that it has not seen, applied in place: all `applyHashedInPlace` does
 * after the dedupe except adding the id to `seen` (and `seen_hash`), which is the caller's. A batch
 * dedupes against its own grouped records and hands a deal its whole `seen` list at the end,
 * instead of growing two arrays per event. `state.emitted` must be there (see applyHashedInPlace).
 */
export function applyDistinctInPlace(
  state: DealState,
  env: DealEvent,
  info: TypeRule | undefined,
  rules: Rules,
  watermarkMs: number | null | undefined,
  out: CanonicalEvent[],
): void {
  const emitted = state.emitted as number[];
  const c = compiled(rules);
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
  state.version++;
  // Stored only when it moves: each store of a new number into the state boxes it afresh.
  const watermark = maxWatermark(state.watermark, watermarkMs);
  if (watermark !== state.watermark) state.watermark = watermark;
  const ts = env.event_ts;
  if (state.first_event_ts === null || ts < state.first_event_ts) state.first_event_ts = ts;
  if (state.last_event_ts === null || ts > state.last_event_ts) state.last_event_ts = ts;

  if (prev !== null || touched !== 0 || (timelineFrom >= 0 && state.derived.timeline.length > timelineFrom)) {
    const after = state.derived.timeline;
    if (prev === null) {
      // An in-order fact: what it changes is caused by this event, new to the deal.
      publishTransitions(after, timelineFrom, undefined, state.master_deal_id, c, out, null);
      publishTimers(rules, state.derived, touched, state.master_deal_id, c, out, emitted, env.event_id);
    } else {
      diffTimeline(prev.timeline, after, state.master_deal_id, rules, out, emitted);
      diffSlas(prev, state.derived, state.master_deal_id, rules, out, emitted);
    }
    settleSla(state, rules, out, true, prev === null ? touched : ALL_TIMERS);
  } else if (state.next_deadline !== null && state.watermark !== null && state.watermark > state.next_deadline) {
    settleSla(state, rules, out, true);
  }
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

// ---- small helpers ----------------------------------------------------------------------

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

/**
 * A 30-bit hash of an event id's length and last (up to) 8 characters: small integers keep
 * `seen_hash` a packed array of SMIs. It only pre-filters (a match is confirmed on the string), so
 * it samples where ids differ — UUIDs anywhere, sequence numbers at the end — instead of reading
 * every character. In memory only (never saved), so it may change freely.
 */
export function eventIdHash(id: string): number {
  let h = 0x811c9dc5 ^ id.length;
  for (let i = id.length > 8 ? id.length - 8 : 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h & 0x3fffffff;
}

function seenHashesOf(state: DealState): number[] {
  return state.seen_hash ?? state.seen.map(eventIdHash);
}

function isSeen(seen: string[], hashes: number[], id: string, hash: number): boolean {
  for (let i = 0; i < hashes.length; i++) if (hashes[i] === hash && seen[i] === id) return true;
  return false;
}

/** Inserts `item` at `index` in place (a sorted array of ~10-20 entries: shifting is cheap). */
function insertInPlace<T>(list: T[], index: number, item: T): void {
  let i = list.length;
  list.push(item);
  for (; i > index; i--) list[i] = list[i - 1];
  list[index] = item;
}
