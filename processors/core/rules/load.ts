import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { BusinessCalendar } from '../calendar.ts';
import { parseDuration } from '../duration.ts';
import { EVENT_TYPES } from '../envelope.ts';
import { compilePredicate, ExpressionError } from './expression.ts';
import { rulesFileSchema, type RulesFile } from './schema.ts';

/**
 * Rules as data (SPEC §3-4): the YAML file is validated, then compiled into lookup
 * structures the engine uses on every event (facts as bits, stages as a mask table).
 */
export type FactKind = 'gate' | 'terminal' | 'marker';

export interface FactDef {
  index: number;
  name: string;
  kind: FactKind;
  label?: string;
}

/** What one event type does to one fact: set it, or (compensation) reset it. */
export interface Effect {
  fact: number;
  set: boolean;
}

export interface StageDef {
  name: string;
  when: string;
  final: boolean;
}

export interface SlaDef {
  name: string;
  start: string;
  stop: string;
  /** Fact indexes that must all hold; the time is the latest of theirs. */
  startFacts: number[];
  stopFacts: number[];
  /** Facts whose marks the timer depends on (start, stop and terminal facts). */
  deps: number[];
  targetMs: number;
  calendarName?: string;
  calendar?: BusinessCalendar;
}

export interface Rules {
  source: string;
  /**
   * What a deal state's derivation depends on, hashed: gates, compensations, terminals, markers,
   * milestones, stages, SLAs and calendars (not `version`, `allowed_lateness` or comments).
   * A state remembers the fingerprint it was built with (see DealBook.restore).
   */
  fingerprint: string;
  facts: FactDef[];
  gates: FactDef[];
  markers: FactDef[];
  terminalMask: number;
  terminals: number[];
  effects: ReadonlyMap<string, readonly Effect[]>;
  stages: StageDef[];
  /** Index into `stages` of the first stage whose predicate holds for a fact mask. */
  stageOf: (mask: number) => number;
  initialStage: string;
  slas: SlaDef[];
  allowedLatenessMs: number;
}

export interface RuleIssue {
  path: string;
  message: string;
}

