import type { DealState } from './engine.ts';

/**
 * At most once per output id. A deal's stage.changed / closed / sla.updated outputs describe its
 * live history: the transitions of its timeline and the current (start, stop) of each SLA timer.
 * An output is published when its transition or timer pair enters that history; when it leaves it
 * (a late event rewrites the timeline, a compensation moves a timer back), the deal remembers a
 * 53-bit hash of its id in `emitted`, so that if it comes back it is not published again. What is
 * live needs no entry (the diff against the previous history already skips it), nor does what
 * cannot come back (a stopped timer's open pair where no rule can undo the stop: sla-timers), which
 * keeps `emitted` short and spares the hashing of nearly every output.
 * The ids are built here, and hashed from their parts (no concatenated string to read back).
 */

export const stageChangedId = (deal: string, cause: string, from: string, to: string) => idPrefixes(deal).stage + cause + transition(from, to);
export const closedId = (deal: string, cause: string) => idPrefixes(deal).closed + cause;
export const slaUpdatedId = (deal: string, sla: string, startId: string, stopId: string | null) =>
  slaPrefix(idPrefixes(deal), sla) + startId + (stopId === null ? ':-' : `:${stopId}`);

/**
 * The id prefixes of the deal last published for (`${deal}:stage:`, `${deal}:closed:`,
 * `${deal}:sla:${name}:`): a deal's outputs come together, and an id built on a kept prefix takes
 * two string pieces instead of six.
 */
interface IdPrefixes {
  deal: string;
  stage: string;
  closed: string;
  slaNames: string[];
  sla: string[];
}

let prefixes: IdPrefixes = { deal: '', stage: ':stage:', closed: ':closed:', slaNames: [], sla: [] };

function idPrefixes(deal: string): IdPrefixes {
  if (prefixes.deal !== deal) prefixes = { deal, stage: `${deal}:stage:`, closed: `${deal}:closed:`, slaNames: [], sla: [] };
  return prefixes;
}

function slaPrefix(p: IdPrefixes, sla: string): string {
  for (let i = 0; i < p.slaNames.length; i++) if (p.slaNames[i] === sla) return p.sla[i];
  p.slaNames.push(sla);
  return p.sla[p.sla.push(`${p.deal}:sla:${sla}:`) - 1];
}

/** `:${from}>${to}`, one string per pair of stages met (the rules' stages make a few dozen pairs at most). */
const transitions: Array<{ from: string; to: string; text: string }> = [];
function transition(from: string, to: string): string {
  for (const t of transitions) if (t.from === from && t.to === to) return t.text;
  const text = `:${from}>${to}`;
  if (transitions.length < 256) transitions.push({ from, to, text });
  return text;
}

/** idHash(stageChangedId(...)) */
export function stageChangedIdHash(deal: string, cause: string, from: string, to: string): number {
  begin(deal.length + 9 + cause.length + from.length + to.length);
  feed(deal);
  feed(':stage:');
  feed(cause);
  feed(':');
  feed(from);
  feed('>');
  feed(to);
  return digest();
}

/** idHash(closedId(...)) */
export function closedIdHash(deal: string, cause: string): number {
  begin(deal.length + 8 + cause.length);
  feed(deal);
  feed(':closed:');
  feed(cause);
  return digest();
}

/** idHash(slaUpdatedId(...)) */
export function slaUpdatedIdHash(deal: string, sla: string, startId: string, stopId: string | null): number {
  const stop = stopId === null ? '-' : stopId;
  begin(deal.length + 7 + sla.length + startId.length + stop.length);
  feed(deal);
  feed(':sla:');
  feed(sla);
  feed(':');
  feed(startId);
  feed(':');
  feed(stop);
  return digest();
}

/** Adds `hash` to `emitted` unless it is there. */
export function remember(emitted: number[], hash: number): void {
  if (!emitted.includes(hash)) emitted.push(hash);
}

/**
 * The state's emitted-id hashes; none for a state written before the field existed: what it had
 * published is its live history, which needs no entry.
 */
export function emittedOf(state: DealState): number[] {
  return state.emitted ?? [];
}

/**
 * A 53-bit hash of an output id (two 32-bit FNV-1a variants): 8 bytes a published output, and a
 * collision (which would drop a real output) is ~1e-13 likely for a deal's ~20 outputs. Saved in
 * changelog states, so it must not change. Fed part by part through two lanes (not re-entrant).
 */
export function idHash(id: string): number {
  begin(id.length);
  feed(id);
  return digest();
}

let laneA = 0;
let laneB = 0;

function begin(length: number): void {
  laneA = 0x811c9dc5;
  laneB = 0x01000193 ^ length;
}

function feed(part: string): void {
  let a = laneA;
  let b = laneB;
  for (let i = 0; i < part.length; i++) {
    const ch = part.charCodeAt(i);
    a = Math.imul(a ^ ch, 0x01000193);
    b = Math.imul(b ^ ch, 0x5bd1e995);
    b ^= b >>> 15;
  }
  laneA = a;
  laneB = b;
}

function digest(): number {
  return (laneA >>> 0) + (laneB >>> 11) * 0x100000000;
}
