import type { CanonicalEvent } from './canonical.ts';
import { compiled, type TypeRule } from './compiled-rules.ts';
import { DeadlineHeap } from './deadline-heap.ts';
import type { DealBook } from './deal-book.ts';
import { advanceWatermarkInPlace, applyDistinctInPlace, applyDuplicateInPlace, emptyDeal, eventIdHash, type DealEvent, type DealState } from './engine.ts';

/**
 * A whole input folded deal by deal (`masterdeal fold`). It gives what `DealBook.apply` of every
 * event in arrival order, then `advanceTo(end)`, gives: per deal the same outputs in the same order
 * and the same final state. But each deal's events are applied together, so its state stays in
 * the CPU cache instead of being fetched again for every event of an interleaved stream.
 *
 * The one global thing, the event-time watermark, is known in advance for every arrival index i:
 * W(i) = highest event_ts of events 0..i minus the allowed lateness. A deal's timer whose deadline
 * W passes between two of its own events breaches with the first value of W past it, exactly
 * where (and with the watermark with which) the streaming book's deadline heap would have fired it.
 *
 * Outputs come deal by deal (deals in order of first arrival), not interleaved across deals.
 */
export interface BatchFoldSummary {
  /** Distinct events applied. */
  events: number;
  /** Events whose event_id the deal had already seen. */
  duplicates: number;
  highestEventTs: number | null;
  /** The watermark at the end (`end(highest)`), null for an empty input. */
  watermark: number | null;
}

/** One deal's outputs, in the order the streaming book publishes them (the array is reused: copy what you keep). */
export interface DealOutputs {
  masterDealId: string;
  outputs: CanonicalEvent[];
}

/**
 * Folds `events` (arrival order) into `book`, which must be empty; `end` gives the end-of-input
 * watermark from the highest event_ts. Yields each deal's outputs once; returns the summary.
 * Afterwards the book holds every deal at the end watermark, ready for `snapshots()`.
 */
export function* foldBatch(
  book: DealBook,
  events: readonly DealEvent[],
  end: (highestEventTs: number) => number,
): Generator<DealOutputs, BatchFoldSummary, void> {
  if (book.size > 0 || book.watermark !== null) throw new Error('foldBatch needs an empty DealBook');
  const summary: BatchFoldSummary = { events: 0, duplicates: 0, highestEventTs: null, watermark: null };
  if (events.length === 0) return summary;
  const input = groupedByDeal(events, book);
  const endMark = end(input.highestEventTs);
  const out: CanonicalEvent[] = [];
  const dealOutputs: DealOutputs = { masterDealId: '', outputs: out };
  const states: DealState[] = new Array(input.dealIds.length);
  const timers = new DeadlineHeap();
  for (let d = 0; d < states.length; d++) {
    const state = (states[d] = foldDeal(input, d, book.rules, endMark, out, summary));
    if (state.next_deadline !== null) timers.push(state.next_deadline, state.master_deal_id);
    dealOutputs.masterDealId = state.master_deal_id;
    yield dealOutputs;
    out.length = 0;
  }
  book.adopt(input.dealNo, states, timers);
  book.advanceTo(Math.max(endMark, input.lastMark));
  summary.highestEventTs = input.highestEventTs;
  summary.watermark = book.watermark;
  return summary;
}

/** The input grouped by deal (deals in order of first arrival, arrival order within). */
interface GroupedEvents {
  dealIds: string[];
  /** Each deal's number, its place in `dealIds`. */
  dealNo: Map<string, number>;
  /** Deal d's events are records first[d] .. first[d + 1] - 1. */
  first: Int32Array;
  /** RECORD words per event (TS, MARK_BEFORE, MARK_AT, HASH, TYPE). */
  records: Float64Array;
  eventIds: string[];
  /** By TYPE number: the rules' own event_type string where the rules know it. */
  typeNames: string[];
  /** By TYPE number: the rule of the type (undefined: no gate effect). */
  typeRules: Array<TypeRule | undefined>;
  steps: WatermarkSteps;
  highestEventTs: number;
  /** The watermark after the last event. */
  lastMark: number;
}

