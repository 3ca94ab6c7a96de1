/**
 * Canonical outputs of the engine (SPEC §6). Inside the engine times are epoch milliseconds
 * (UTC); `toJson` renders the offline/JSON form with ISO-8601 strings. Every output but the
 * snapshot carries a deterministic `event_id` derived from deal, type and cause, so that a
 * replay publishes the same ids and downstream can dedupe.
 */
import { isoUtc } from './iso-time.ts';

export type SlaStatus = 'not_started' | 'open' | 'met' | 'breached';

export interface StageChanged {
  type: 'masterdeal.stage.changed';
  event_id: string;
  master_deal_id: string;
  from_stage: string;
  to_stage: string;
  event_ts: number;
  cause_event_id: string;
  compensation: boolean;
}

/** Published when a timer starts, stops, or its start/stop moves (late or compensating facts). */
export interface SlaUpdated {
  type: 'masterdeal.sla.updated';
  event_id: string;
  master_deal_id: string;
  sla: string;
  status: Exclude<SlaStatus, 'not_started'>;
  /** Stopped after its deadline (a still-open timer's breach comes as masterdeal.sla.breached). */
  breached: boolean;
  event_ts: number;
  cause_event_id: string;
  started_at: number;
  stopped_at: number | null;
  duration_ms: number | null;
  target_ms: number;
  deadline_at: number;
}

export interface SlaBreached {
  type: 'masterdeal.sla.breached';
  event_id: string;
  master_deal_id: string;
  sla: string;
  started_at: number;
  deadline_at: number;
  target_ms: number;
  /** Null when the watermark passed the deadline of a still-open timer. */
  stopped_at: number | null;
}

export interface DealClosed {
  type: 'masterdeal.closed';
  event_id: string;
  master_deal_id: string;
  stage: string;
  event_ts: number;
  cause_event_id: string;
}

export interface GateView {
  value: boolean;
  event_ts: number | null;
  event_id: string | null;
}

export interface SlaView {
  started_at: number | null;
  stopped_at: number | null;
  duration_ms: number | null;
  target_ms: number;
  breached: boolean;
  status: SlaStatus;
  deadline_at: number | null;
  start_event_id: string | null;
  stop_event_id: string | null;
  /** True when a terminal fact (cancellation), not the stop fact, stopped the timer. */
  stopped_by_terminal: boolean;
}

export interface TimelineEntry {
  from_stage: string;
  to_stage: string;
  event_ts: number;
  cause_event_id: string;
  compensation: boolean;
}

/** The latest view of one deal; the warehouse keeps the highest `version`. */
export interface Snapshot {
  type: 'masterdeal.snapshot';
  master_deal_id: string;
  version: number;
  stage: string;
  stage_since: number | null;
  gates: Record<string, GateView>;
  /** Terminal and marker facts (cancelled, deal_created, lead_qualified …). */
  facts: Record<string, GateView>;
  sla: Record<string, SlaView>;
  timeline: TimelineEntry[];
  event_count: number;
  first_event_ts: number | null;
  last_event_ts: number | null;
  /** Business time of the latest fact (= last_event_ts), the warehouse's `updated_at`. */
  updated_at: number | null;
}

export type CanonicalEvent = StageChanged | SlaUpdated | SlaBreached | DealClosed;
export type CanonicalOutput = CanonicalEvent | Snapshot;
export type CanonicalType = CanonicalOutput['type'];

export const CANONICAL_TYPES: readonly CanonicalType[] = [
  'masterdeal.stage.changed',
  'masterdeal.sla.updated',
  'masterdeal.sla.breached',
  'masterdeal.closed',
  'masterdeal.snapshot',
];

const iso = (ms: number | null): string | null => (ms === null ? null : isoUtc(ms));
const gateJson = (g: GateView) => ({ value: g.value, event_ts: iso(g.event_ts), event_id: g.event_id });
const mapValues = <T, U>(o: Record<string, T>, f: (v: T) => U): Record<string, U> =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));

/** The JSON form (SPEC §6): ISO-8601 UTC timestamps with milliseconds, durations in ms. */
export function toJson(o: CanonicalOutput): Record<string, unknown> {
  switch (o.type) {
    case 'masterdeal.stage.changed':
    case 'masterdeal.closed':
      return { ...o, event_ts: iso(o.event_ts) };
    case 'masterdeal.sla.updated':
      return { ...o, event_ts: iso(o.event_ts), started_at: iso(o.started_at), stopped_at: iso(o.stopped_at), deadline_at: iso(o.deadline_at) };
    case 'masterdeal.sla.breached':
      return { ...o, started_at: iso(o.started_at), deadline_at: iso(o.deadline_at), stopped_at: iso(o.stopped_at) };
    case 'masterdeal.snapshot':
      return {
        type: o.type,
        master_deal_id: o.master_deal_id,
        version: o.version,
        stage: o.stage,
        stage_since: iso(o.stage_since),
        gates: mapValues(o.gates, gateJson),
        facts: mapValues(o.facts, gateJson),
        sla: mapValues(o.sla, (s) => ({ ...s, started_at: iso(s.started_at), stopped_at: iso(s.stopped_at), deadline_at: iso(s.deadline_at) })),
        timeline: o.timeline.map((t) => ({ ...t, event_ts: iso(t.event_ts) })),
        event_count: o.event_count,
        first_event_ts: iso(o.first_event_ts),
        last_event_ts: iso(o.last_event_ts),
        updated_at: iso(o.updated_at),
      };
    default: {
      const never: never = o;
      throw new Error(`unknown canonical output ${JSON.stringify(never)}`);
    }
  }
}
