import type { Effect, Rules } from './rules/load.ts';

/** What the rules do with one event_type. */
export interface TypeRule {
  /** The rules' own copy of the type string (shared by every deal's facts). */
  type: string;
  effects: readonly Effect[];
}

/** Per-rules lookups the hot path needs, built once per Rules object. */
export interface Compiled {
  byType: Map<string, TypeRule>;
  /** The names of the final stages (a list: there are one or two, and a Set lookup costs more). */
  finalStages: string[];
  /** Per SLA (rules order): its `deps` as fact bits. */
  slaDeps: number[];
  /** Per SLA: its start facts, and its stop facts, as fact bits. */
  slaStartBits: number[];
  slaStopBits: number[];
  /**
   * Per SLA: whether a stopped timer can open again, i.e. some rule resets one of its stop facts
   * or a terminal fact. When none does, a fact that holds keeps holding whatever events come
   * later (late ones included), so the timer's open pair never comes back once it stopped.
   */
  slaReopens: boolean[];
  /** Scratch: timers before a step, by SLA index (recordTimers → publishTimers; not re-entrant). */
  before: { startId: Array<string | null>; stopId: Array<string | null> };
}

const compiledRules = new WeakMap<Rules, Compiled>();
let lastRules: Rules | undefined;
let lastCompiled: Compiled | undefined;
export function compiled(rules: Rules): Compiled {
  if (rules === lastRules) return lastCompiled as Compiled; // one rule set per process, as a rule
  let c = compiledRules.get(rules);
  if (c === undefined) {
    const n = rules.slas.length;
    const resettable = new Set([...rules.effects.values()].flatMap((effects) => effects.filter((e) => !e.set).map((e) => e.fact)));
    c = {
      byType: new Map([...rules.effects].map(([type, effects]) => [type, { type, effects }])),
      finalStages: rules.stages.filter((s) => s.final).map((s) => s.name),
      slaDeps: rules.slas.map((sla) => bitsOf(sla.deps)),
      slaStartBits: rules.slas.map((sla) => bitsOf(sla.startFacts)),
      slaStopBits: rules.slas.map((sla) => bitsOf(sla.stopFacts)),
      slaReopens: rules.slas.map((sla) => [...sla.stopFacts, ...rules.terminals].some((f) => resettable.has(f))),
      before: { startId: new Array(n).fill(null), stopId: new Array(n).fill(null) },
    };
    compiledRules.set(rules, c);
  }
  lastRules = rules;
  lastCompiled = c;
  return c;
}

const bitsOf = (facts: number[]) => facts.reduce((bits, f) => bits | (1 << f), 0);
