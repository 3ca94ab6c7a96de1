import type { Envelope } from '../../processors/core/envelope.ts';
import { EXAMPLE_PAYLOADS } from '../../processors/generate/example-payloads.ts';

/** Test data builders: envelopes with valid payloads (SPEC §2) at hour offsets from T0. */
export const T0 = Date.parse('2026-03-02T09:00:00.000Z'); // a Monday
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** A minimal valid payload per event type (the generator's examples). */
export const PAYLOADS = EXAMPLE_PAYLOADS;

export function ev(id: string, type: string, at: number, deal = 'MD-1'): Envelope {
  return { event_id: id, event_type: type, source_system: type.split('.')[0].toUpperCase(), master_deal_id: deal, event_ts: at, payload: PAYLOADS[type] ?? {} };
}

/** The JSON form of an envelope, as a fold input line. */
export function line(e: Envelope): string {
  return JSON.stringify({ ...e, event_ts: new Date(e.event_ts).toISOString() });
}

/** Document 6.8.4, "the life of a deal through the gates", with plausible times. */
export function workedExample(deal = 'MD-000123'): Envelope[] {
  return [
    ev(`${deal}-1`, 'crm.deal.created', T0, deal),
    ev(`${deal}-2`, 'crm.brief.submitted', T0 + 4 * HOUR, deal),
    ev(`${deal}-3`, 'media.mediaplan.ready', T0 + 1 * DAY, deal),
    ev(`${deal}-4`, 'crm.offer.approved', T0 + 1 * DAY + 6 * HOUR, deal),
    ev(`${deal}-5`, 'docflow.contract.signed', T0 + 3 * DAY, deal),
    ev(`${deal}-6`, 'mediapush.campaign.started', T0 + 4 * DAY, deal),
    ev(`${deal}-7`, 'dcm.invoice.issued', T0 + 20 * DAY, deal),
    ev(`${deal}-8`, 'dcm.closeout.completed', T0 + 30 * DAY, deal),
  ];
}