function groupedByDeal(events: readonly DealEvent[], book: DealBook): GroupedEvents {
  const n = events.length;
  // Pass 1, in arrival order: number the deals, count their events.
  const dealIds: string[] = [];
  const dealNo = new Map<string, number>();
  const dealOf = new Int32Array(n);
  let counts: Int32Array = new Int32Array(1024);
  for (let i = 0; i < n; i++) {
    const id = events[i].master_deal_id;
    let d = dealNo.get(id);
    if (d === undefined) {
      d = dealIds.push(id) - 1;
      dealNo.set(id, d);
      if (d === counts.length) counts = grown(counts);
    }
    dealOf[i] = d;
    counts[d]++;
  }
  const deals = dealIds.length;
  const first = new Int32Array(deals + 1);
  for (let d = 0; d < deals; d++) first[d + 1] = first[d] + counts[d];

  // Pass 2, in arrival order: the watermark after each event, and each event copied to its deal's
  // slot. What the deal loop reads of an event sits in one record of RECORD words (time, watermark
  // before and at its arrival, id hash, type number), so scattering an event writes one record and
  // its id, not six arrays.
  const lateness = book.allowedLatenessMs;
  const byType = compiled(book.rules).byType;
  const steps = new WatermarkSteps(n);
  const slot = first.slice(0, deals);
  const eventIds: string[] = new Array(n);
  const records = new Float64Array(n * RECORD);
  const typeNo = new Map<string, number>();
  const typeNames: string[] = [];
  const typeRules: Array<TypeRule | undefined> = [];
  let highest = Number.NEGATIVE_INFINITY;
  let mark = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const e = events[i];
    const at = slot[dealOf[i]]++;
    let t = typeNo.get(e.event_type);
    if (t === undefined) {
      const rule = byType.get(e.event_type);
      typeRules.push(rule);
      t = typeNames.push(rule?.type ?? e.event_type) - 1;
      typeNo.set(e.event_type, t);
    }
    const r = at * RECORD;
    records[r + MARK_BEFORE] = mark;
    if (e.event_ts > highest) highest = e.event_ts;
    if (highest - lateness > mark) steps.push((mark = highest - lateness));
    records[r + TS] = e.event_ts;
    records[r + MARK_AT] = mark;
    records[r + HASH] = eventIdHash(e.event_id);
    records[r + TYPE] = t;
    eventIds[at] = e.event_id;
  }
  steps.index();
  return { dealIds, dealNo, first, records, eventIds, typeNames, typeRules, steps, highestEventTs: highest, lastMark: mark };
}

/** Deal d's events applied in arrival order, its breaches fired as the watermark passed, to the end of input. */
function foldDeal(input: GroupedEvents, d: number, rules: DealBook['rules'], endMark: number, out: CanonicalEvent[], summary: BatchFoldSummary): DealState {
  const { records, eventIds, typeNames, typeRules, steps, lastMark } = input;
  const state = emptyDeal(input.dealIds[d], rules);
  event.master_deal_id = state.master_deal_id;
  const from = input.first[d];
  const to = input.first[d + 1];
  // The deal's `seen`, in one exact-size array: its ids in arrival order, duplicates taken out below.
  const seen = eventIds.slice(from, to);
  let distinct = 0;
  for (let at = from; at < to; at++) {
    const r = at * RECORD;
    // Another deal's event moved the watermark past a deadline since this deal's last event.
    if (state.next_deadline !== null && records[r + MARK_BEFORE] > state.next_deadline) fireUntil(state, records[r + MARK_BEFORE], steps, rules, out);
    if (seenBefore(input, from, at)) {
      applyDuplicateInPlace(state, records[r + MARK_AT], rules, out);
      summary.duplicates++;
      continue;
    }
    event.event_id = seen[distinct++] = eventIds[at];
    const type = records[r + TYPE];
    event.event_type = typeNames[type];
    event.event_ts = records[r + TS];
    applyDistinctInPlace(state, event, typeRules[type], rules, records[r + MARK_AT], out);
    summary.events++;
  }
  if (distinct < seen.length) seen.length = distinct; // a length store goes through the runtime
  state.seen = seen;
  // The dedupe hashes are rebuilt from `seen` if the deal ever takes another event (DealBook.apply).
  state.seen_hash = undefined;
  if (state.next_deadline !== null && lastMark > state.next_deadline) fireUntil(state, lastMark, steps, rules, out);
  // The end of input (DealBook.advanceTo(end)), if it moves the watermark.
  if (endMark > lastMark && state.next_deadline !== null && endMark > state.next_deadline) advanceWatermarkInPlace(state, endMark, rules, out);
  return state;
}

