import { createRequire } from 'node:module';
import { log } from '../shared/log.ts';

/**
 * A leaner record encoding for kafkajs' produce path, installed into kafkajs' own modules.
 *
 * Why: kafkajs (unmaintained, but the required client) encodes each record into its own
 * zero-filled 512-byte Encoder that grows by copying, copies every record again into the batch,
 * the batch twice more, and checksums it with a table-driven CRC32C in JavaScript. The processor
 * writes about two records per input event (changelog state of kilobytes, snapshot), so this was
 * about a quarter of its CPU. Here a record is sized first and written once; a batch is one
 * allocation holding its records, checksummed by a native CRC32C (@node-rs/crc32, prebuilt)
 * with kafkajs' JavaScript CRC as the fallback.
 *
 * How: kafkajs' produce request modules (`protocol/requests/produce/v3/request.js`, which v4–v7
 * reuse) are required lazily on the first produce and bind `recordBatch/record/v0` and
 * `recordBatch/v0` then. `installRecordEncoding()` loads those two modules and swaps their
 * exports in the require cache, so the request modules bind ours. The bytes are identical to
 * kafkajs' (test/kafka/record-encoding.test.ts compares them); compressed batches still go
 * through kafkajs' own encoder. If the request module was already loaded (too late to swap),
 * nothing changes and kafkajs' encoder is used.
 */

const require = createRequire(import.meta.url);

interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  buffer: Buffer;
  size(): number;
  writeInt16(v: number): KafkajsEncoder;
  writeInt32(v: number): KafkajsEncoder;
  writeInt64(v: unknown): KafkajsEncoder;
}
type EncoderClass = { new (initialSize?: number): KafkajsEncoder; prototype: KafkajsEncoder };
type HeaderValue = Buffer | string | null | undefined;
export interface RecordInput {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: Buffer | string | null;
  value?: Buffer | string | null;
  headers?: Record<string, HeaderValue | HeaderValue[]>;
}
type RecordFn = (r: RecordInput) => KafkajsEncoder;
interface RecordBatchArgs {
  compression?: number;
  firstOffset?: unknown;
  firstTimestamp?: number;
  maxTimestamp?: number;
  partitionLeaderEpoch?: number;
  lastOffsetDelta?: number;
  transactional?: boolean;
  producerId?: unknown;
  producerEpoch?: number;
  firstSequence?: number;
  records?: KafkajsEncoder[];
}
type RecordBatchFn = (args: RecordBatchArgs) => Promise<KafkajsEncoder>;

const PATHS = {
  encoder: 'kafkajs/src/protocol/encoder.js',
  long: 'kafkajs/src/utils/long.js',
  record: 'kafkajs/src/protocol/recordBatch/record/v0/index.js',
  recordBatch: 'kafkajs/src/protocol/recordBatch/v0/index.js',
  crc32C: 'kafkajs/src/protocol/recordBatch/crc32C/index.js',
  produceRequest: 'kafkajs/src/protocol/requests/produce/v3/request.js',
} as const;

const Encoder = require(PATHS.encoder) as EncoderClass;
const Long = require(PATHS.long) as { fromInt(v: number): unknown; fromValue(v: unknown): unknown };
const jsCrc32C = require(PATHS.crc32C) as (b: Buffer) => number;

/** CRC32C (Castagnoli), unsigned: native when its prebuilt binary loads, else kafkajs' own. */
export const crc32C: (b: Buffer) => number = (() => {
  try {
    const { crc32c } = require('@node-rs/crc32') as { crc32c(input: Buffer, initial?: number): number };
    if (crc32c(Buffer.from('123456789')) === 0xe3069283) return (b: Buffer) => crc32c(b) >>> 0;
  } catch {
    // no binary for this platform: the JavaScript table below does the same, slower
  }
  return jsCrc32C;
})();

const MAGIC_BYTE = 2;
const TRANSACTIONAL_MASK = 16;
const COMPRESSION_CODEC_MASK = 0x07;

/** An Encoder (kafkajs' own class, so every caller's checks pass) over an already written buffer. */
function encoderOver(buf: Buffer): KafkajsEncoder {
  const e = Object.create(Encoder.prototype) as KafkajsEncoder;
  e.buf = buf;
  e.offset = buf.length;
  return e;
}

