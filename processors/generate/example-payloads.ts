/**
 * One minimal valid payload per event type (SPEC §2), for tests and benchmarks that need
 * envelopes of a given type without the generator's realism.
 */
export const EXAMPLE_PAYLOADS: Record<string, Record<string, unknown>> = {
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
