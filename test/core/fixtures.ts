import type { Envelope } from '../../processors/core/envelope.ts';

/** Test data builders: envelopes with valid payloads (SPEC §2) at hour offsets from T0. */
export const T0 = Date.parse('2026-03-02T09:00:00.000Z'); // a Monday
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export const PAYLOADS: Record<string, Record<string, unknown>> = {
  'crm.deal.created': { client_id: 'C-1', client_name: 'Acme', industry: 'retail', client_type: 'direct', budget_rub: 1_000_000 },
  'crm.lead.qualified': { icp_score: 80, bant_budget: true, bant_authority: true, bant_need: true, bant_timing: false },
  'crm.brief.submitted': { brief_id: 'B-1' },
  'media.mediaplan.ready': { mediaplan_id: 'MP-1', planned_budget_rub: 900_000 },
  'crm.offer.approved': { offer_id: 'O-1', amount_rub: 950_000 },
  'docflow.contract.signed': { contract_id: 'K-1' },
  'docflow.contract.revoked': { contract_id: 'K-1', reason: 'wrong legal entity' },
  'mediapush.campaign.started': { campaign_id: 'CMP-1' },
  'dcm.invoice.issued': { invoice_id: 'INV-1', amount_rub: 950_000 },
  'dcm.closeout.completed': {},
  'crm.deal.cancelled': { reason: 'client left' },
  'mediapush.campaign.kpi': {
    campaign_id: 'CMP-1', date: '2026-03-05', impressions: 1000, clicks: 10, conversions: 1,
    spend_rub: 100, plan_impressions: 1200, plan_spend_rub: 120,
  },
  'okk.nps.submitted': { survey_id: 'S-1', score: 9, comment: null },
};

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
