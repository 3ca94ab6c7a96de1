import { createRequire } from 'node:module';

/**
 * Patches of kafkajs modules that must be in place before kafkajs itself loads.
 *
 * kafkajs groups a send's messages by partition with `[...current, message]` per message
 * (producer/groupMessagesPerPartition.js): quadratic in the messages one partition gets in one
 * request. The processor sends thousands per partition per transaction (outputs, changelog), so
 * this was copying millions of array slots per transaction. Here the same grouping (same
 * partitioner calls, same order, same result shape) in one pass.
 *
 * kafkajs' sendMessages binds the module when kafkajs itself loads, so this must run before
 * anything imports 'kafkajs': kafkajs.ts and assignor.ts import this module first. If kafkajs was
 * loaded already, nothing changes (kafkajs' own grouping stays; `groupingPatched` is false).
 */
const require = createRequire(import.meta.url);

interface GroupArgs {
  topic: string;
  partitionMetadata: unknown[];
  messages: unknown[];
  partitioner: (args: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;
}

export function groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner }: GroupArgs): Record<number, unknown[]> {
  const out: Record<number, unknown[]> = {};
  if (partitionMetadata.length === 0) return out;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    const list = out[partition];
    if (list) list.push(message);
    else out[partition] = [message];
  }
  return out;
}

interface FramedEncoder {
  buf: Buffer;
  offset: number;
}
type Encoder = { new (size?: number): FramedEncoder; prototype: FramedEncoder };
interface RequestArgs {
  correlationId: number;
  clientId: string | null;
  request: { apiKey: number; apiVersion: number; encode(): Promise<FramedEncoder> };
}

/**
 * kafkajs frames every request (protocol/request.js) by copying the encoded body into a new
 * Encoder after the header and that into another after the size, each growing by zero-filled
 * doubling: for a transaction's produce request of megabytes, two zeroed buffers of the next
 * power of two and two copies. Here: one buffer of the exact size, one copy. Same bytes.
 */
export function frameRequest(EncoderClass: Encoder) {
  return async ({ correlationId, clientId, request: { apiKey, apiVersion, encode } }: RequestArgs): Promise<FramedEncoder> => {
    const payload = await encode();
    const clientLen = clientId == null ? -1 : Buffer.byteLength(clientId);
    const size = 2 + 2 + 4 + 2 + Math.max(0, clientLen) + payload.offset;
    const buf = Buffer.allocUnsafe(4 + size);
    let at = buf.writeInt32BE(size, 0);
    at = buf.writeInt16BE(apiKey, at);
    at = buf.writeInt16BE(apiVersion, at);
    at = buf.writeInt32BE(correlationId, at);
    at = buf.writeInt16BE(clientLen, at);
    if (clientId != null) at += buf.write(clientId, at, clientLen, 'utf8');
    payload.buf.copy(buf, at, 0, payload.offset);
    const framed = Object.create(EncoderClass.prototype) as FramedEncoder;
    framed.buf = buf;
    framed.offset = buf.length;
    return framed;
  };
}


// ---------------------------------------------------------------- consumed records

interface RecordDecoderState {
  buffer: Buffer;
  offset: number;
}
interface BatchContext {
  firstOffset: string;
  firstTimestamp: string;
  magicByte?: number;
  isControlBatch?: boolean;
  timestampType?: number;
  maxTimestamp?: string;
}
type HeaderValue = Buffer | null;
type RecordDecoderFn = (decoder: RecordDecoderState, batchContext?: BatchContext) => unknown;
const LOG_APPEND_TIME = 1;

/** kafkajs' Decoder#readVarInt, on a position (same 32-bit arithmetic, same results for any bytes). */
function readVarInt(buf: Buffer, at: { i: number }): number {
  let result = 0;
  let shift = 0;
  let byte: number;
  do {
    byte = buf[at.i++]!;
    result += (byte & 0x7f) << shift;
    shift += 7;
  } while (byte >= 0x80);
  return (result >>> 1) ^ -(result & 1);
}

/**
 * kafkajs' record decoder (recordBatch/record/v0/decoder.js) computes every record's offset and
 * timestamp with 64-bit BigInt arithmetic (its timestamp delta a BigInt per varint byte), and
 * builds the headers by spreading the object once per header. Here the same record object, with
 * plain numbers while the values are safe integers (always, for offsets and epoch-ms times);
 * anything else (a delta of more than 7 bytes, offsets beyond 2^53) goes to kafkajs' decoder.
 */