/** LEB128 of the zig-zag form, for any safe integer (kafkajs: writeVarInt / writeVarLong). */
function sizeOfVarint(v: number): number {
  let zz = v >= 0 ? v * 2 : -v * 2 - 1;
  let n = 1;
  while (zz >= 128) {
    zz = Math.floor(zz / 128);
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, at: number, v: number): number {
  let zz = v >= 0 ? v * 2 : -v * 2 - 1;
  while (zz >= 128) {
    buf[at++] = (zz % 128) | 128;
    zz = Math.floor(zz / 128);
  }
  buf[at++] = zz;
  return at;
}

/** Strings become their UTF-8 bytes (as kafkajs writes them), null/undefined stay null. */
function bytesOf(v: unknown): Buffer | null {
  if (v === null || v === undefined) return null;
  return Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
}

const sizeOfBytes = (b: Buffer | null) => (b === null ? 1 : sizeOfVarint(b.length) + b.length);

function writeBytes(buf: Buffer, at: number, b: Buffer | null): number {
  if (b === null) return writeVarint(buf, at, -1);
  at = writeVarint(buf, at, b.length);
  b.copy(buf, at);
  return at + b.length;
}

/** kafkajs' Record v0, sized first and written once. */
export const encodeRecord: RecordFn = ({ offsetDelta = 0, timestampDelta = 0, key, value, headers }) => {
  const k = bytesOf(key);
  const v = bytesOf(value);
  // Header keys and values, alternating (an array value is one header per element, as kafkajs does).
  const hs: (Buffer | null)[] = [];
  if (headers) {
    for (const name of Object.keys(headers)) {
      const hv = headers[name];
      for (const one of Array.isArray(hv) ? hv : [hv]) hs.push(Buffer.from(name, 'utf8'), bytesOf(one));
    }
  }
  let body = 1 + sizeOfVarint(timestampDelta) + sizeOfVarint(offsetDelta) + sizeOfBytes(k) + sizeOfBytes(v) + sizeOfVarint(hs.length / 2);
  for (const h of hs) body += sizeOfBytes(h);
  const buf = Buffer.allocUnsafe(sizeOfVarint(body) + body);
  let at = writeVarint(buf, 0, body);
  buf[at++] = 0; // attributes: none used
  at = writeVarint(buf, at, timestampDelta);
  at = writeVarint(buf, at, offsetDelta);
  at = writeBytes(buf, at, k);
  at = writeBytes(buf, at, v);
  at = writeVarint(buf, at, hs.length / 2);
  for (const h of hs) at = writeBytes(buf, at, h);
  return encoderOver(buf);
};

/** kafkajs' RecordBatch v0 for uncompressed batches: one buffer, native CRC; compressed ones go to `fallback`. */
export function recordBatchEncoder(fallback: RecordBatchFn): RecordBatchFn {
  return async (args) => {
    const {
      compression = 0,
      firstOffset = Long.fromInt(0),
      firstTimestamp = Date.now(),
      maxTimestamp = Date.now(),
      partitionLeaderEpoch = 0,
      lastOffsetDelta = 0,
      transactional = false,
      producerId = Long.fromValue(-1),
      producerEpoch = 0,
      firstSequence = 0,
      records = [],
    } = args;
    if ((compression & COMPRESSION_CODEC_MASK) !== 0) return fallback(args);
    const head = new Encoder(64)
      .writeInt16(transactional ? TRANSACTIONAL_MASK : 0)
      .writeInt32(lastOffsetDelta)
      .writeInt64(firstTimestamp)
      .writeInt64(maxTimestamp)
      .writeInt64(producerId)
      .writeInt16(producerEpoch)
      .writeInt32(firstSequence)
      .writeInt32(records.length).buffer;
    let bodySize = head.length;
    for (const r of records) bodySize += r.offset;
    // firstOffset (8) + batch length (4) + partitionLeaderEpoch (4) + magic (1) + crc (4) + body
    const batchSize = 4 + 1 + 4 + bodySize;
    const buf = Buffer.allocUnsafe(8 + 4 + batchSize);
    new Encoder(8).writeInt64(firstOffset).buf.copy(buf, 0, 0, 8);
    buf.writeInt32BE(batchSize, 8);
    buf.writeInt32BE(partitionLeaderEpoch, 12);
    buf.writeInt8(MAGIC_BYTE, 16);
    const bodyStart = 21;
    let at = bodyStart + head.copy(buf, bodyStart);
    for (const r of records) at += r.buf.copy(buf, at, 0, r.offset);
    buf.writeUInt32BE(crc32C(buf.subarray(bodyStart, at)), 17);
    return encoderOver(buf);
  };
}

let installed: boolean | undefined;

/**
 * Swaps kafkajs' record and record-batch encoders for ours (idempotent). Returns whether ours are
 * in use: false when a produce request module was loaded before (kafkajs' encoder stays).
 */
export function installRecordEncoding(): boolean {
  if (installed !== undefined) return installed;
  const requestPath = require.resolve(PATHS.produceRequest);
  if (require.cache[requestPath]) {
    log.warn('kafkajs produce request already loaded: its own record encoding stays in use');
    return (installed = false);
  }
  const recordPath = require.resolve(PATHS.record);
  const batchPath = require.resolve(PATHS.recordBatch);
  const batchModule = require(batchPath) as { RecordBatch: RecordBatchFn; MAGIC_BYTE: number };
  require(recordPath);
  require.cache[recordPath]!.exports = encodeRecord;
  require.cache[batchPath]!.exports = { ...batchModule, RecordBatch: recordBatchEncoder(batchModule.RecordBatch) };
  return (installed = true);
}
