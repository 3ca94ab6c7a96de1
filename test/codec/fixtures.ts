import type { EnvelopeJson } from '../../processors/codec/envelope-json.ts';

/** One valid example of every event type of SPEC §2, in JSON form. */
export const EXAMPLES: EnvelopeJson[] = [
  { event_type: 'crm.deal.created', source_system: 'CRM', payload: { client_id: 'CL-0042', client_name: 'ООО «Северный ветер»', industry: 'FMCG', client_type: 'agency', budget_rub: 12500000.5 } },
  { event_type: 'crm.lead.qualified', source_system: 'CRM', payload: { icp_score: 78, bant_budget: true, bant_authority: false, bant_need: true, bant_timing: true } },
  { event_type: 'crm.brief.submitted', source_system: 'CRM', payload: { brief_id: 'BR-1' } },
  { event_type: 'media.mediaplan.ready', source_system: 'MediaPush', payload: { mediaplan_id: 'MP-1', planned_budget_rub: 11999999.99 } },
  { event_type: 'crm.offer.approved', source_system: 'CRM', payload: { offer_id: 'OF-1', amount_rub: 11500000 } },
  { event_type: 'docflow.contract.signed', source_system: 'Docflow', payload: { contract_id: 'CT-1' } },
  { event_type: 'docflow.contract.revoked', source_system: 'Docflow', payload: { contract_id: 'CT-1', reason: 'wrong legal entity' } },
  { event_type: 'mediapush.campaign.started', source_system: 'MediaPush', payload: { campaign_id: 'CA-1' } },
  { event_type: 'dcm.invoice.issued', source_system: 'DCM', payload: { invoice_id: 'IN-1', amount_rub: 0.01 } },
  { event_type: 'dcm.closeout.completed', source_system: 'DCM', payload: {} },
  { event_type: 'crm.deal.cancelled', source_system: 'CRM', payload: { reason: 'budget frozen' } },
  {
    event_type: 'mediapush.campaign.kpi',
    source_system: 'MediaPush',
    payload: { campaign_id: 'CA-1', date: '2026-03-05', impressions: 1_250_000, clicks: 9_100, conversions: 210, spend_rub: 287500.25, plan_impressions: 1_200_000, plan_spend_rub: 276000 },
  },
  { event_type: 'okk.nps.submitted', source_system: 'OKK', payload: { survey_id: 'SV-1', score: 9, comment: 'быстро запустили' } },
].map((e, i) => ({
  event_id: `evt-${i + 1}`,
  master_deal_id: 'MD-000123',
  event_ts: new Date(Date.UTC(2026, 2, 2, 9, 15) + i * 3_600_000).toISOString(),
  ...e,
})) as EnvelopeJson[];

export function example(eventType: string): EnvelopeJson {
  const e = EXAMPLES.find((x) => x.event_type === eventType);
  if (!e) throw new Error(`no example for ${eventType}`);
  return structuredClone(e);
}
