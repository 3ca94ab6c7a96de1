import { describe, expect, it } from 'vitest';
import { endpointError, fromEngineError, httpStatusFor } from '../../../processors/clickhouse/endpoint/errors.ts';

describe('fromEngineError', () => {
  it('keeps code, text and name of a chDB message and maps the HTTP status like ClickHouse', () => {
    const e = fromEngineError(new Error("Code: 60. DB::Exception: Unknown table expression identifier 'nope' in scope SELECT * FROM nope. (UNKNOWN_TABLE)"));
    expect(e.code).toBe(60);
    expect(e.errorName).toBe('UNKNOWN_TABLE');
    expect(e.httpStatus).toBe(404);
    expect(e.body).toBe("Code: 60. DB::Exception: Unknown table expression identifier 'nope' in scope SELECT * FROM nope. (UNKNOWN_TABLE)\n");
  });

  it('unwraps the doubled message chDB gives for some insert errors', () => {
    const e = fromEngineError(new Error('Code: 108. DB::Exception: Code: 108. DB::Exception: No data to insert. (NO_DATA_TO_INSERT) (version 26.7.2.1). (NO_DATA_TO_INSERT)'));
    expect(e.message).toBe('Code: 108. DB::Exception: No data to insert. (NO_DATA_TO_INSERT)');
  });

  it('turns a message without a code into a LOGICAL_ERROR with status 500', () => {
    const e = fromEngineError(new Error('connection closed'));
    expect(e.errorName).toBe('LOGICAL_ERROR');
    expect(e.httpStatus).toBe(500);
  });
});

describe('httpStatusFor', () => {
  it('follows ClickHouse: syntax 400, unknown table 404, auth 403, too large 413, otherwise 500', () => {
    expect(httpStatusFor('SYNTAX_ERROR')).toBe(400);
    expect(httpStatusFor('UNKNOWN_DATABASE')).toBe(404);
    expect(httpStatusFor('AUTHENTICATION_FAILED')).toBe(403);
    expect(httpStatusFor('QUERY_IS_TOO_LARGE')).toBe(413);
    expect(httpStatusFor('READONLY')).toBe(500);
    expect(endpointError('QUERY_IS_TOO_LARGE', 'too big').message).toBe('Code: 229. DB::Exception: too big. (QUERY_IS_TOO_LARGE)');
  });
});
