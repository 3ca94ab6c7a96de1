import type { EnvelopeJson } from '../codec/envelope-json.ts';
import { Rng, rngFor } from './prng.ts';
import {
  AGENCIES,
  CANCEL_REASONS,
  INDUSTRIES,
  LEGAL_FORMS,
  NAME_STEMS,
  NAME_TAILS,
  NPS_COMMENTS,
  REVOKE_REASONS,
  type IndustryProfile,
} from './reference-data.ts';

/**
 * The history of one synthetic deal, in event time. Pure: (seed, deal number, created time,
 * horizon) → events; the stage delays are log-normal with medians chosen so that roughly
 * 10–25 % of each SLA breaches (lead_to_brief 8 h, brief_to_offer 2 d, offer_to_contract 3 d,
 * contract_to_launch 2 d, launch_to_close 30 d). Events after the horizon are not emitted,
 * so the newest deals are still open — as in a live system.
 */
export interface TimedEvent {
  ts: number;
  envelope: EnvelopeJson;
}

export interface DealSpec {
  seed: number;
  /** 1-based; becomes MD-000001. */
  dealNo: number;
  createdAt: number;
  /** No event later than this is emitted. */
  horizon: number;
  /** Number of distinct clients deals are spread over. */
  clientPool: number;
}

const H = 3_600_000;
const D = 24 * H;

const SOURCE = { crm: 'CRM', media: 'MediaPush', mediapush: 'MediaPush', docflow: 'Docflow', dcm: 'DCM', okk: 'OKK' } as const;

export const masterDealId = (dealNo: number): string => `MD-${String(dealNo).padStart(6, '0')}`;

interface Client {
  clientId: string;
  clientName: string;
  profile: IndustryProfile;
  clientType: 'direct' | 'agency';
}

/** A client's attributes depend only on (seed, client index): repeat deals look alike. */
export function clientOf(seed: number, index: number): Client {
  const r = rngFor(seed, 'client', index);
  const profile = r.weighted(INDUSTRIES.map((p) => [p, p.weight] as const));
  const clientType = r.chance(0.4) ? 'agency' : 'direct';
  const base = `${r.pick(LEGAL_FORMS)} «${r.pick(NAME_STEMS)}${r.pick(NAME_TAILS)}»`;
  const clientName = clientType === 'agency' ? `${base} (через ${r.pick(AGENCIES)})` : base;
  return { clientId: `CL-${String(index + 1).padStart(5, '0')}`, clientName, profile, clientType };
}

const rub = (x: number, step = 1): number => Math.round(x / step) * step;
const kopRound = (x: number): number => Math.round(x * 100) / 100;

