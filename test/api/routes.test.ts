import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { validateEnvelope } from '../../processors/codec/envelope-json.ts';
import { loadDefaultRules } from '../../processors/core/rules/load.ts';
import type { Envelope } from '../../processors/core/envelope.ts';
import { apiConfig, type ApiConfig } from '../../processors/api/config.ts';
import type { EventPublisher } from '../../processors/api/routes/events.ts';
import { buildServer } from '../../processors/api/server.ts';
import { tables, type SqlReader } from '../../processors/api/warehouse.ts';
import { dealEnvelopes } from './fixtures.ts';

// Route validation, auth and intake without any service: the warehouse port records queries
// (validation must reject before one runs) and the publisher port records what it was given.
const KEY = 'unit-test-key-42';

class RecordingPublisher implements EventPublisher {
  batches: Envelope[][] = [];
  failWith?: Error;
  async publish(envelopes: readonly Envelope[]) {
    if (this.failWith) throw this.failWith;
    this.batches.push([...envelopes]);
    const topics: Record<string, number> = {};
    for (const e of envelopes) topics[e.event_type] = (topics[e.event_type] ?? 0) + 1;
    return { topics };
  }
  async close() {}
}

let queries: string[];
let db: SqlReader;
let publisher: RecordingPublisher;
let app: FastifyInstance;

async function serve(config: Partial<ApiConfig> = {}) {
  app = await buildServer({
    config: apiConfig({}, { apiKeys: [KEY], bodyLimit: 64 * 1024, maxBatch: 50, ...config }),
    db,
    tables: tables('masterdeal'),
    validate: (v) => validateEnvelope(v),
    rules: loadDefaultRules(),
    publisher,
  });
}

beforeEach(async () => {
  queries = [];
  db = { rows: async (sql: string) => (queries.push(sql), []) as never };
  publisher = new RecordingPublisher();
  await serve();
});
afterEach(async () => app.close());

const deal = dealEnvelopes({ id: 'MD-UNIT-1', createdAt: Date.parse('2026-03-02T09:00:00Z'), depth: 3 });

describe('read routes reject bad parameters with a reason, before querying', () => {
  it.each([
    ['/deals?page=0', /querystring\.page: must be >= 1/],
    ['/deals?page_size=501', /querystring\.page_size: must be <= 500/],
    ['/deals?stage=nowhere', /querystring\.stage: must be one of draft, briefed/],
    ['/deals?breached=maybe', /querystring\.breached: must be boolean/],
    ['/deals?stag=draft', /unknown parameter 'stag'/],
    ['/deals/bad%20id', /params\.id: must match pattern/],
    ['/deals/MD-1?as_of=yesterday', /querystring\.as_of: must match format "date-time"/],
    ['/dashboard/api/overview?budget_segment=huge', /budget_segment: must be one of small, medium, large/],
    ['/dashboard/api/trend?bucket=week', /bucket: must be one of auto, hour, day/],
  ])('GET %s -> 400', async (url, reason) => {
    const res = await app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'bad_request' });
    expect(res.json().message).toMatch(reason);
    expect(queries).toEqual([]);
  });

  it('an unknown deal is 404 with its id in the reason', async () => {
    const res = await app.inject({ method: 'GET', url: '/deals/MD-404' });
    expect(res.statusCode).toBe(404);
    expect(res.json().message).toContain('MD-404');
    expect(queries.length).toBeGreaterThan(0);
  });
});

describe('warehouse failures', () => {
  it('an unreachable warehouse is 503 with Retry-After, not 500', async () => {
    db.rows = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
    };
    const res = await app.inject({ method: 'GET', url: '/deals/MD-1' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json().message).toMatch(/ECONNREFUSED/);
  });
});

describe('OpenAPI', () => {
  it('publishes every route with its parameters and the key schemes', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/deals/{id}', '/deals/{id}/timeline', '/deals', '/pipeline/summary', '/events', '/dashboard/api/overview']),
    );
    const params = doc.paths['/deals'].get.parameters.map((p: { name: string }) => p.name);
    expect(params).toEqual(expect.arrayContaining(['stage', 'industry', 'client_type', 'breached', 'page', 'page_size']));
    expect(Object.keys(doc.components.securitySchemes)).toEqual(['apiKey', 'bearer']);
    expect((await app.inject({ method: 'GET', url: '/docs/' })).statusCode).toBe(200);
  });
});

