import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { log } from '../../shared/log.ts';
import { ChdbEngine, type EngineResult } from './engine.ts';
import { ClickHouseError, endpointError, fromEngineError } from './errors.ts';
import { decodeLz4Frames } from './lz4.ts';
import { parseHttpRequest, statementOf, type HttpQueryRequest } from './request.ts';
import { allowedInReadonly, explicitFormat, statementKind } from './sql.ts';

/**
 * A ClickHouse-compatible HTTP endpoint (the subset @clickhouse/client,
 * clickhouse-connect/dbt-clickhouse and curl use) over one embedded chDB engine.
 */

export interface EndpointOptions {
  host: string;
  port: number;
  dataDir: string;
  /** Largest accepted request body, compressed or not (bytes). */
  maxBodyBytes: number;
  user: string;
  password: string;
  /** Created as Atomic databases at start. */
  databases: readonly string[];
  displayName?: string;
}

export interface RunningEndpoint {
  url: string;
  port: number;
  engine: ChdbEngine;
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024 * 1024;

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const brotliDecompress = promisify(zlib.brotliDecompress);
const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);
const brotliCompress = promisify(zlib.brotliCompress);

export async function startEndpoint(options: EndpointOptions): Promise<RunningEndpoint> {
  const engine = await ChdbEngine.open({ dataDir: options.dataDir, databases: options.databases });
  const displayName = options.displayName ?? hostname();
  const server = createServer((req, res) => {
    handle(req, res, engine, options, displayName).catch((e: unknown) => {
      log.error({ err: e }, 'clickhouse endpoint: unhandled request failure');
      if (!res.headersSent) sendError(res, fromEngineError(e), randomUUID(), displayName, engine.timezone);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 10_000;
  await listen(server, options.port, options.host);
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    port,
    engine,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await engine.close();
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  engine: ChdbEngine,
  options: EndpointOptions,
  displayName: string,
): Promise<void> {
  const method = req.method ?? 'GET';
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/ping' || path === '/replicas_status') return sendText(res, 200, 'Ok.\n', req);
  if (path !== '/') {
    return sendText(res, 404, `There is no handle ${path}\n\nUse / or /ping for health checks.\n`, req);
  }
  if (method === 'OPTIONS') {
    res.writeHead(204, corsHeaders()).end();
    return;
  }

  let request: HttpQueryRequest | undefined;
  const queryId = () => request?.queryId ?? generatedId;
  const generatedId = randomUUID();
  try {
    request = parseHttpRequest(method, req.url ?? '/', req.headers);
    authenticate(request, options);
    const body = await readBody(req, options.maxBodyBytes, request.requestEncoding);
    if (!request.queryParam && body.length === 0 && (method === 'GET' || method === 'HEAD')) {
      return sendText(res, 200, 'Ok.\n', req);
    }
    const { sql, insertData } = statementOf(request.queryParam, body);
    const kind = statementKind(sql);
    if (kind === 'EMPTY') throw endpointError('SYNTAX_ERROR', 'Empty query');
    if (request.readonly > 0 && !allowedInReadonly(sql, request.readonly)) {
      throw endpointError('READONLY', method === 'GET'
        ? 'Cannot execute query in readonly mode. For queries over HTTP, method GET implies readonly. You should use method POST for modifying queries'
        : 'Cannot execute query in readonly mode');
    }
    const format = (kind !== 'INSERT' ? explicitFormat(sql) : undefined) ?? request.defaultFormat ?? 'TabSeparated';
    const started = process.hrtime.bigint();
    const result = await engine.execute({
      sessionId: request.sessionId,
      sessionTimeoutSec: request.sessionTimeoutSec,
      sessionCheck: request.sessionCheck,
      database: request.database,
      settings: request.settings,
      params: request.params,
      sql,
      insertData,
      format: request.defaultFormat ?? 'TabSeparated',
    });
    const elapsedNs = Number(process.hrtime.bigint() - started);
    await sendResult(res, request, result, { queryId: queryId(), format, displayName, timezone: engine.timezone, elapsedNs });
  } catch (e) {
    const error = fromEngineError(e);
    log.info({ queryId: queryId(), code: error.code, status: error.httpStatus, error: error.detail.slice(0, 300) }, 'clickhouse endpoint: query failed');
    // A body we stopped reading must not be parsed as the next request on this connection.
    if (!req.complete) res.setHeader('Connection', 'close');
    sendError(res, error, queryId(), displayName, engine.timezone, request?.corsHeader);
  }
}

function authenticate(request: HttpQueryRequest, options: EndpointOptions): void {
  if (request.user !== options.user || request.password !== options.password) {
    throw endpointError('AUTHENTICATION_FAILED', `${request.user}: Authentication failed: password is incorrect, or there is no user with such name`);
  }
}

async function readBody(req: IncomingMessage, limit: number, encoding: HttpQueryRequest['requestEncoding']): Promise<Buffer> {
  const tooLarge = (size: string) =>
    endpointError('QUERY_IS_TOO_LARGE', `Request body ${size} exceeds the endpoint limit of ${limit} bytes (max_body_bytes); send smaller batches`);
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) {
    req.resume();
    throw tooLarge(`of ${declared} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw tooLarge(`of more than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks, size);
  if (!encoding || raw.length === 0) return raw;
  const opts = { maxOutputLength: limit };
  try {
    if (encoding === 'gzip') return await gunzip(raw, opts);
    if (encoding === 'deflate') return await inflate(raw, opts);
    if (encoding === 'lz4') return decodeLz4Frames(raw, limit);
    return await brotliDecompress(raw, opts);
  } catch (e) {
    if (e instanceof RangeError || (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge('after decompression');
    throw endpointError('CANNOT_DECOMPRESS', `Cannot decompress the ${encoding} request body: ${(e as Error).message}`);
  }
}

interface ResultMeta {
  queryId: string;
  format: string;
  displayName: string;
  timezone: string;
  elapsedNs: number;
}

async function sendResult(res: ServerResponse, request: HttpQueryRequest, result: EngineResult, meta: ResultMeta): Promise<void> {
  const summary = {
    read_rows: String(result.readRows),
    read_bytes: String(result.readBytes),
    written_rows: String(result.writtenRows),
    written_bytes: String(result.writtenBytes),
    total_rows_to_read: String(result.readRows),
    result_rows: String(result.writtenRows),
    result_bytes: String(result.writtenBytes),
    elapsed_ns: String(meta.elapsedNs),
  };
  let body = result.body;
  const headers: Record<string, string> = {
    ...commonHeaders(meta.queryId, meta.displayName, meta.timezone),
    'Content-Type': contentType(meta.format),
    'X-ClickHouse-Format': meta.format,
    'X-ClickHouse-Summary': JSON.stringify(summary),
    ...(request.corsHeader ? corsHeaders() : {}),
  };
  if (request.responseEncoding && body.length > 0) {
    body = request.responseEncoding === 'gzip' ? await gzip(body) : request.responseEncoding === 'deflate' ? await deflate(body) : await brotliCompress(body);
    headers['Content-Encoding'] = request.responseEncoding;
  }
  headers['Content-Length'] = String(body.length);
  res.writeHead(200, headers);
  res.end(request.method === 'HEAD' ? undefined : body);
}

function sendError(res: ServerResponse, error: ClickHouseError, queryId: string, displayName: string, timezone: string, cors = false): void {
  const body = Buffer.from(error.body, 'utf8');
  res.writeHead(error.httpStatus, {
    ...commonHeaders(queryId, displayName, timezone),
    'Content-Type': 'text/plain; charset=UTF-8',
    'X-ClickHouse-Exception-Code': String(error.code),
    'Content-Length': String(body.length),
    ...(cors ? corsHeaders() : {}),
  });
  res.end(body);
}

function sendText(res: ServerResponse, status: number, text: string, req: IncomingMessage): void {
  req.resume();
  res.writeHead(status, { 'Content-Type': 'text/html; charset=UTF-8', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(req.method === 'HEAD' ? undefined : text);
}

function commonHeaders(queryId: string, displayName: string, timezone: string): Record<string, string> {
  return {
    'X-ClickHouse-Query-Id': queryId,
    'X-ClickHouse-Timezone': timezone,
    'X-ClickHouse-Server-Display-Name': displayName,
    'Keep-Alive': 'timeout=10',
  };
}

function corsHeaders(): Record<string, string> {
  return {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Headers': 'origin, x-requested-with, x-clickhouse-format, x-clickhouse-user, x-clickhouse-key, Authorization',
    'Access-Control-Allow-Methods': 'POST, GET, OPTIONS',
  };
}

function contentType(format: string): string {
  const f = format.toLowerCase();
  if (f.startsWith('json')) return 'application/json; charset=UTF-8';
  if (f.startsWith('tabseparated') || f.startsWith('tsv')) return 'text/tab-separated-values; charset=UTF-8';
  if (f.startsWith('csv')) return 'text/csv; charset=UTF-8; header=absent';
  if (f.startsWith('rowbinary') || f === 'native' || f === 'parquet' || f === 'arrow' || f === 'arrowstream' || f === 'orc' || f === 'avro') {
    return 'application/octet-stream';
  }
  return 'text/plain; charset=UTF-8';
}
