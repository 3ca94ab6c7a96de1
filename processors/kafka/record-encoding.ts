import { createRequire } from 'node:module';
import { log } from '../shared/log.ts';
import { sizeOfZigZag, writeZigZag } from '../codec/varint.ts';

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
  apiKeys: 'kafkajs/src/protocol/requests/apiKeys.js',
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

/** Strings become their UTF-8 bytes (as kafkajs writes them), null/undefined stay null. */
function bytesOf(v: unknown): Buffer | null {
  if (v === null || v === undefined) return null;
  return Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
}

const sizeOfBytes = (b: Buffer | null) => (b === null ? 1 : sizeOfZigZag(b.length) + b.length);

function writeBytes(buf: Buffer, at: number, b: Buffer | null): number {
  if (b === null) return writeZigZag(buf, at, -1);
  at = writeZigZag(buf, at, b.length);
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
  let body = 1 + sizeOfZigZag(timestampDelta) + sizeOfZigZag(offsetDelta) + sizeOfBytes(k) + sizeOfBytes(v) + sizeOfZigZag(hs.length / 2);
  for (const h of hs) body += sizeOfBytes(h);
  const buf = Buffer.allocUnsafe(sizeOfZigZag(body) + body);
  let at = writeZigZag(buf, 0, body);
  buf[at++] = 0; // attributes: none used
  at = writeZigZag(buf, at, timestampDelta);
  at = writeZigZag(buf, at, offsetDelta);
  at = writeBytes(buf, at, k);
  at = writeBytes(buf, at, v);
  at = writeZigZag(buf, at, hs.length / 2);
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


// ---------------------------------------------------------------- the produce request, in one pass

interface ProduceMessage extends RecordInput {
  timestamp?: number | string | null;
}
interface ProducePartition {
  partition: number;
  firstSequence?: number;
  messages: ProduceMessage[];
}
export interface ProduceRequestArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: { topic: string; partitions: ProducePartition[] }[];
}
interface KafkajsRequest {
  apiKey: number;
  apiVersion: number;
  apiName: string;
  expectResponse(): boolean;
  encode(): Promise<KafkajsEncoder>;
}
type ProduceRequestFn = (args: ProduceRequestArgs) => KafkajsRequest;

const { Produce: PRODUCE_API_KEY } = require(PATHS.apiKeys) as { Produce: number };
/** firstOffset .. records count: the fixed part of a record batch before its records. */
const BATCH_HEAD = 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;

type Value = Buffer | string | null | undefined;
const byteLengthOf = (v: Value) => (v === null || v === undefined ? -1 : typeof v === 'string' ? Buffer.byteLength(v) : v.length);
const sizeOfValue = (n: number) => (n < 0 ? 1 : sizeOfZigZag(n) + n);

function writeValue(buf: Buffer, at: number, v: Value, n: number): number {
  at = writeZigZag(buf, at, n);
  if (n <= 0) return at;
  if (typeof v === 'string') buf.write(v, at, n, 'utf8');
  else (v as Buffer).copy(buf, at);
  return at + n;
}

function int64Bytes(v: unknown): Buffer {
  return new Encoder(8).writeInt64(v).buf.subarray(0, 8);
}

/**
 * kafkajs' Produce v3 request (v4–v7 reuse it) for uncompressed messages without their own
 * timestamps: the body is sized first and every record written straight into one buffer. kafkajs
 * spreads each message into a new object, encodes each record into its own buffer, copies it
 * into the batch, the batch into a partition encoder, that into a topic encoder and that into the
 * body, each growing by zero-filled doubling. Other requests go to `fallback`.
 */
export function produceRequestEncoder(fallback: ProduceRequestFn): ProduceRequestFn {
  return (args) => {
    const { compression = 0, topicData } = args;
    if ((compression & COMPRESSION_CODEC_MASK) !== 0) return fallback(args);
    for (const t of topicData) for (const p of t.partitions) for (const m of p.messages) if (m.timestamp != null) return fallback(args);
    const { acks, timeout, transactionalId = null, producerId = Long.fromInt(-1), producerEpoch = 0 } = args;
    return {
      apiKey: PRODUCE_API_KEY,
      apiVersion: 3,
      apiName: 'Produce',
      expectResponse: () => acks !== 0,
      encode: async () => encoderOver(encodeProduceBody(acks, timeout, transactionalId, producerId, producerEpoch, topicData)),
    };
  };
}

