/**
 * ClickHouse-shaped errors: `Code: N. DB::Exception: message. (NAME)` in the body,
 * the code in `X-ClickHouse-Exception-Code`, and the HTTP status ClickHouse's own
 * HTTP handler picks for that code (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp).
 */

/** The error codes the endpoint raises itself (numbers as in ClickHouse's ErrorCodes.cpp). */
export const ErrorCode = {
  BAD_ARGUMENTS: 36,
  NOT_IMPLEMENTED: 48,
  LOGICAL_ERROR: 49,
  SYNTAX_ERROR: 62,
  UNKNOWN_COMPRESSION_METHOD: 89,
  READONLY: 164,
  QUERY_IS_TOO_LARGE: 229,
  CANNOT_DECOMPRESS: 271,
  SESSION_NOT_FOUND: 372,
  INVALID_SESSION_TIMEOUT: 374,
  AUTHENTICATION_FAILED: 516,
} as const;
export type ErrorName = keyof typeof ErrorCode;

const BAD_REQUEST = new Set([
  'BAD_ARGUMENTS', 'CANNOT_COMPILE_REGEXP', 'CANNOT_PARSE_TEXT', 'CANNOT_PARSE_ESCAPE_SEQUENCE',
  'CANNOT_PARSE_QUOTED_STRING', 'CANNOT_PARSE_DATE', 'CANNOT_PARSE_DATETIME', 'CANNOT_PARSE_NUMBER',
  'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING', 'CANNOT_PARSE_IPV4', 'CANNOT_PARSE_IPV6',
  'CANNOT_PARSE_INPUT_ASSERTION_FAILED', 'CANNOT_PARSE_UUID', 'DUPLICATE_COLUMN', 'ILLEGAL_COLUMN',
  'UNKNOWN_ELEMENT_IN_AST', 'UNKNOWN_TYPE_OF_AST_NODE', 'THERE_IS_NO_COLUMN', 'TOO_DEEP_AST',
  'TOO_BIG_AST', 'UNEXPECTED_AST_STRUCTURE', 'SYNTAX_ERROR', 'INCORRECT_DATA', 'TYPE_MISMATCH',
  'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
]);
const NOT_FOUND = new Set([
  'UNKNOWN_TABLE', 'UNKNOWN_FUNCTION', 'UNKNOWN_IDENTIFIER', 'UNKNOWN_TYPE', 'UNKNOWN_STORAGE',
  'UNKNOWN_DATABASE', 'UNKNOWN_SETTING', 'UNKNOWN_DIRECTION_OF_SORTING', 'UNKNOWN_AGGREGATE_FUNCTION',
  'UNKNOWN_FORMAT', 'UNKNOWN_DATABASE_ENGINE', 'UNKNOWN_TYPE_OF_QUERY', 'UNKNOWN_ROLE',
]);
const FORBIDDEN = new Set(['UNKNOWN_USER', 'WRONG_PASSWORD', 'AUTHENTICATION_FAILED', 'SET_NON_GRANTED_ROLE', 'ACCESS_DENIED']);

export function httpStatusFor(name: string): number {
  if (name === 'REQUIRED_PASSWORD') return 401;
  if (FORBIDDEN.has(name)) return 403;
  if (BAD_REQUEST.has(name)) return 400;
  if (NOT_FOUND.has(name)) return 404;
  if (name === 'QUERY_IS_TOO_LARGE') return 413;
  if (name === 'NOT_IMPLEMENTED') return 501;
  if (name === 'SOCKET_TIMEOUT' || name === 'CANNOT_OPEN_FILE' || name === 'CANNOT_SCHEDULE_TASK') return 503;
  if (name === 'HTTP_LENGTH_REQUIRED') return 411;
  if (name === 'TIMEOUT_EXCEEDED') return 408;
  if (name === 'UNSUPPORTED_MEDIA_TYPE') return 415;
  return 500;
}

export class ClickHouseError extends Error {
  constructor(
    readonly code: number,
    readonly errorName: string,
    /** The message without the `Code: N. DB::Exception:` prefix and `(NAME)` suffix. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`Code: ${code}. DB::Exception: ${detail}. (${errorName})`, options);
    this.name = 'ClickHouseError';
  }

  get httpStatus(): number {
    return httpStatusFor(this.errorName);
  }

  /** The response body ClickHouse sends (one line, newline-terminated). */
  get body(): string {
    return `${this.message}\n`;
  }
}

export function endpointError(name: ErrorName, detail: string): ClickHouseError {
  return new ClickHouseError(ErrorCode[name], name, detail);
}

const ENGINE_MESSAGE = /Code:\s*(\d+)\.\s*DB::Exception:\s*([\s\S]*?)\.?\s*\(([A-Z0-9_]+)\)(?:\s*\(version [^)]*\))?\s*$/;

/** Wraps whatever the engine threw; chDB messages already carry code, text and name. */
export function fromEngineError(e: unknown): ClickHouseError {
  if (e instanceof ClickHouseError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const m = ENGINE_MESSAGE.exec(message.trim());
  if (m) {
    // chDB sometimes nests the whole message again inside the detail.
    const inner = ENGINE_MESSAGE.exec(m[2].trim());
    const detail = inner && inner[1] === m[1] ? inner[2] : m[2];
    return new ClickHouseError(Number(m[1]), m[3], detail.trim(), { cause: e });
  }
  const code = (e as { clickhouseCode?: number } | null)?.clickhouseCode;
  return new ClickHouseError(code ?? ErrorCode.LOGICAL_ERROR, code ? 'UNKNOWN_EXCEPTION' : 'LOGICAL_ERROR', message.trim(), { cause: e });
}