/** Whether event `at`'s id came earlier among its deal's events (from `from` on): hashes first, the string on a match. */
function seenBefore(input: GroupedEvents, from: number, at: number): boolean {
  const { records, eventIds } = input;
  const hash = records[at * RECORD + HASH];
  for (let k = from; k < at; k++) if (records[k * RECORD + HASH] === hash && eventIds[k] === eventIds[at]) return true;
  return false;
}

/** One event object, refilled per event: the grouped records are read in order. */
const event: DealEvent = { event_id: '', event_type: '', master_deal_id: '', event_ts: 0 };

/**
 * Breaches `state`'s due timers as the watermark, in arrival order, rose to `limit`: each time at
 * the first watermark value past its next deadline, as the streaming book's heap would have (one
 * settle per value).
 */
function fireUntil(state: DealState, limit: number, steps: WatermarkSteps, rules: DealBook['rules'], out: CanonicalEvent[]): void {
  while (state.next_deadline !== null && limit > state.next_deadline) advanceWatermarkInPlace(state, steps.after(state.next_deadline), rules, out);
}

/**
 * The values the watermark took, in arrival order (so increasing), with every 64th kept apart:
 * `after` finds the first value past a deadline in a small, cache-resident array, then in one
 * block of 64, instead of over a million arrival indexes.
 */
export class WatermarkSteps {
  private readonly values: Float64Array;
  private count = 0;
  private sample = new Float64Array(0);

  constructor(capacity: number) {
    this.values = new Float64Array(capacity);
  }

  push(value: number): void {
    this.values[this.count++] = value;
  }

  /** Call once every value is pushed. */
  index(): void {
    this.sample = new Float64Array(Math.ceil(this.count / BLOCK));
    for (let b = 0; b < this.sample.length; b++) this.sample[b] = this.values[b * BLOCK];
  }

  /** The first value greater than `deadline` (one exists: the caller saw a later watermark past it). */
  after(deadline: number): number {
    const { sample, values } = this;
    let lo = 0; // the last block whose first value is <= deadline, or 0
    let hi = sample.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (sample[mid] <= deadline) lo = mid;
      else hi = mid - 1;
    }
    let i = lo * BLOCK;
    let j = Math.min(i + BLOCK, this.count); // values[j] (or the next block's first) > deadline
    while (i < j) {
      const mid = (i + j) >>> 1;
      if (values[mid] > deadline) j = mid;
      else i = mid + 1;
    }
    return values[i];
  }
}

const BLOCK = 64;

/** The words of an event's record (Float64Array): all fit a double exactly. */
const TS = 0;
const MARK_BEFORE = 1;
const MARK_AT = 2;
const HASH = 3;
const TYPE = 4;
const RECORD = 5;

function grown(counts: Int32Array): Int32Array {
  const next = new Int32Array(counts.length * 2);
  next.set(counts);
  return next;
}
