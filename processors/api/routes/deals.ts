import type { FastifyInstance } from 'fastify';
import { budgetSegment, explainStage, findBottleneck, gateViews, slaViews, SLAS } from '../model.ts';
import { listDeals, readDeal, readTimeline, slaStats, stageCounts, totals, type DealFilter } from '../queries.ts';
import { asOfQuery, dealIdParams, dealListQuery, dealResponse, errorSchema, segmentQuery, timelineResponse } from '../schemas.ts';
import type { ApiContext } from '../server.ts';

/** Deal context for BI and copilots: state, gates, SLA timers, timeline, paged lists, summary. */
export function dealRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { db, tables: t } = ctx;
  const guard = ctx.readGuard ? { preHandler: ctx.readGuard } : {};

  app.get<{ Params: { id: string }; Querystring: { as_of?: string } }>(
    '/deals/:id',
    {
      ...guard,
      schema: {
        tags: ['deals'],
        summary: "A deal's stage, gates (with times, sources and causing events), SLA timers and why it is in its stage",
        params: dealIdParams,
        querystring: asOfQuery,
        response: { 200: dealResponse, 400: errorSchema, 404: errorSchema, 503: errorSchema },
      },
    },
    async (req, reply) => {
      const id = req.params.id;
      const deal = await readDeal(db, t, id);
      if (!deal) return reply.code(404).send({ error: 'not_found', message: `no deal ${id} in the warehouse` });
      const asOf = req.query.as_of ? Date.parse(req.query.as_of) : Date.now();
      const events = new Map(deal.events.map((e) => [e.event_id, e]));
      const snapshot = deal.snapshot;
      const gates = snapshot ? gateViews(snapshot, events, ctx.rules) : [];
      const sla = snapshot ? slaViews(snapshot, asOf) : [];
      // The latest entry into the current stage (the snapshot keeps the stage timeline).
      const entered = snapshot?.timeline?.filter((e) => e.to_stage === snapshot.stage).at(-1);
      const breachedSlas = sla.filter((s) => s.breached).map((s) => s.sla);
      return {
        master_deal_id: id,
        stage: snapshot?.stage ?? null,
        stage_entered_at: snapshot?.stage_since ?? entered?.event_ts ?? null,
        stage_cause_event_id: entered?.cause_event_id ?? null,
        stage_change_was_compensation: entered?.compensation ?? false,
        snapshot_version: deal.version,
        updated_at: deal.updated_at,
        as_of: new Date(asOf).toISOString(),
        client: deal.client ? { ...deal.client, budget_segment: budgetSegment(deal.client.budget_rub) } : null,
        why: snapshot ? explainStage(snapshot, events, ctx.rules) : null,
        gates,
        sla,
        breached: breachedSlas.length > 0,
        breached_slas: breachedSlas,
        events: deal.events,
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/deals/:id/timeline',
    {
      ...guard,
      schema: {
        tags: ['deals'],
        summary: "A deal's domain events and canonical outputs (stage changes, SLA updates and breaches) in event time",
        params: dealIdParams,
        response: { 200: timelineResponse, 400: errorSchema, 404: errorSchema, 503: errorSchema },
      },
    },
    async (req, reply) => {
      const items = await readTimeline(db, t, req.params.id);
      if (!items) return reply.code(404).send({ error: 'not_found', message: `no deal ${req.params.id} in the warehouse` });
      return { master_deal_id: req.params.id, items };
    },
  );

  app.get<{ Querystring: DealFilter & { page: number; page_size: number } }>(
    '/deals',
    {
      ...guard,
      schema: {
        tags: ['deals'],
        summary: 'Deals by stage, industry, client type, budget segment and breach, paged (ordered by master_deal_id)',
        querystring: dealListQuery,
        response: { 400: errorSchema, 503: errorSchema },
      },
    },
    async (req) => {
      const { page, page_size, ...filter } = req.query;
      const { total, items } = await listDeals(db, t, filter, page, page_size);
      return { page, page_size, total, pages: Math.ceil(total / page_size), items };
    },
  );

  app.get<{ Querystring: DealFilter }>(
    '/pipeline/summary',
    {
      ...guard,
      schema: {
        tags: ['pipeline'],
        summary: 'Deals per stage (now and reached), SLA medians/p90/breach rates and the bottleneck stage',
        querystring: segmentQuery,
        response: { 400: errorSchema, 503: errorSchema },
      },
    },
    async (req) => pipelineSummary(ctx, req.query),
  );
}

export async function pipelineSummary(ctx: ApiContext, filter: DealFilter) {
  const { db, tables: t } = ctx;
  // Sequential: the embedded ClickHouse endpoint serialises queries anyway.
  const tot = await totals(db, t, filter);
  const stages = await stageCounts(db, t, filter);
  const sla = await slaStats(db, t, filter);
  const waiting = new Map(stages.map((s) => [s.stage, s.current]));
  return {
    as_of: new Date().toISOString(),
    filter,
    totals: tot,
    stages,
    sla: sla.map((s) => {
      const info = SLAS.find((i) => i.sla === s.sla)!;
      return { ...s, label: info.label, waiting_stage: info.waitingStage, target_ms: s.target_ms ?? info.targetMs };
    }),
    bottleneck: findBottleneck(sla, waiting),
  };
}
