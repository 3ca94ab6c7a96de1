import { endpointError } from './errors.ts';
import { insertDataOffset, quoteString, statementKind } from './sql.ts';

/**
 * The parts of a ClickHouse HTTP request (URL parameters and headers) that the
 * endpoint acts on, separated from engine settings. Pure: no I/O.
 */
export interface HttpQueryRequest {
  method: string;
  /** `query` URL parameter ('' if absent). */
  queryParam: string;
  database?: string;
  queryId?: string;
  sessionId?: string;
  /** Seconds of idleness after which the session's state is dropped. */
  sessionTimeoutSec: number;
  /** Fail if the session does not exist yet (`session_check=1`). */
  sessionCheck: boolean;
  /** `default_format`, the output format when the query names none. */
  defaultFormat?: string;
  /** Engine settings from the URL, as SQL literals to replay with `SET name = <literal>`. */
  settings: Map<string, string>;
  /** `param_x` query parameters (raw text values). */
  params: Map<string, string>;
  /** 0, 1 or 2 as in ClickHouse; GET implies 2. */
  readonly: number;
  user: string;
  password: string;
  /** Compress the response (needs `enable_http_compression=1` and a supported Accept-Encoding). */
  responseEncoding?: 'gzip' | 'deflate' | 'br';
  /** Content-Encoding of the request body, if any (lz4: clickhouse-connect's default for inserts). */
  requestEncoding?: 'gzip' | 'deflate' | 'br' | 'lz4';
  corsHeader: boolean;
}

/** URL parameters that belong to the HTTP protocol, never sent to the engine as settings. */
const PROTOCOL_PARAMS = new Set([
  'query', 'database', 'default_format', 'query_id', 'session_id', 'session_timeout', 'session_check',
  'user', 'password', 'quota_key', 'buffer_size', 'wait_end_of_query', 'client_protocol_version',
  'stacktrace', 'role', 'default_session_timeout', 'compress', 'decompress', 'readonly',
  'enable_http_compression', 'http_zlib_compression_level', 'add_http_cors_header',
  'http_native_compression_disable_checksumming_on_decompress', 'send_progress_in_http_headers',
  'http_headers_progress_interval_ms', 'cancel_http_readonly_queries_on_client_close',
  'http_wait_end_of_query', 'http_response_buffer_size', 'output_format_enable_streaming',
]);

const MAX_SESSION_TIMEOUT_SEC = 3600;

export function parseHttpRequest(
  method: string,
  rawUrl: string,
  headers: Record<string, string | string[] | undefined>,
): HttpQueryRequest {
  const url = new URL(rawUrl, 'http://localhost');
  const q = url.searchParams;
  const header = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };

  const settings = new Map<string, string>();
  const params = new Map<string, string>();
  for (const [name, value] of q) {
    if (name.startsWith('param_')) params.set(name.slice('param_'.length), value);
    else if (!PROTOCOL_PARAMS.has(name)) settings.set(name, quoteString(value));
  }

  const timeoutText = q.get('session_timeout');
  const sessionTimeoutSec = timeoutText === null ? 60 : Number(timeoutText);
  if (!Number.isFinite(sessionTimeoutSec) || sessionTimeoutSec < 0 || sessionTimeoutSec > MAX_SESSION_TIMEOUT_SEC) {
    throw endpointError('INVALID_SESSION_TIMEOUT', `Invalid session timeout: '${timeoutText}'`);
  }
  if (q.get('compress') === '1' || q.get('decompress') === '1') {
    throw endpointError('NOT_IMPLEMENTED', 'ClickHouse-native compression (compress=1/decompress=1) is not supported by this endpoint; use HTTP Content-Encoding gzip, deflate or br');
  }

  const { user, password } = credentials(q, header);
  const urlReadonly = Number(q.get('readonly') ?? '0') || 0;
  const readonly = method === 'GET' || method === 'HEAD' ? (urlReadonly === 1 ? 1 : 2) : urlReadonly;

  return {
    method,
    queryParam: q.get('query') ?? '',
    database: q.get('database') || header('x-clickhouse-database') || undefined,
    queryId: q.get('query_id') || undefined,
    sessionId: q.get('session_id') || undefined,
    sessionTimeoutSec,
    sessionCheck: q.get('session_check') === '1',
    defaultFormat: q.get('default_format') || header('x-clickhouse-format') || undefined,
    settings,
    params,
    readonly,
    user,
    password,
    responseEncoding: q.get('enable_http_compression') === '1' ? pickEncoding(header('accept-encoding')) : undefined,
    requestEncoding: requestEncoding(header('content-encoding')),
    corsHeader: q.get('add_http_cors_header') === '1',
  };
}

function credentials(q: URLSearchParams, header: (n: string) => string | undefined): { user: string; password: string } {
  const headerUser = header('x-clickhouse-user');
  if (headerUser !== undefined) return { user: headerUser, password: header('x-clickhouse-key') ?? '' };
  const auth = header('authorization');
  if (auth?.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon < 0 ? { user: decoded, password: '' } : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return { user: q.get('user') ?? 'default', password: q.get('password') ?? '' };
}

/** First encoding from Accept-Encoding we can produce (q-values ignored, as ClickHouse does). */
export function pickEncoding(accept: string | undefined): HttpQueryRequest['responseEncoding'] {
  if (!accept) return undefined;
  const offered = accept.split(',').map((s) => s.split(';')[0].trim().toLowerCase());
  for (const e of offered) {
    if (e === 'gzip' || e === 'x-gzip') return 'gzip';
    if (e === 'deflate') return 'deflate';
    if (e === 'br') return 'br';
  }
  return undefined;
}

function requestEncoding(value: string | undefined): HttpQueryRequest['requestEncoding'] {
  const v = value?.trim().toLowerCase();
  if (!v || v === 'identity') return undefined;
  if (v === 'gzip' || v === 'x-gzip') return 'gzip';
  if (v === 'deflate') return 'deflate';
  if (v === 'br') return 'br';
  if (v === 'lz4') return 'lz4';
  throw endpointError('UNKNOWN_COMPRESSION_METHOD', `Unsupported Content-Encoding '${value}': this endpoint accepts gzip, deflate, br and lz4`);
}

/** An INSERT prefix longer than this is implausible; the scan never reads further into the data. */
const PREFIX_SCAN_BYTES = 64 * 1024;

/**
 * ClickHouse's rule: the `query` URL parameter, then the body. An INSERT's data
 * (the body, or what follows `FORMAT x` in it) is kept as bytes so binary
 * formats (Native, RowBinary) pass through untouched.
 */
export function statementOf(queryParam: string, body: Buffer): { sql: string; insertData?: Buffer } {
  if (queryParam && body.length > 0) {
    if (statementKind(queryParam) === 'INSERT') return { sql: queryParam, insertData: body };
    return { sql: `${queryParam}\n${body.toString('utf8')}` };
  }
  if (queryParam) return { sql: queryParam };
  const head = body.subarray(0, PREFIX_SCAN_BYTES).toString('latin1');
  const offset = insertDataOffset(head);
  if (offset !== undefined && offset < body.length) {
    return { sql: body.subarray(0, offset).toString('utf8').trimEnd(), insertData: body.subarray(offset) };
  }
  return { sql: body.toString('utf8') };
}
