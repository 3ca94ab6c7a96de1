import type { CanonicalEvent, TimelineEntry } from './canonical.ts';
import { compiled, type Compiled } from './compiled-rules.ts';
import { closedId, closedIdHash, remember, stageChangedId, stageChangedIdHash } from './published-ids.ts';
import type { Effect, Rules } from './rules/load.ts';

/**
 * Derivation (SPEC §3): gates, stage and timeline folded over a deal's facts in (event_ts,
 * event_id) order — a pure function of the facts — and the stage.changed / closed outputs of a
 * change of timeline.
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

export function initialDerived(rules: Rules): Derived {
  return { mask: 0, marks: new Array(rules.facts.length).fill(null), stage: rules.initialStage, timeline: [] };
}

/** Folds facts[from..] onto `base` (not mutated). */
export function derive(rules: Rules, base: Derived, facts: FactEvent[], from: number): Derived {
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

export function nextMask(mask: number, effects: readonly Effect[]): number {
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
export function deriveOne(d: Derived, f: FactEvent, effects: readonly Effect[], to: string): void {
  const before = d.mask;
  d.mask = applyEffects(d.marks, before, f, effects);
  if (to !== d.stage) {
    d.timeline.push({ from_stage: d.stage, to_stage: to, event_ts: f.ts, cause_event_id: f.id, compensation: (before & ~d.mask) !== 0 });
    d.stage = to;
  }
}

export const transitionKey = (t: TimelineEntry) => `${t.cause_event_id}:${t.from_stage}>${t.to_stage}`;
const sameTransition = (a: TimelineEntry, b: TimelineEntry) =>
  a === b || (a.cause_event_id === b.cause_event_id && a.from_stage === b.from_stage && a.to_stage === b.to_stage);

/**
 * Publishes the transitions of the new timeline that the old one did not have, except those
 * published before (`emitted`), and remembers in `emitted` the published ones the new timeline
 * dropped (see published-ids.ts: a live transition needs no entry there).
 */
export function diffTimeline(before: TimelineEntry[], after: TimelineEntry[], deal: string, rules: Rules, out: CanonicalEvent[], emitted: number[]): void {
  let common = 0;
  while (common < before.length && common < after.length && sameTransition(before[common], after[common])) common++;
  if (common === before.length && common === after.length) return;
  const c = compiled(rules);
  let old: Set<string> | undefined;
  if (common < before.length) {
    old = new Set(before.slice(common).map(transitionKey));
    const kept = new Set(after.slice(common).map(transitionKey));
    for (let i = common; i < before.length; i++) {
      const t = before[i];
      if (kept.has(transitionKey(t))) continue;
      remember(emitted, stageChangedIdHash(deal, t.cause_event_id, t.from_stage, t.to_stage));
      if (c.finalStages.includes(t.to_stage)) remember(emitted, closedIdHash(deal, t.cause_event_id));
    }
  }
  publishTransitions(after, common, old, deal, c, out, emitted);
}

/**
 * stage.changed (and closed, into a final stage) for after[from..], except `old` keys and ids in
 * `emitted`; `emitted` null: transitions caused by an event new to the deal, published before by no one.
 */
export function publishTransitions(
  after: TimelineEntry[],
  from: number,
  old: Set<string> | undefined,
  deal: string,
  c: Compiled,
  out: CanonicalEvent[],
  emitted: number[] | null,
): void {
  for (let i = from; i < after.length; i++) {
    const t = after[i];
    if (old?.has(transitionKey(t))) continue;
    const cause = t.cause_event_id;
    if (emitted === null || !emitted.includes(stageChangedIdHash(deal, cause, t.from_stage, t.to_stage))) {
      out.push({
        type: 'masterdeal.stage.changed',
        event_id: stageChangedId(deal, cause, t.from_stage, t.to_stage),
        master_deal_id: deal,
        from_stage: t.from_stage,
        to_stage: t.to_stage,
        event_ts: t.event_ts,
        cause_event_id: cause,
        compensation: t.compensation,
      });
    }
    if (c.finalStages.includes(t.to_stage) && (emitted === null || !emitted.includes(closedIdHash(deal, cause)))) {
      out.push({
        type: 'masterdeal.closed',
        event_id: closedId(deal, cause),
        master_deal_id: deal,
        stage: t.to_stage,
        event_ts: t.event_ts,
        cause_event_id: cause,
      });
    }
  }
}

export function sameMarks(a: Array<Mark | null>, b: Array<Mark | null>, indexes: number[]): boolean {
  for (let k = 0; k < indexes.length; k++) if (a[indexes[k]] !== b[indexes[k]]) return false;
  return true;
}

/** Insertion point of a fact in (ts, id) order; usually the end. */
export function factIndex(facts: FactEvent[], f: FactEvent): number {
  let i = facts.length;
  while (i > 0) {
    const p = facts[i - 1];
    if (p.ts < f.ts || (p.ts === f.ts && p.id < f.id)) break;
    i--;
  }
  return i;
}
