/**
 * Every failure the codec reports. `retriable` tells the caller whether trying again can help
 * (a registry that is down) or the record is poison and belongs in the dead-letter topic.
 */
export const CODEC_ERROR_CODES = [
  'WIRE_TOO_SHORT',
  'WIRE_BAD_MAGIC',
  'SCHEMA_LOAD_FAILED',
  'SCHEMA_UNKNOWN_ID',
  'SCHEMA_LOOKUP_FAILED',
  'SCHEMA_UNKNOWN_TYPE',
  'AVRO_DECODE_FAILED',
  'AVRO_ENCODE_FAILED',
  'ENVELOPE_INVALID',
  'CANONICAL_INVALID',
] as const;

export type CodecErrorCode = (typeof CODEC_ERROR_CODES)[number];

const RETRIABLE: ReadonlySet<CodecErrorCode> = new Set(['SCHEMA_LOOKUP_FAILED']);

export class CodecError extends Error {
  override readonly name = 'CodecError';
  readonly code: CodecErrorCode;
  readonly retriable: boolean;

  constructor(code: CodecErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = RETRIABLE.has(code);
  }
}

export function isCodecError(err: unknown, code?: CodecErrorCode): err is CodecError {
  return err instanceof CodecError && (code === undefined || err.code === code);
}
