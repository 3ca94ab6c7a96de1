import type { CanonicalEvent, SlaView } from './canonical.ts';
import { compiled, type Compiled } from './compiled-rules.ts';
import { sameMarks, type Derived, type Mark } from './derivation.ts';
import type { DealState } from './engine.ts';
import { remember, slaUpdatedId, slaUpdatedIdHash } from './published-ids.ts';
import type { Rules } from './rules/load.ts';

/**
 * SLA timers (SPEC §4), evaluated from a derivation's marks: views for the snapshot, sla.updated
 * when a timer's start or stop moves, sla.breached once per SLA, and the next deadline.
 */

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

export function slaView(rules: Rules, d: Derived, sla: Rule): SlaView {
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

export function withWatermark(v: SlaView, watermark: number | null): SlaView {
  if (v.status !== 'open' || watermark === null || v.deadline_at === null || watermark <= v.deadline_at) return v;
  return { ...v, breached: true, status: 'breached' };
}

/** Publishes the sla.updated of every timer whose start or stop moved between two derivations (see publishTimers). */
export function diffSlas(prev: Derived, next: Derived, deal: string, rules: Rules, out: CanonicalEvent[], emitted: number[]): void {
  const c = compiled(rules);
  let touched = 0;
  rules.slas.forEach((sla, i) => {
    if (!sameMarks(prev.marks, next.marks, sla.deps)) touched |= 1 << i; // else: an untouched timer
  });
  recordTimers(rules, prev, touched, c);
  publishTimers(rules, next, touched, deal, c, out, emitted, null);
}

/** The SLA timers (bits, rules order) that depend on any of the facts in `factBits`. */
export function timersOf(c: Compiled, factBits: number): number {
  let touched = 0;
  for (let i = 0; i < c.slaDeps.length; i++) if ((c.slaDeps[i] & factBits) !== 0) touched |= 1 << i;
  return touched;
}

/** Remembers the `touched` timers as of `d` (into c.before), for `publishTimers` to compare with. */
export function recordTimers(rules: Rules, d: Derived, touched: number, c: Compiled): void {
  const { before } = c;
  for (let i = 0; i < rules.slas.length; i++) {
    if ((touched & (1 << i)) === 0) continue;
    const a = evalTimer(rules, d, rules.slas[i], scratchB);
    before.startId[i] = a.started ? (a.start as Mark).id : null;
    before.stopId[i] = a.started && a.stop ? a.stop.id : null;
  }
}

/**
 * Publishes sla.updated for each `touched` timer whose (start, stop) differs in `next` from
 * c.before, unless published before (`emitted`); remembers in `emitted` the pair each such timer
 * leaves. `fresh`: the id of an event new to the deal, in step; a pair that holds it is new too.
 */
export function publishTimers(
  rules: Rules,
  next: Derived,
  touched: number,
  deal: string,
  c: Compiled,
  out: CanonicalEvent[],
  emitted: number[],
  fresh: string | null,
): void {
  const { before } = c;
  for (let i = 0; i < rules.slas.length; i++) {
    if ((touched & (1 << i)) === 0) continue;
    const sla = rules.slas[i];
    const b = evalTimer(rules, next, sla, scratchA);
    const started = b.started && b.start !== null;
    const bStartId = started ? (b.start as Mark).id : null;
    const bStopId = started && b.stop ? b.stop.id : null;
    const aStartId = before.startId[i];
    const aStopId = before.stopId[i];
    // Compare ids, not objects: a re-derivation rebuilds equal marks.
    if (aStartId === bStartId && aStopId === bStopId) continue;
    // The pair left is remembered, unless it is an open pair that can never come back (slaReopens).
    if (aStartId !== null && (aStopId !== null || bStopId === null || c.slaReopens[i])) remember(emitted, slaUpdatedIdHash(deal, sla.name, aStartId, aStopId));
    // A timer cleared by a compensation (its start fact reset) shows in the snapshot only.
    if (bStartId === null) continue;
    const isNew = fresh !== null && (bStopId === fresh || bStartId === fresh);
    if (!isNew && emitted.includes(slaUpdatedIdHash(deal, sla.name, bStartId, bStopId))) continue;
    const stopMoved = bStopId !== null && bStopId !== aStopId;
    const ts = stopMoved ? b.stoppedAt : (b.start as Mark).ts;
    const id = stopMoved ? bStopId : bStartId;
    // The fields of slaView(rules, next, sla), read from `b` (no second evaluation, no view object).
    const start = b.start as Mark;
    const stop = b.stop;
    const breached = stop !== null && b.stoppedAt > b.deadline;
    let duration: number | null = null;
    if (stop !== null) duration = sla.calendar ? sla.calendar.elapsed(start.ts, b.stoppedAt) : b.stoppedAt - start.ts;
    out.push({
      type: 'masterdeal.sla.updated',
      event_id: slaUpdatedId(deal, sla.name, start.id, bStopId),
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

/** `settleSla`'s `touched` when any timer may have moved. */
export const ALL_TIMERS = -1;

/**
 * Publishes new breaches and recomputes `next_deadline`; mutates `next` (a fresh state, whose
 * `breaches` array is copied unless `inPlace`: then the array is the state's own). `touched`: the
 * timers (bits) whose start or stop may have moved since the state was last settled. Any other
 * timer that is not open (not started, or stopped: told by the fact mask alone) is skipped: it
 * cannot newly breach, since its breach was settled when it stopped, and has no deadline to wait for.
 */
export function settleSla(next: DealState, rules: Rules, out: CanonicalEvent[], inPlace: boolean, touched = ALL_TIMERS): void {
  let nextDeadline: number | null = null;
  let breaches = next.breaches;
  const wm = next.watermark;
  const c = compiled(rules);
  const mask = next.derived.mask;
  const ended = (mask & rules.terminalMask) !== 0;
  for (let i = 0; i < rules.slas.length; i++) {
    if ((touched & (1 << i)) === 0) {
      const start = c.slaStartBits[i];
      const stop = c.slaStopBits[i];
      if ((mask & start) !== start || (mask & stop) === stop || ended) continue;
    }
    const sla = rules.slas[i];
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
  if (next.next_deadline !== nextDeadline) next.next_deadline = nextDeadline; // a store boxes the number afresh
}