export function dealHistory(spec: DealSpec): TimedEvent[] {
  const r = rngFor(spec.seed, 'deal', spec.dealNo);
  const ids = rngFor(spec.seed, 'deal-ids', spec.dealNo);
  const md = masterDealId(spec.dealNo);
  const n = String(spec.dealNo).padStart(6, '0');
  const out: TimedEvent[] = [];
  const emit = (ts: number, eventType: string, payload: Record<string, unknown>): boolean => {
    const t = Math.round(ts);
    const eventId = ids.uuid(); // drawn even when cut off, so ids do not depend on the horizon
    if (t > spec.horizon) return false;
    const domain = eventType.split('.')[0] as keyof typeof SOURCE;
    out.push({
      ts: t,
      envelope: { event_id: eventId, event_type: eventType, source_system: SOURCE[domain], master_deal_id: md, event_ts: new Date(t).toISOString(), payload },
    });
    return true;
  };
  const after = (t: number, median: number, sigma: number) => t + r.logNormal(median, sigma);

  const client = clientOf(spec.seed, Math.floor(r.next() * spec.clientPool));
  const p = client.profile;
  const budget = rub(r.logNormal(p.medianBudgetRub * (client.clientType === 'agency' ? 1.3 : 1), 0.9), 10_000) || 10_000;
  const t0 = spec.createdAt;
  if (!emit(t0, 'crm.deal.created', { client_id: client.clientId, client_name: client.clientName, industry: p.industry, client_type: client.clientType, budget_rub: budget })) {
    return out;
  }

  const icp = Math.max(0, Math.min(100, Math.round(r.normal(62, 18))));
  if (r.chance(0.9)) {
    const bant = (bias: number) => r.chance(Math.min(0.95, 0.25 + icp / 150 + bias));
    emit(after(t0, 2 * H, 0.8), 'crm.lead.qualified', {
      icp_score: icp,
      bant_budget: bant(0.1),
      bant_authority: bant(-0.05),
      bant_need: bant(0.15),
      bant_timing: bant(-0.1),
    });
  }
  // Weak leads get cancelled more often; where in the funnel is drawn once.
  const cancelAt = r.chance(icp < 40 ? 0.3 : 0.1)
    ? r.weighted([['before_brief', 3], ['before_offer', 3], ['before_contract', 3], ['before_launch', 1], ['during_campaign', 1]] as const)
    : undefined;
  const cancel = (from: number, maxDelay: number) => emit(from + r.uniform(2 * H, maxDelay), 'crm.deal.cancelled', { reason: r.pick(CANCEL_REASONS) });

  if (cancelAt === 'before_brief') return cancel(t0, 5 * D), out;
  const tBrief = after(t0, 5 * H, 0.6);
  emit(tBrief, 'crm.brief.submitted', { brief_id: `BR-${n}` });

  if (cancelAt === 'before_offer') return cancel(tBrief, 4 * D), out;
  const offerAmount = rub(budget * r.uniform(0.85, 1.05), 1000);
  const tPlan = after(tBrief, 20 * H, 0.55);
  const plannedBudget = kopRound(offerAmount * r.uniform(0.9, 1));
  emit(tPlan, 'media.mediaplan.ready', { mediaplan_id: `MP-${n}`, planned_budget_rub: plannedBudget });
  const tOffer = after(tBrief, 24 * H, 0.55);
  emit(tOffer, 'crm.offer.approved', { offer_id: `OF-${n}`, amount_rub: offerAmount });
  const tReady = Math.max(tPlan, tOffer);

  if (cancelAt === 'before_contract') return cancel(tReady, 6 * D), out;
  let tContract = after(tReady, 40 * H, 0.6);
  emit(tContract, 'docflow.contract.signed', { contract_id: `CT-${n}-1` });
  if (r.chance(0.06)) {
    const tRevoke = tContract + r.uniform(4 * H, 40 * H);
    emit(tRevoke, 'docflow.contract.revoked', { contract_id: `CT-${n}-1`, reason: r.pick(REVOKE_REASONS) });
    if (r.chance(0.25)) return cancel(tRevoke, 5 * D), out;
    tContract = after(tRevoke, 30 * H, 0.6);
    emit(tContract, 'docflow.contract.signed', { contract_id: `CT-${n}-2` });
  }

  if (cancelAt === 'before_launch') return cancel(tContract, 3 * D), out;
  const tLaunch = after(tContract, 28 * H, 0.55);
  const campaignId = `CA-${n}`;
  if (!emit(tLaunch, 'mediapush.campaign.started', { campaign_id: campaignId })) return out;

  const flightDays = r.int(5, 30);
  const firstDay = Math.floor(tLaunch / D);
  let lastDay = firstDay + flightDays - 1;
  const cancelDuring = cancelAt === 'during_campaign' ? tLaunch + r.uniform(1, flightDays / 2) * D : undefined;
  if (cancelDuring !== undefined) lastDay = Math.min(lastDay, Math.floor(cancelDuring / D) - 1);
  const planSpendDay = plannedBudget / flightDays;
  const planImpressionsDay = Math.round((planSpendDay / p.cpmRub) * 1000);
  const pacing = r.logNormal(1, 0.08); // campaign-level over/under delivery
  for (let day = firstDay; day <= lastDay; day++) {
    const impressions = Math.max(0, Math.round(planImpressionsDay * pacing * r.logNormal(1, 0.12)));
    const clicks = Math.round(impressions * p.ctr * r.logNormal(1, 0.25));
    const reportedAt = (day + 1) * D + 3 * H + r.uniform(0, 2 * H); // nightly report for the day
    emit(reportedAt, 'mediapush.campaign.kpi', {
      campaign_id: campaignId,
      date: new Date(day * D).toISOString().slice(0, 10),
      impressions,
      clicks,
      conversions: Math.round(clicks * p.conversionRate * r.logNormal(1, 0.3)),
      spend_rub: kopRound((impressions * p.cpmRub * r.logNormal(1, 0.03)) / 1000),
      plan_impressions: planImpressionsDay,
      plan_spend_rub: kopRound(planSpendDay),
    });
  }
  if (cancelDuring !== undefined) {
    emit(cancelDuring, 'crm.deal.cancelled', { reason: r.pick(CANCEL_REASONS) });
    if (r.chance(0.3)) emitNps(r, emit, cancelDuring + r.uniform(1, 10) * D, n, -3);
    return out;
  }

  const tInvoice = tLaunch + r.uniform(3, Math.max(4, flightDays)) * D;
  emit(tInvoice, 'dcm.invoice.issued', { invoice_id: `INV-${n}`, amount_rub: offerAmount });
  const tFlightEnd = (lastDay + 1) * D;
  const tClose = after(Math.max(tFlightEnd, tInvoice), 5 * D, 0.5);
  if (!emit(tClose, 'dcm.closeout.completed', {})) return out;
  if (r.chance(0.65)) emitNps(r, emit, tClose + r.uniform(1, 14) * D, n, 0);
  return out;
}

function emitNps(r: Rng, emit: (ts: number, t: string, p: Record<string, unknown>) => boolean, ts: number, n: string, bias: number): void {
  const score = Math.max(0, Math.min(10, r.weighted([[10, 22], [9, 24], [8, 18], [7, 12], [6, 7], [5, 5], [4, 3], [3, 3], [2, 2], [1, 2], [0, 2]] as const) + bias));
  const group = score >= 9 ? 'promoter' : score >= 7 ? 'passive' : 'detractor';
  emit(ts, 'okk.nps.submitted', { survey_id: `SV-${n}`, score, comment: r.chance(0.5) ? r.pick(NPS_COMMENTS[group]) : null });
}
