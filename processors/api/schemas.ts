import { BUDGET_SEGMENTS, STAGES } from './model.ts';

/** JSON Schemas of the routes: fastify validates with them and @fastify/swagger publishes them. */

export const errorSchema = {
  type: 'object',
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
  },
  required: ['error', 'message'],
  additionalProperties: true,
} as const;

export const dealIdParams = {
  type: 'object',
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._:\\-]*$', description: 'master_deal_id, e.g. MD-000123' },
  },
  required: ['id'],
  additionalProperties: false,
} as const;

const segmentProps = {
  industry: { type: 'string', minLength: 1, maxLength: 100 },
  client_type: { type: 'string', minLength: 1, maxLength: 50, description: 'direct or agency' },
  budget_segment: { type: 'string', enum: [...BUDGET_SEGMENTS.map((s) => s.segment), 'unknown'] },
} as const;

export const segmentQuery = {
  type: 'object',
  properties: { ...segmentProps },
  additionalProperties: false,
} as const;

export const dealListQuery = {
  type: 'object',
  properties: {
    stage: { type: 'string', enum: [...STAGES] },
    ...segmentProps,
    breached: { type: 'boolean', description: 'true: deals with at least one breached SLA; false: none' },
    page: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1 },
    page_size: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
  },
  additionalProperties: false,
} as const;

export const trendQuery = {
  type: 'object',
  properties: { ...segmentProps, bucket: { type: 'string', enum: ['auto', 'hour', 'day'], default: 'auto' } },
  additionalProperties: false,
} as const;

export const asOfQuery = {
  type: 'object',
  properties: {
    as_of: { type: 'string', format: 'date-time', description: 'reference time for remaining_ms (default: now)' },
  },
  additionalProperties: false,
} as const;

const gate = {
  type: 'object',
  properties: {
    gate: { type: 'string' },
    code: { type: 'string' },
    label: { type: 'string' },
    value: { type: 'boolean' },
    set_at: { type: ['string', 'null'] },
    event_id: { type: ['string', 'null'] },
    event_type: { type: ['string', 'null'] },
    source_system: { type: ['string', 'null'] },
  },
} as const;

const sla = {
  type: 'object',
  properties: {
    sla: { type: 'string' },
    label: { type: 'string' },
    status: { type: 'string', enum: ['not_started', 'open', 'met', 'breached'] },
    started_at: { type: ['string', 'null'] },
    stopped_at: { type: ['string', 'null'] },
    deadline_at: { type: ['string', 'null'] },
    duration_ms: { type: ['number', 'null'] },
    target_ms: { type: 'number' },
    remaining_ms: { type: ['number', 'null'] },
    breached: { type: 'boolean' },
    start_event_id: { type: ['string', 'null'] },
    stop_event_id: { type: ['string', 'null'] },
  },
} as const;

const eventRef = {
  type: 'object',
  properties: {
    event_id: { type: 'string' },
    event_type: { type: 'string' },
    source_system: { type: 'string' },
    event_ts: { type: 'string' },
  },
} as const;

export const dealResponse = {
  type: 'object',
  properties: {
    master_deal_id: { type: 'string' },
    stage: { type: ['string', 'null'], description: 'null while the processor has not produced a snapshot yet' },
    stage_entered_at: { type: ['string', 'null'] },
    stage_cause_event_id: { type: ['string', 'null'] },
    stage_change_was_compensation: { type: 'boolean' },
    snapshot_version: { type: ['number', 'null'] },
    updated_at: { type: ['string', 'null'] },
    as_of: { type: 'string' },
    client: {
      type: ['object', 'null'],
      properties: {
        client_id: { type: ['string', 'null'] },
        client_name: { type: ['string', 'null'] },
        industry: { type: ['string', 'null'] },
        client_type: { type: ['string', 'null'] },
        budget_rub: { type: ['number', 'null'] },
        budget_segment: { type: 'string' },
      },
    },
    why: {
      type: ['object', 'null'],
      properties: {
        stage: { type: 'string' },
        rule: { type: 'string' },
        text: { type: 'string' },
        because: { type: 'array', items: gate },
        cancelled_by: { anyOf: [eventRef, { type: 'null' }] },
      },
    },
    gates: { type: 'array', items: gate },
    sla: { type: 'array', items: sla },
    breached: { type: 'boolean' },
    breached_slas: { type: 'array', items: { type: 'string' } },
    events: { type: 'array', items: eventRef },
  },
} as const;

export const timelineResponse = {
  type: 'object',
  properties: {
    master_deal_id: { type: 'string' },
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          kind: { type: 'string', enum: ['event', 'canonical'] },
          type: { type: 'string' },
          event_ts: { type: 'string' },
          id: { type: 'string' },
          source_system: { type: ['string', 'null'] },
          body: { type: 'object', additionalProperties: true },
        },
      },
    },
  },
} as const;