describe('POST /events auth', () => {
  const post = (headers: Record<string, string>) => app.inject({ method: 'POST', url: '/events', headers, payload: deal[0] });

  it('without a key: 401 and nothing produced', async () => {
    const res = await post({});
    expect(res.statusCode).toBe(401);
    expect(res.json().message).toMatch(/missing API key/);
    expect(publisher.batches).toEqual([]);
  });
  it('with a wrong key: 401', async () => {
    expect((await post({ 'x-api-key': 'wrong-key-123' })).statusCode).toBe(401);
    expect((await post({ authorization: 'Bearer wrong-key-123' })).statusCode).toBe(401);
    expect(publisher.batches).toEqual([]);
  });
  it('X-API-Key and Authorization: Bearer are both accepted', async () => {
    expect((await post({ 'x-api-key': KEY })).statusCode).toBe(202);
    expect((await post({ authorization: `Bearer ${KEY}` })).statusCode).toBe(202);
    expect(publisher.batches).toHaveLength(2);
  });
  it('a server without configured keys refuses intake and says why', async () => {
    await app.close();
    await serve({ apiKeys: [] });
    const res = await post({ 'x-api-key': KEY });
    expect(res.statusCode).toBe(401);
    expect(res.json().message).toMatch(/MASTERDEAL_API_KEYS/);
  });
});

describe('POST /events intake', () => {
  const post = (payload: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/events', headers: { 'x-api-key': KEY, ...headers }, payload: payload as object });

  it('a valid batch is produced whole, normalised (epoch-ms event_ts), and acknowledged with 202', async () => {
    const res = await post(deal);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ accepted: deal.length, event_ids: deal.map((e) => e.event_id) });
    expect(publisher.batches).toHaveLength(1);
    expect(publisher.batches[0].map((e) => e.event_id)).toEqual(deal.map((e) => e.event_id));
    expect(publisher.batches[0][0].event_ts).toBe(Date.parse(deal[0].event_ts));
  });

  it('one invalid item rejects the whole batch with 422 and a reason per bad item', async () => {
    const bad = [
      deal[0],
      { ...deal[1], event_type: 'crm.lead.teleported' },
      { ...deal[2], payload: {} },
      { ...deal[3], event_ts: 'tuesday' },
    ];
    const res = await post(bad);
    expect(res.statusCode).toBe(422);
    const body = res.json();
    expect(body.message).toBe('3 of 4 envelopes are invalid; nothing was accepted');
    expect(body.errors.map((e: { index: number }) => e.index)).toEqual([1, 2, 3]);
    expect(body.errors[0]).toMatchObject({ event_id: deal[1].event_id, reason: expect.stringMatching(/unknown event type/) });
    expect(body.errors[1].reason).toMatch(/payload\.brief_id|payload\.icp_score|missing required field/);
    expect(body.errors[2].reason).toMatch(/event_ts/);
    expect(publisher.batches).toEqual([]);
  });

  it('an empty batch is 400; a non-JSON body is 400', async () => {
    expect((await post([])).statusCode).toBe(400);
    const res = await app.inject({ method: 'POST', url: '/events', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, payload: '{"event_id": ' });
    expect(res.statusCode).toBe(400);
    expect(publisher.batches).toEqual([]);
  });

  it('too large a body or too many envelopes is 413', async () => {
    const big = { ...deal[0], payload: { ...deal[0].payload, client_name: 'x'.repeat(70 * 1024) } };
    const res = await post(big);
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toBe('payload_too_large');
    const many = Array.from({ length: 51 }, (_, i) => ({ ...deal[0], event_id: `e-${i}` }));
    const res2 = await post(many);
    expect(res2.statusCode).toBe(413);
    expect(res2.json().message).toMatch(/limit of 50/);
    expect(publisher.batches).toEqual([]);
  });

  it('a broker failure is 503 with Retry-After so the client retries the same batch', async () => {
    publisher.failWith = new Error('KafkaJSConnectionError: Connection error: connect ECONNREFUSED');
    const res = await post(deal);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json().message).toMatch(/retry the same batch/);
  });
});

describe('read auth', () => {
  it('open by default: reads need no key', async () => {
    expect((await app.inject({ method: 'GET', url: '/deals' })).statusCode).toBe(200);
  });
  it('required: reads and dashboard data need a key, the static page does not', async () => {
    await app.close();
    await serve({ readAuth: 'required' });
    for (const url of ['/deals', '/deals/MD-1', '/deals/MD-1/timeline', '/pipeline/summary', '/dashboard/api/overview', '/dashboard/api/filters']) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(401);
    }
    expect((await app.inject({ method: 'GET', url: '/deals', headers: { authorization: `Bearer ${KEY}` } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);
  });
});
