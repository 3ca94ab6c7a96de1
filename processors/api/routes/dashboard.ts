import type { FastifyInstance } from 'fastify';
import { ChangeWatcher } from '../live.ts';
import { dataVersion, filterOptions, trend, type DealFilter } from '../queries.ts';
import { errorSchema, segmentQuery, trendQuery } from '../schemas.ts';
import type { ApiContext } from '../server.ts';
import { pipelineSummary } from './deals.ts';

/**
 * Data for the United Stage Dashboard, computed in ClickHouse from snapshots and raw events
 * (live, no dbt run needed), plus a server-sent-events stream that says when data changed.
 */
export function dashboardRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { db, tables: t } = ctx;
  const guard = ctx.readGuard ? { preHandler: ctx.readGuard } : {};
  const watcher = new ChangeWatcher(() => dataVersion(db, t), ctx.config.livePollMs, app.log);
  // Open streams end when the server closes, so `close()` does not wait for browsers.
  const streams = new Set<() => void>();
  app.addHook('onClose', async () => {
    for (const end of [...streams]) end();
    watcher.stop();
  });

  app.get(
    '/dashboard/api/filters',
    { ...guard, schema: { tags: ['dashboard'], summary: 'Values for the filters', response: { 503: errorSchema } } },
    async () => filterOptions(db, t),
  );

  app.get<{ Querystring: DealFilter }>(
    '/dashboard/api/overview',
    {
      ...guard,
      schema: {
        tags: ['dashboard'],
        summary: 'Funnel, SLA figures, bottleneck and totals for a segment',
        querystring: segmentQuery,
        response: { 400: errorSchema, 503: errorSchema },
      },
    },
    async (req) => ({ ...(await pipelineSummary(ctx, req.query)), data_version: await dataVersion(db, t) }),
  );

  app.get<{ Querystring: DealFilter & { bucket: 'auto' | 'hour' | 'day' } }>(
    '/dashboard/api/trend',
    {
      ...guard,
      schema: {
        tags: ['dashboard'],
        summary: 'Deals created, closed, cancelled and SLA breaches per hour or day (event time)',
        querystring: trendQuery,
        response: { 400: errorSchema, 503: errorSchema },
      },
    },
    async (req) => {
      const { bucket, ...filter } = req.query;
      return trend(db, t, filter, bucket);
    },
  );

  app.get(
    '/dashboard/api/stream',
    {
      ...guard,
      schema: {
        tags: ['dashboard'],
        summary: 'Server-sent events: `change` with the data version whenever the warehouse changes; comments as heartbeats',
      },
    },
    (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(`retry: 3000\n\n`);
      const unsubscribe = watcher.subscribe((version) => res.write(`event: change\ndata: ${JSON.stringify({ version })}\n\n`));
      const heartbeat = setInterval(() => res.write(`: keep-alive\n\n`), 15_000);
      const end = () => {
        if (!streams.delete(end)) return;
        clearInterval(heartbeat);
        unsubscribe();
        res.end();
      };
      streams.add(end);
      req.raw.on('close', end);
    },
  );
}