export function recordDecoder(fallback: RecordDecoderFn): RecordDecoderFn {
  return (decoder, batchContext = {} as BatchContext) => {
    const { firstOffset, firstTimestamp, magicByte, isControlBatch = false, timestampType, maxTimestamp } = batchContext;
    const buf = decoder.buffer;
    const at = { i: decoder.offset };
    const attributes = buf.readInt8(at.i++);
    // Timestamp delta: a zig-zag varlong; up to 7 bytes (49 bits) is exact as a number.
    let zz = 0;
    let scale = 1;
    let byte: number;
    let bytes = 0;
    do {
      byte = buf[at.i++]!;
      zz += (byte & 0x7f) * scale;
      scale *= 128;
      bytes++;
    } while (byte >= 0x80 && bytes < 7);
    if (byte >= 0x80) return fallback(decoder, batchContext);
    const timestampDelta = zz % 2 === 1 ? -(zz + 1) / 2 : zz / 2;
    let timestamp: string | undefined;
    if (timestampType === LOG_APPEND_TIME && maxTimestamp) timestamp = maxTimestamp;
    else {
      const t = Number(firstTimestamp) + timestampDelta;
      if (!Number.isSafeInteger(t) || !Number.isSafeInteger(Number(firstTimestamp))) return fallback(decoder, batchContext);
      timestamp = String(t);
    }
    const offsetDelta = readVarInt(buf, at);
    const o = Number(firstOffset) + offsetDelta;
    if (!Number.isSafeInteger(o) || !Number.isSafeInteger(Number(firstOffset))) return fallback(decoder, batchContext);
    const offset = String(o);
    const key = readBytes(buf, at);
    const value = readBytes(buf, at);
    const headers: Record<string, HeaderValue | HeaderValue[]> = {};
    const count = readVarInt(buf, at);
    for (let h = 0; h < count; h++) {
      const len = readVarInt(buf, at);
      // A null header key is the string "null" as an object key, as in kafkajs.
      const name = len === -1 ? 'null' : buf.toString('utf8', at.i, (at.i += len));
      const v = readBytes(buf, at);
      // Looked up like kafkajs does (inherited names included), so even odd header names decode alike.
      const known = (headers as Record<string, unknown>)[name] as HeaderValue | HeaderValue[] | undefined;
      const next = known === undefined ? v : Array.isArray(known) ? known.concat([v]) : [known, v];
      // An own property even for "__proto__" (kafkajs builds the object with a spread); plain assignment otherwise (fast).
      if (name === '__proto__') Object.defineProperty(headers, name, { value: next, writable: true, enumerable: true, configurable: true });
      else headers[name] = next;
    }
    decoder.offset = at.i;
    return { magicByte, attributes, timestamp, offset, key, value, headers, isControlRecord: isControlBatch, batchContext };
  };
}

function readBytes(buf: Buffer, at: { i: number }): Buffer | null {
  const len = readVarInt(buf, at);
  if (len === -1) return null;
  const out = buf.slice(at.i, at.i + len);
  at.i += len;
  return out;
}

function swap(modulePath: string, replace: (original: never) => unknown): void {
  const path = require.resolve(modulePath);
  const original = require(path) as never;
  require.cache[path]!.exports = replace(original);
}

function install(): boolean {
  const sendMessagesPath = require.resolve('kafkajs/src/producer/sendMessages.js');
  const connectionPath = require.resolve('kafkajs/src/network/connection.js');
  if (require.cache[sendMessagesPath] || require.cache[connectionPath]) return false;
  swap('kafkajs/src/producer/groupMessagesPerPartition.js', () => groupMessagesPerPartition);
  swap('kafkajs/src/protocol/request.js', () => frameRequest(require('kafkajs/src/protocol/encoder.js') as Encoder));
  swap('kafkajs/src/protocol/recordBatch/record/v0/decoder.js', (original: RecordDecoderFn) => recordDecoder(original));
  return true;
}

/** Whether the linear grouping, the one-copy request framing and the number-based record decoder are in use (kafkajs loaded after this module). */
export const groupingPatched = install();