function encodeProduceBody(
  acks: number,
  timeout: number,
  transactionalId: string | null,
  producerId: unknown,
  producerEpoch: number,
  topicData: ProduceRequestArgs['topicData'],
): Buffer {
  // Pass 1: sizes (per record: key, value, header lengths and the record's body size, in order).
  const lens: number[] = [];
  const txLen = transactionalId === null ? -1 : Buffer.byteLength(transactionalId);
  let total = 2 + Math.max(0, txLen) + 2 + 4 + 4;
  for (const t of topicData) {
    total += 2 + Buffer.byteLength(t.topic) + 4;
    for (const p of t.partitions) {
      let batch = BATCH_HEAD;
      for (let i = 0; i < p.messages.length; i++) {
        const m = p.messages[i]!;
        const k = byteLengthOf(m.key);
        const v = byteLengthOf(m.value);
        lens.push(k, v);
        let body = 1 + 1 + sizeOfZigZag(i) + sizeOfValue(k) + sizeOfValue(v);
        let count = 0;
        const headers = m.headers;
        if (headers) {
          for (const name in headers) {
            const hv = headers[name];
            const nameLen = Buffer.byteLength(name);
            for (const one of Array.isArray(hv) ? hv : [hv]) {
              const l = byteLengthOf(one);
              lens.push(l);
              body += sizeOfValue(nameLen) + sizeOfValue(l);
              count++;
            }
          }
        }
        body += sizeOfZigZag(count);
        lens.push(body);
        batch += sizeOfZigZag(body) + body;
      }
      total += 4 + 4 + batch;
    }
  }
  // Pass 2: write.
  const buf = Buffer.allocUnsafe(total);
  let at = buf.writeInt16BE(txLen, 0);
  if (transactionalId !== null) at += buf.write(transactionalId, at, txLen, 'utf8');
  at = buf.writeInt16BE(acks, at);
  at = buf.writeInt32BE(timeout, at);
  at = buf.writeInt32BE(topicData.length, at);
  const pid = int64Bytes(producerId);
  const now = int64Bytes(Date.now());
  let li = 0;
  for (const t of topicData) {
    at = buf.writeInt16BE(Buffer.byteLength(t.topic), at);
    at += buf.write(t.topic, at, 'utf8');
    at = buf.writeInt32BE(t.partitions.length, at);
    for (const p of t.partitions) {
      at = buf.writeInt32BE(p.partition, at);
      const sizeAt = at;
      at += 4;
      const batchStart = at;
      buf.fill(0, at, at + 8); // firstOffset 0
      at += 8 + 4; // batch length below
      at = buf.writeInt32BE(0, at); // partitionLeaderEpoch
      at = buf.writeInt8(MAGIC_BYTE, at);
      const crcAt = at;
      at += 4;
      const bodyStart = at;
      at = buf.writeInt16BE(transactionalId ? TRANSACTIONAL_MASK : 0, at);
      at = buf.writeInt32BE(p.messages.length - 1, at);
      at += now.copy(buf, at); // firstTimestamp
      at += now.copy(buf, at); // maxTimestamp
      at += pid.copy(buf, at);
      at = buf.writeInt16BE(producerEpoch, at);
      at = buf.writeInt32BE(p.firstSequence ?? 0, at);
      at = buf.writeInt32BE(p.messages.length, at);
      for (let i = 0; i < p.messages.length; i++) {
        const m = p.messages[i]!;
        const k = lens[li++]!;
        const v = lens[li++]!;
        // Header lengths sit between the value's and the body size: read them as we write.
        const headers = m.headers;
        let hi = li;
        if (headers) for (const name in headers) { const hv = headers[name]; li += Array.isArray(hv) ? hv.length : 1; }
        const body = lens[li++]!;
        at = writeZigZag(buf, at, body);
        buf[at++] = 0; // attributes
        buf[at++] = 0; // timestampDelta: no message carries a timestamp
        at = writeZigZag(buf, at, i); // offsetDelta
        at = writeValue(buf, at, m.key, k);
        at = writeValue(buf, at, m.value, v);
        let count = 0;
        if (headers) for (const name in headers) { const hv = headers[name]; count += Array.isArray(hv) ? hv.length : 1; }
        at = writeZigZag(buf, at, count);
        if (headers) {
          for (const name in headers) {
            const hv = headers[name];
            for (const one of Array.isArray(hv) ? hv : [hv]) {
              at = writeValue(buf, at, name, Buffer.byteLength(name));
              at = writeValue(buf, at, one, lens[hi++]!);
            }
          }
        }
      }
      buf.writeInt32BE(at - batchStart - 12, batchStart + 8);
      buf.writeUInt32BE(crc32C(buf.subarray(bodyStart, at)), crcAt);
      buf.writeInt32BE(at - batchStart, sizeAt);
    }
  }
  if (at !== total) throw new Error(`produce request encoding: wrote ${at} bytes of ${total}`);
  return buf;
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
  // The request module itself: its record/batch imports now bind ours, for its fallback path.
  const original = require(requestPath) as ProduceRequestFn;
  require.cache[requestPath]!.exports = produceRequestEncoder(original);
  return (installed = true);
}
