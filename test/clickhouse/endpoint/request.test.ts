import { describe, expect, it } from 'vitest';
import { ClickHouseError } from '../../../processors/clickhouse/endpoint/errors.ts';
import { parseHttpRequest, pickEncoding, statementOf } from '../../../processors/clickhouse/endpoint/request.ts';

describe('parseHttpRequest', () => {
  it('separates protocol parameters, engine settings and query parameters', () => {
    const r = parseHttpRequest(
      'POST',
      '/?query=SELECT+1&database=masterdeal&query_id=q1&session_id=s1&session_timeout=120&default_format=JSON'
        + "&max_threads=2&date_time_input_format=best_effort&param_name=it's&wait_end_of_query=1&client_protocol_version=54405",
      {},
    );
    expect(r.queryParam).toBe('SELECT 1');
    expect(r.database).toBe('masterdeal');
    expect(r.queryId).toBe('q1');
    expect(r.sessionId).toBe('s1');
    expect(r.sessionTimeoutSec).toBe(120);
    expect(r.defaultFormat).toBe('JSON');
    expect([...r.settings]).toEqual([['max_threads', "'2'"], ['date_time_input_format', "'best_effort'"]]);
    expect([...r.params]).toEqual([['name', "it's"]]);
    expect(r.readonly).toBe(0);
  });

  it('takes credentials from X-ClickHouse headers, then basic auth, then URL', () => {
    expect(parseHttpRequest('POST', '/', { 'x-clickhouse-user': 'u', 'x-clickhouse-key': 'k' })).toMatchObject({ user: 'u', password: 'k' });
    const basic = `Basic ${Buffer.from('bob:p:w').toString('base64')}`;
    expect(parseHttpRequest('POST', '/', { authorization: basic })).toMatchObject({ user: 'bob', password: 'p:w' });
    expect(parseHttpRequest('POST', '/?user=x&password=y', {})).toMatchObject({ user: 'x', password: 'y' });
    expect(parseHttpRequest('POST', '/', {})).toMatchObject({ user: 'default', password: '' });
  });

  it('makes GET readonly=2 and honours readonly=1 from the URL', () => {
    expect(parseHttpRequest('GET', '/?query=SELECT+1', {}).readonly).toBe(2);
    expect(parseHttpRequest('GET', '/?query=SELECT+1&readonly=1', {}).readonly).toBe(1);
    expect(parseHttpRequest('POST', '/?readonly=1', {}).readonly).toBe(1);
  });

  it('compresses responses only when enable_http_compression=1 and the client accepts a codec we have', () => {
    expect(parseHttpRequest('POST', '/?enable_http_compression=1', { 'accept-encoding': 'lz4, zstd, gzip' }).responseEncoding).toBe('gzip');
    expect(parseHttpRequest('POST', '/', { 'accept-encoding': 'gzip' }).responseEncoding).toBeUndefined();
    expect(pickEncoding('br;q=1.0, deflate')).toBe('br');
    expect(pickEncoding('lz4')).toBeUndefined();
  });

  it('rejects request codecs it cannot decode with a ClickHouse error', () => {
    const attempt = () => parseHttpRequest('POST', '/', { 'content-encoding': 'zstd' });
    expect(attempt).toThrow(ClickHouseError);
    expect(attempt).toThrow(/Code: 89\. DB::Exception: Unsupported Content-Encoding 'zstd'.*\(UNKNOWN_COMPRESSION_METHOD\)/);
    expect(parseHttpRequest('POST', '/', { 'content-encoding': 'lz4' }).requestEncoding).toBe('lz4');
  });

  it('rejects ClickHouse-native compression and bad session timeouts', () => {
    expect(() => parseHttpRequest('POST', '/?compress=1', {})).toThrow(/NOT_IMPLEMENTED/);
    expect(() => parseHttpRequest('POST', '/?session_timeout=abc', {})).toThrow(/INVALID_SESSION_TIMEOUT/);
  });
});

describe('statementOf', () => {
  it('keeps an INSERT body as bytes when the statement comes in the URL', () => {
    const body = Buffer.from([0x01, 0x00, 0xff, 0x0a]);
    const r = statementOf('INSERT INTO t FORMAT RowBinary', body);
    expect(r.sql).toBe('INSERT INTO t FORMAT RowBinary');
    expect(r.insertData?.equals(body)).toBe(true);
  });

  it('appends the body to a non-INSERT query parameter, as ClickHouse does', () => {
    expect(statementOf('SELECT', Buffer.from(' 1'))).toEqual({ sql: 'SELECT\n 1' });
  });

  it('splits INSERT … FORMAT x from its data when both come in the body', () => {
    const body = Buffer.concat([Buffer.from('INSERT INTO t FORMAT RowBinary\n'), Buffer.from([0x0a, 0xc3, 0x28])]);
    const r = statementOf('', body);
    expect(r.sql).toBe('INSERT INTO t FORMAT RowBinary');
    expect(r.insertData?.equals(Buffer.from([0x0a, 0xc3, 0x28]))).toBe(true);
  });

  it('runs a body-only query or INSERT … VALUES as text', () => {
    expect(statementOf('', Buffer.from('INSERT INTO t VALUES (1)'))).toEqual({ sql: 'INSERT INTO t VALUES (1)' });
    expect(statementOf('', Buffer.from('SELECT 1'))).toEqual({ sql: 'SELECT 1' });
  });
});
