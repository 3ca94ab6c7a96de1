import { z } from 'zod';
import type { EnvelopeJson } from '../codec/envelope-json.ts';
import { parseIsoTimestamp } from '../codec/json-form.ts';
import { dealHistory, type TimedEvent } from './deal.ts';
import { MinHeap } from './heap.ts';
import { hash32, Rng, rngFor } from './prng.ts';

/**
 * Synthetic MasterDeal traffic as a stream: deal histories merged in event time, then the
 * arrival defects a real pipeline meets — duplicates, late events, bounded reordering and
 * malformed lines. Memory is bounded by the deals in flight (plus the delay and shuffle
 * buffers), never by the total, so a million events stream in constant space. Same options →
 * same output, byte for byte; the deal content does not depend on the defect options.
 */
export const GenerateOptionsSchema = z.object({
  deals: z.number().int().min(1),
  seed: z.union([z.number().int(), z.string().min(1)]).default(1),
  /** When the first deal is created (ISO-8601 or epoch ms). */
  start: z.union([z.string(), z.number().int()]).default('2026-01-05T00:00:00.000Z'),
  /** Deals are created over this many days; nothing is emitted after start + days. */
  days: z.number().positive().default(180),
  /** Fraction of events delivered twice (same event_id, same bytes). */
  duplicates: z.number().min(0).max(1).default(0),
  /** Fraction of events delivered hours to days after their event time. */
  late: z.number().min(0).max(1).default(0),
  /** Reorder arrivals within a window of this many events (0 = event-time order). */
  shuffleWindow: z.number().int().min(0).default(0),
  /** Fraction of extra lines that are broken (only in `generateLines`/`generateRecords`). */
  malformed: z.number().min(0).max(1).default(0),
  /** Distinct clients; default one per four deals (at least 20). */
  clients: z.number().int().min(1).optional(),
});

export type GenerateOptions = z.input<typeof GenerateOptionsSchema>;
type Resolved = z.output<typeof GenerateOptionsSchema> & { seedNum: number; startMs: number };

export const DEFAULT_SHUFFLE_WINDOW = 512;

export const MALFORMED_DEFECTS = ['malformed_json', 'unknown_event_type', 'missing_id', 'bad_timestamp', 'missing_payload_field', 'out_of_range'] as const;
export type MalformedDefect = (typeof MALFORMED_DEFECTS)[number];

export type GeneratedRecord =
  | { kind: 'event'; envelope: EnvelopeJson; duplicate: boolean; late: boolean }
  | { kind: 'malformed'; line: string; defect: MalformedDefect };

export interface GenerateHooks {
  /** Called after each deal's history was drawn (for progress bars). */
  onDeal?: (dealsDone: number) => void;
}

