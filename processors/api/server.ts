import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { PROJECT_ROOT } from '../shared/config.ts';
import { requireKey } from './auth.ts';
import type { ApiConfig } from './config.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { dealRoutes } from './routes/deals.ts';
import { eventRoutes, type EnvelopeValidator, type EventPublisher } from './routes/events.ts';
import type { RulesView } from './model.ts';
import type { SqlReader, Tables } from './warehouse.ts';

export interface ApiDeps {
  config: ApiConfig;
  db: SqlReader;
  tables: Tables;
  validate: EnvelopeValidator;
  /** The engine's rules (processors/core), to explain stages. */
  rules: RulesView;
  /** Absent: POST /events answers 503 (e.g. Kafka not configured). */
  publisher?: EventPublisher;
  logger?: FastifyServerOptions['logger'];
}

export interface ApiContext extends ApiDeps {
  /** Set when reads need a key (MASTERDEAL_API_READ_AUTH=required). */
  readGuard?: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
}

const DASHBOARD_DIR = join(dirname(fileURLToPath(import.meta.url)), 'dashboard');
const CHART_JS_DIR = resolve(PROJECT_ROOT, 'node_modules/chart.js/dist');

// Errors that mean "the warehouse is not reachable" rather than "the query is wrong".
const UNAVAILABLE = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|socket hang up|Timeout error|UNKNOWN_DATABASE|UNKNOWN_TABLE|doesn't exist/i;

export async function buildServer(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: deps.config.bodyLimit,
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  });
  const ctx: ApiContext = {
    ...deps,
    readGuard: deps.config.readAuth === 'required' ? requireKey(deps.config.apiKeys) : undefined,
  };

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown; validationContext?: string }, req, reply) => {
    if (err.validation) {
      return reply.code(400).send({ error: 'bad_request', message: validationMessage(err.validationContext, err.validation) });
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) {
      return reply.code(413).send({ error: 'payload_too_large', message: `request body exceeds ${deps.config.bodyLimit} bytes` });
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ error: 'bad_request', message: err.message });
    }
    if (UNAVAILABLE.test(`${err.message} ${String((err as { cause?: unknown }).cause ?? '')} ${err.code ?? ''}`)) {
      req.log.warn({ err }, 'warehouse unavailable');
      return reply.code(503).header('retry-after', '5').send({ error: 'unavailable', message: `warehouse unavailable: ${err.message}` });
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: err.message });
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'MasterDeal API',
        version: '1.0.0',
        description:
          'Deal context (state, gates, SLA timers, timeline) for BI and copilot services, HTTP intake of domain events, ' +
          'and the United Stage Dashboard data. Reads are open unless the server runs with MASTERDEAL_API_READ_AUTH=required; ' +
          'POST /events always needs an API key (X-API-Key or Authorization: Bearer).',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      tags: [
        { name: 'deals', description: 'Deal context' },
        { name: 'pipeline', description: 'Pipeline-wide figures' },
        { name: 'intake', description: 'Domain events over HTTP' },
        { name: 'dashboard', description: 'United Stage Dashboard data' },
      ],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/health', { schema: { tags: ['pipeline'], summary: 'Liveness and warehouse reachability' } }, async (_req, reply) => {
    try {
      await deps.db.rows('SELECT 1 AS ok');
      return { status: 'ok', warehouse: 'ok', intake: deps.publisher ? 'ok' : 'disabled' };
    } catch (err) {
      return reply.code(503).send({ status: 'degraded', warehouse: (err as Error).message, intake: deps.publisher ? 'ok' : 'disabled' });
    }
  });

  dealRoutes(app, ctx);
  eventRoutes(app, ctx);
  dashboardRoutes(app, ctx);

  // The dashboard page and its one library; no build step.
  await app.register(fastifyStatic, { root: DASHBOARD_DIR, prefix: '/', index: 'index.html' });
  await app.register(fastifyStatic, { root: CHART_JS_DIR, prefix: '/vendor/chart.js/', decorateReply: false });
  return app;
}

interface AjvIssue {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** `querystring.page: must be >= 1`, `querystring: unknown parameter 'stag'` — the failing name first. */
export function validationMessage(context: string | undefined, issues: unknown): string {
  const issue = (Array.isArray(issues) ? issues[0] : undefined) as AjvIssue | undefined;
  const where = [context ?? 'request', ...(issue?.instancePath ?? '').split('/').filter(Boolean)].join('.');
  if (!issue) return `${where}: invalid`;
  if (typeof issue.params?.additionalProperty === 'string') return `${where}: unknown parameter '${issue.params.additionalProperty}'`;
  if (Array.isArray(issue.params?.allowedValues)) return `${where}: must be one of ${(issue.params.allowedValues as unknown[]).join(', ')}`;
  return `${where}: ${issue.message ?? 'invalid'}`;
}
