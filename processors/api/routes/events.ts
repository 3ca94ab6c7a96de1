import type { FastifyInstance } from 'fastify';
import type { Envelope } from '../../core/envelope.ts';
import { requireKey } from '../auth.ts';
import { errorSchema } from '../schemas.ts';
import type { ApiContext } from '../server.ts';

/** Result of checking one JSON envelope against the Avro schemas (processors/codec validateEnvelope). */
export type EnvelopeValidation = { ok: true; envelope: Envelope } | { ok: false; reason: string };
export type EnvelopeValidator = (value: unknown) => EnvelopeValidation;

/** Produces validated envelopes to their raw topics; resolves once every record is acknowledged. */
export interface EventPublisher {
  publish(envelopes: readonly Envelope[]): Promise<{ topics: Record<string, number> }>;
  close(): Promise<void>;
}

const acceptedResponse = {
  type: 'object',
  properties: {
    accepted: { type: 'integer' },
    event_ids: { type: 'array', items: { type: 'string' } },
    topics: { type: 'object', additionalProperties: { type: 'integer' } },
  },
} as const;

const invalidResponse = {
  type: 'object',
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        properties: { index: { type: 'integer' }, event_id: { type: ['string', 'null'] }, reason: { type: 'string' } },
      },
    },
  },
} as const;

/**
 * HTTP intake for systems that cannot produce to Kafka: one envelope or a JSON array of them.
 * All or nothing: any invalid item -> 422 with a reason per item and nothing produced. If the
 * broker or registry fails -> 503; the client retries the same batch, and since event_id is the
 * dedupe key downstream, records that did get through before the failure are not doubled.
 */
export function eventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Body: unknown }>(
    '/events',
    {
      preHandler: requireKey(ctx.config.apiKeys),
      bodyLimit: ctx.config.bodyLimit,
      schema: {
        tags: ['intake'],
        summary: 'Accept one domain event envelope (SPEC §2 JSON form) or a batch (JSON array); all or nothing',
        security: [{ apiKey: [] }, { bearer: [] }],
        body: {
          description: 'An envelope object, or an array of envelopes',
          anyOf: [{ type: 'object' }, { type: 'array', items: {} }],
        },
        response: {
          202: acceptedResponse,
          400: errorSchema,
          401: errorSchema,
          413: errorSchema,
          422: invalidResponse,
          503: errorSchema,
        },
      },
    },
    async (req, reply) => {
      const items = Array.isArray(req.body) ? req.body : [req.body];
      if (items.length === 0) return reply.code(400).send({ error: 'bad_request', message: 'empty batch: send at least one envelope' });
      if (items.length > ctx.config.maxBatch) {
        return reply.code(413).send({
          error: 'payload_too_large',
          message: `batch of ${items.length} envelopes exceeds the limit of ${ctx.config.maxBatch}; split it`,
        });
      }
      const envelopes: Envelope[] = [];
      const errors: Array<{ index: number; event_id: string | null; reason: string }> = [];
      items.forEach((item, index) => {
        const result = ctx.validate(item);
        if (result.ok) envelopes.push(result.envelope);
        else {
          const id = (item as { event_id?: unknown } | null)?.event_id;
          errors.push({ index, event_id: typeof id === 'string' ? id : null, reason: result.reason });
        }
      });
      if (errors.length > 0) {
        return reply.code(422).send({
          error: 'invalid_events',
          message: `${errors.length} of ${items.length} envelopes are invalid; nothing was accepted`,
          errors,
        });
      }
      if (!ctx.publisher) {
        return reply.code(503).header('retry-after', '5').send({ error: 'unavailable', message: 'intake is not connected to Kafka' });
      }
      try {
        const { topics } = await ctx.publisher.publish(envelopes);
        return reply.code(202).send({ accepted: envelopes.length, event_ids: envelopes.map((e) => e.event_id), topics });
      } catch (err) {
        req.log.error({ err }, 'producing intake batch failed');
        return reply.code(503).header('retry-after', '5').send({
          error: 'unavailable',
          message: `could not produce to Kafka, retry the same batch: ${(err as Error).message}`,
        });
      }
    },
  );
}