export class RulesError extends Error {
  constructor(
    readonly source: string,
    readonly issues: RuleIssue[],
  ) {
    super(issues.map((i) => `${source}: ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n'));
    this.name = 'RulesError';
  }
}

const MAX_FACTS = 30; // facts are bits of a 32-bit mask
const TABLE_FACTS = 16; // up to 2^16 masks the stage of every mask is precomputed

export const DEFAULT_RULES_PATH = fileURLToPath(new URL('./default.yaml', import.meta.url));

let defaultRules: Rules | undefined;

/** The shipped rules (processors/core/rules/default.yaml), compiled once. */
export function loadDefaultRules(): Rules {
  defaultRules ??= loadRulesFile(DEFAULT_RULES_PATH);
  return defaultRules;
}

export function loadRulesFile(path: string): Rules {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RulesError(basename(path), [{ path: '', message: `cannot read: ${(err as Error).message}` }]);
  }
  return parseRules(text, basename(path));
}

/** Parses and compiles a rules document; throws RulesError listing every bad entry. */
export function parseRules(text: string, source = 'rules.yaml'): Rules {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new RulesError(
      source,
      doc.errors.map((e) => ({ path: '', message: `YAML: ${e.message.split('\n')[0]}` })),
    );
  }
  const parsed = rulesFileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    throw new RulesError(
      source,
      parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
    );
  }
  return compileRules(parsed.data, source);
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

function compileRules(file: RulesFile, source: string): Rules {
  const issues: RuleIssue[] = [];
  const known = new Set<string>(EVENT_TYPES);
  const facts: FactDef[] = [];
  const byName = new Map<string, number>();
  const effects = new Map<string, Effect[]>();

  const addEffect = (path: string, type: string, effect: Effect) => {
    if (!known.has(type)) {
      issues.push({ path, message: `unknown event_type '${type}'` });
      return;
    }
    const list = effects.get(type) ?? [];
    const clash = list.find((e) => e.fact === effect.fact);
    if (clash && clash.set !== effect.set) {
      issues.push({ path, message: `'${type}' both sets and resets '${facts[effect.fact].name}'` });
      return;
    }
    if (!clash) list.push(effect);
    effects.set(type, list);
  };

  const sections: Array<[FactKind, string, Record<string, { label?: string; set_by: string[] }>]> = [
    ['gate', 'gates', file.gates],
    ['terminal', 'terminals', file.terminals],
    ['marker', 'markers', file.markers],
  ];
  for (const [kind, section, entries] of sections) {
    for (const [factName, spec] of Object.entries(entries)) {
      if (byName.has(factName)) {
        issues.push({ path: `${section}.${factName}`, message: `duplicate name '${factName}'` });
        continue;
      }
      const index = facts.length;
      facts.push({ index, name: factName, kind, label: spec.label });
      byName.set(factName, index);
      spec.set_by.forEach((type, i) => addEffect(`${section}.${factName}.set_by[${i}]`, type, { fact: index, set: true }));
    }
  }
  if (facts.length > MAX_FACTS) issues.push({ path: '', message: `at most ${MAX_FACTS} gates, terminals and markers` });

  file.compensations.forEach((c, i) => {
    c.resets.forEach((gate, j) => {
      const index = byName.get(gate);
      if (index === undefined || facts[index].kind !== 'gate') {
        issues.push({ path: `compensations[${i}].resets[${j}]`, message: `unknown gate '${gate}'` });
        return;
      }
      addEffect(`compensations[${i}].event_type`, c.event_type, { fact: index, set: false });
    });
  });

  // A milestone is a conjunction of facts; names resolve to the bits that must all be set.
  const milestones = new Map<string, number[]>();
  for (const [msName, spec] of Object.entries(file.milestones)) {
    if (byName.has(msName)) {
      issues.push({ path: `milestones.${msName}`, message: `duplicate name '${msName}'` });
      continue;
    }
    const members: number[] = [];
    spec.all_of.forEach((f, i) => {
      const index = byName.get(f);
      if (index === undefined) issues.push({ path: `milestones.${msName}.all_of[${i}]`, message: `unknown gate '${f}'` });
      else members.push(index);
    });
    milestones.set(msName, members);
  }
  const factsOf = (n: string): number[] | undefined => {
    const single = byName.get(n);
    return single !== undefined ? [single] : milestones.get(n);
  };
  const bitsOf = (n: string): number | undefined => factsOf(n)?.reduce((m, i) => m | (1 << i), 0);

  const stageNames = new Set<string>();
  const predicates: Array<(mask: number) => boolean> = [];
  file.stages.forEach((s, i) => {
    if (stageNames.has(s.name)) issues.push({ path: `stages[${i}].name`, message: `duplicate stage '${s.name}'` });
    stageNames.add(s.name);
    try {
      predicates.push(compilePredicate(s.when, bitsOf));
    } catch (err) {
      if (!(err instanceof ExpressionError)) throw err;
      issues.push({ path: `stages[${i}].when`, message: err.message });
    }
  });

  const calendars = new Map<string, BusinessCalendar>();
  for (const [calName, spec] of Object.entries(file.calendars)) {
    const path = `calendars.${calName}`;
    if (!Intl.supportedValuesOf('timeZone').includes(spec.zone) && spec.zone !== 'UTC') {
      issues.push({ path: `${path}.zone`, message: `unknown time zone '${spec.zone}'` });
      continue;
    }
    if (!Object.values(spec.hours).some(Boolean)) {
      issues.push({ path: `${path}.hours`, message: 'no working hours on any weekday' });
      continue;
    }
    try {
      calendars.set(calName, new BusinessCalendar({ zone: spec.zone, hours: spec.hours, holidays: spec.holidays }));
    } catch (err) {
      issues.push({ path: `${path}.hours`, message: (err as Error).message });
    }
  }

  const slaNames = new Set<string>();
  const slas: SlaDef[] = [];
  file.sla.forEach((s, i) => {
    if (slaNames.has(s.name)) issues.push({ path: `sla[${i}].name`, message: `duplicate sla '${s.name}'` });
    slaNames.add(s.name);
    const startFacts = factsOf(s.start);
    const stopFacts = factsOf(s.stop);
    if (!startFacts) issues.push({ path: `sla[${i}].start`, message: `unknown gate '${s.start}'` });
    if (!stopFacts) issues.push({ path: `sla[${i}].stop`, message: `unknown gate '${s.stop}'` });
    const targetMs = typeof s.target === 'number' ? s.target : parseDuration(s.target);
    if (targetMs === undefined || targetMs <= 0) issues.push({ path: `sla[${i}].target`, message: `bad duration '${s.target}'` });
    const calendar = s.calendar === undefined ? undefined : calendars.get(s.calendar);
    if (s.calendar !== undefined && !calendar && !(s.calendar in file.calendars)) {
      issues.push({ path: `sla[${i}].calendar`, message: `unknown calendar '${s.calendar}'` });
    }
    if (startFacts && stopFacts && targetMs) {
      const terminals = facts.filter((f) => f.kind === 'terminal').map((f) => f.index);
      const deps = [...new Set([...startFacts, ...stopFacts, ...terminals])];
      slas.push({ name: s.name, start: s.start, stop: s.stop, startFacts, stopFacts, deps, targetMs, calendarName: s.calendar, calendar });
    }
  });

  const lateness =
    typeof file.allowed_lateness === 'number' ? file.allowed_lateness : parseDuration(file.allowed_lateness);
  if (lateness === undefined) issues.push({ path: 'allowed_lateness', message: `bad duration '${file.allowed_lateness}'` });

  if (issues.length > 0) throw new RulesError(source, issues);

  const stageOf = stageLookup(predicates, facts.length, source);
  const stages: StageDef[] = file.stages.map((s) => ({ name: s.name, when: s.when, final: s.final }));
  let terminalMask = 0;
  for (const f of facts) if (f.kind === 'terminal') terminalMask |= 1 << f.index;
  return {
    source,
    fingerprint: fingerprintOf(file),
    facts,
    gates: facts.filter((f) => f.kind === 'gate'),
    markers: facts.filter((f) => f.kind !== 'gate'),
    terminalMask,
    terminals: facts.filter((f) => f.kind === 'terminal').map((f) => f.index),
    effects,
    stages,
    stageOf,
    initialStage: stages[stageOf(0)].name,
    slas,
    allowedLatenessMs: lateness ?? 0,
  };
}

function fingerprintOf(file: RulesFile): string {
  const { version: _version, allowed_lateness: _lateness, ...semantic } = file;
  return createHash('sha256').update(stableJson(semantic)).digest('hex').slice(0, 16);
}

/** JSON with object keys sorted, so reordering a YAML mapping keeps the fingerprint. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** First-match stage per mask; a table when small enough, else evaluated per call. */
function stageLookup(predicates: Array<(mask: number) => boolean>, factCount: number, source: string) {
  const first = (mask: number): number => {
    for (let i = 0; i < predicates.length; i++) if (predicates[i](mask)) return i;
    return -1;
  };
  const fail = (mask: number): never => {
    throw new RulesError(source, [{ path: 'stages', message: `no stage matches facts mask ${mask.toString(2)}; end with 'when: otherwise'` }]);
  };
  if (factCount <= TABLE_FACTS) {
    const table = new Int16Array(1 << factCount);
    for (let mask = 0; mask < table.length; mask++) {
      table[mask] = first(mask);
      if (table[mask] < 0) fail(mask);
    }
    return (mask: number) => table[mask];
  }
  return (mask: number) => {
    const i = first(mask);
    return i >= 0 ? i : fail(mask);
  };
}
