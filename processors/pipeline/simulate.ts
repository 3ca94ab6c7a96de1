import { encodeEnvelopeFramed } from '../codec/envelope-avro.ts';
import { schemaCatalog } from '../codec/schemas.ts';
import { domainOf, type Envelope } from '../core/envelope.ts';
import type { EventSink, OutgoingRecord } from '../kafka/ports.ts';
import type { TopicLayout } from '../kafka/topics.ts';
import { MALFORMED_KINDS, malformedValue, type MalformedKind } from './malformed.ts';
import * as m from './metrics.ts';

/**
 * Produces envelopes to their domain's raw topic (key = master_deal_id, default partitioner),
 * Confluent-framed with the registered schema id, at a target rate; for a seeded fraction of
 * events an extra malformed record (every kind in turn at random) is sent before the valid one.
 */
export interface SimulateOptions {
  layout: TopicLayout;
  schemaIds: Record<string, number>;
  /** Events per second; 0 = as fast as possible. */
  rate: number;
  badFraction?: number;
  random: () => number;
  chunk?: number;
  onProgress?: (sent: number) => void;
  shouldStop?: () => boolean;
}

export interface SimulateResult {
  sent: number;
  valid: number;
  malformed: Record<MalformedKind, number>;
  seconds: number;
}

export async function simulate(events: Iterable<Envelope>, sink: EventSink, o: SimulateOptions): Promise<SimulateResult> {
  const catalog = schemaCatalog();
  const chunk = o.chunk ?? (o.rate > 0 ? Math.max(1, Math.min(2_000, Math.round(o.rate / 20))) : 2_000);
  const malformed = Object.fromEntries(MALFORMED_KINDS.map((k) => [k, 0])) as Record<MalformedKind, number>;
  const started = Date.now();
  let sent = 0;
  let valid = 0;
  let pending: OutgoingRecord[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    await sink.send(pending);
    for (const r of pending) m.eventsOut.inc({ role: 'simulate', topic: r.topic });
    sent += pending.length;
    pending = [];
    o.onProgress?.(sent);
    if (o.rate > 0) {
      // Pace against the schedule, not per chunk, so the long-run rate is exact.
      const due = started + (sent / o.rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  };
  for (const env of events) {
    if (o.shouldStop?.()) break;
    const domain = domainOf(env.event_type);
    if (!domain) throw new Error(`event ${env.event_id}: no domain for event_type ${env.event_type}`);
    const topic = o.layout.raw[domain];
    const id = o.schemaIds[topic];
    if (id === undefined) throw new Error(`no schema id registered for ${topic}`);
    const headers = { 'masterdeal.produced_at': Buffer.from(String(Date.now())) };
    if (o.badFraction && o.random() < o.badFraction) {
      // An extra broken copy: the valid event is still sent, so nothing real is lost.
      const kind = MALFORMED_KINDS[Math.floor(o.random() * MALFORMED_KINDS.length)]!;
      pending.push({ topic, key: env.master_deal_id, value: malformedValue(kind, env, id, catalog, o.random), headers });
      malformed[kind]++;
    }
    pending.push({ topic, key: env.master_deal_id, value: encodeEnvelopeFramed(env, id, catalog), headers });
    valid++;
    if (pending.length >= chunk) await flush();
  }
  await flush();
  return { sent, valid, malformed, seconds: (Date.now() - started) / 1000 };
}
