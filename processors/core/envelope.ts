/**
 * The domain-event envelope every source system sends (SPEC §2), after validation:
 * `event_ts` is normalised to epoch milliseconds (UTC); the payload is typed per event_type.
 */
export interface Envelope {
  event_id: string;
  event_type: string;
  source_system: string;
  master_deal_id: string;
  event_ts: number;
  payload: Record<string, unknown>;
}

/** The event types of SPEC §2, grouped by the domain (raw topic) that produces them. */
export const EVENT_TYPES_BY_DOMAIN = {
  crm: ['crm.deal.created', 'crm.lead.qualified', 'crm.brief.submitted', 'crm.offer.approved', 'crm.deal.cancelled'],
  mediapush: ['media.mediaplan.ready', 'mediapush.campaign.started', 'mediapush.campaign.kpi'],
  docflow: ['docflow.contract.signed', 'docflow.contract.revoked'],
  dcm: ['dcm.invoice.issued', 'dcm.closeout.completed'],
  okk: ['okk.nps.submitted'],
} as const;

export type Domain = keyof typeof EVENT_TYPES_BY_DOMAIN;
export type EventType = (typeof EVENT_TYPES_BY_DOMAIN)[Domain][number];

export const EVENT_TYPES: readonly EventType[] = Object.values(EVENT_TYPES_BY_DOMAIN).flat();

export function domainOf(eventType: string): Domain | undefined {
  for (const [domain, types] of Object.entries(EVENT_TYPES_BY_DOMAIN)) {
    if ((types as readonly string[]).includes(eventType)) return domain as Domain;
  }
  return undefined;
}