export function resolveOptions(options: GenerateOptions): Resolved {
  const parsed = GenerateOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RangeError(`generate option ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const o = parsed.data;
  const startMs = typeof o.start === 'number' ? o.start : parseIsoTimestamp(o.start);
  if (startMs === undefined) throw new RangeError(`generate option start: unparsable timestamp "${o.start}"`);
  const seedNum = typeof o.seed === 'number' ? o.seed >>> 0 : hash32(o.seed);
  return { ...o, seedNum, startMs };
}

const D = 86_400_000;
const earlier = (a: TimedEvent, b: TimedEvent) => a.ts < b.ts || (a.ts === b.ts && a.envelope.event_id < b.envelope.event_id);

/** Every deal's events in event-time order (ties by event_id), streaming. */
function* inEventTime(o: Resolved, hooks: GenerateHooks): Generator<TimedEvent> {
  const heap = new MinHeap<TimedEvent>(earlier);
  const spanMs = o.days * D;
  const horizon = o.startMs + spanMs;
  const clientPool = o.clients ?? Math.max(20, Math.round(o.deals / 4));
  const jitter = rngFor(o.seedNum, 'created');
  // Stratified creation times: strictly increasing, so a deal's events can only start after
  // every earlier deal was drawn, and what precedes the next creation time is final.
  let next = o.startMs + jitter.next() * (spanMs / o.deals);
  for (let dealNo = 1; dealNo <= o.deals; dealNo++) {
    const createdAt = Math.round(next);
    for (const e of dealHistory({ seed: o.seedNum, dealNo, createdAt, horizon, clientPool })) heap.push(e);
    hooks.onDeal?.(dealNo);
    next = o.startMs + (dealNo + jitter.next()) * (spanMs / o.deals);
    const bound = dealNo < o.deals ? Math.round(next) : Infinity;
    while (heap.size > 0 && (heap.peek() as TimedEvent).ts < bound) yield heap.pop() as TimedEvent;
  }
}

interface Arrival {
  envelope: EnvelopeJson;
  duplicate: boolean;
  late: boolean;
}

interface Held extends Arrival {
  releaseTs: number;
  seq: number;
}

/** Late events and duplicates are held back until the stream's event time passes their release time. */
function* withDelays(o: Resolved, events: Iterable<TimedEvent>): Generator<Arrival> {
  if (o.late === 0 && o.duplicates === 0) {
    for (const e of events) yield { envelope: e.envelope, duplicate: false, late: false };
    return;
  }
  const r = rngFor(o.seedNum, 'delays');
  const held = new MinHeap<Held>((a, b) => a.releaseTs < b.releaseTs || (a.releaseTs === b.releaseTs && a.seq < b.seq));
  let seq = 0;
  for (const e of events) {
    while (held.size > 0 && (held.peek() as Held).releaseTs <= e.ts) yield held.pop() as Held;
    const late = r.chance(o.late);
    if (late) held.push({ envelope: e.envelope, duplicate: false, late: true, releaseTs: e.ts + Math.exp(r.uniform(Math.log(3_600_000), Math.log(3 * D))), seq: seq++ });
    else yield { envelope: e.envelope, duplicate: false, late: false };
    if (r.chance(o.duplicates)) {
      // Most duplicates are producer retries (seconds later); some are re-sends days later.
      const delay = r.chance(0.7) ? r.uniform(0, 300_000) : r.uniform(3_600_000, 2 * D);
      held.push({ envelope: e.envelope, duplicate: true, late: false, releaseTs: e.ts + delay, seq: seq++ });
    }
  }
  while (held.size > 0) yield held.pop() as Held;
}

/** Bounded reordering: keep a window of arrivals and emit a random one of them. */
function* shuffled<T>(o: Resolved, items: Iterable<T>): Generator<T> {
  if (o.shuffleWindow <= 1) return yield* items;
  const r = rngFor(o.seedNum, 'shuffle');
  const window: T[] = [];
  const takeRandom = () => {
    const i = Math.floor(r.next() * window.length);
    const item = window[i];
    window[i] = window[window.length - 1];
    window.pop();
    return item;
  };
  for (const item of items) {
    window.push(item);
    if (window.length >= o.shuffleWindow) yield takeRandom();
  }
  while (window.length > 0) yield takeRandom();
}

/** Valid envelopes (JSON form) in arrival order, including duplicates and late ones. */
export function* generateEvents(options: GenerateOptions, hooks: GenerateHooks = {}): Generator<EnvelopeJson> {
  for (const rec of generateRecords({ ...options, malformed: 0 }, hooks)) if (rec.kind === 'event') yield rec.envelope;
}

/** Everything in arrival order, each record saying what it is (valid, duplicate, late, malformed). */
export function* generateRecords(options: GenerateOptions, hooks: GenerateHooks = {}): Generator<GeneratedRecord> {
  const o = resolveOptions(options);
  const r = rngFor(o.seedNum, 'malformed');
  let bad = 0;
  for (const a of shuffled(o, withDelays(o, inEventTime(o, hooks)))) {
    yield { kind: 'event', ...a };
    if (o.malformed > 0 && r.chance(o.malformed)) {
      const defect = r.pick(MALFORMED_DEFECTS);
      yield { kind: 'malformed', defect, line: breakEvent(r, a.envelope, defect, ++bad) };
    }
  }
}

/** NDJSON lines (without the newline) in arrival order. */
export function* generateLines(options: GenerateOptions, hooks: GenerateHooks = {}): Generator<string> {
  for (const rec of generateRecords(options, hooks)) yield rec.kind === 'event' ? JSON.stringify(rec.envelope) : rec.line;
}

/**
 * A broken copy of an event with its own event_id (so a lenient consumer could not mistake it
 * for the original). Every defect makes validateEnvelope fail.
 */
function breakEvent(r: Rng, e: EnvelopeJson, defect: MalformedDefect, n: number): string {
  const copy: Record<string, unknown> = { ...e, event_id: `${e.event_id}-malformed-${n}`, payload: { ...e.payload } };
  const payload = copy.payload as Record<string, unknown>;
  switch (defect) {
    case 'malformed_json': {
      const text = JSON.stringify(copy);
      return text.slice(0, r.int(1, text.length - 1)); // a strict prefix of an object is never valid JSON
    }
    case 'unknown_event_type':
      copy.event_type = r.pick(['crm.deal.teleported', 'mediapush.campaign.paused', 'CRM.BRIEF.SUBMITTED', '']);
      break;
    case 'missing_id':
      delete copy[r.pick(['event_id', 'master_deal_id'])];
      break;
    case 'bad_timestamp':
      copy.event_ts = r.pick(['2026-13-45T99:00:00Z', 'вчера в 10:00', '', '02.03.2026 09:15', 'NaN']);
      break;
    case 'missing_payload_field': {
      const keys = Object.keys(payload).filter((k) => k !== 'comment');
      if (keys.length === 0) delete copy.payload;
      else delete payload[r.pick(keys)];
      break;
    }
    case 'out_of_range':
      if (e.event_type === 'crm.lead.qualified') payload.icp_score = r.pick([101, 140, -5]);
      else if (e.event_type === 'okk.nps.submitted') payload.score = r.pick([11, 12, -1]);
      else copy.event_ts = 8.64e15 + 1; // beyond the representable date range
      break;
    default: {
      const never: never = defect;
      throw new Error(`unknown defect ${String(never)}`);
    }
  }
  return JSON.stringify(copy);
}
