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
  return true;
}

/** Whether the linear grouping and the one-copy request framing are in use (kafkajs loaded after this module). */
export const groupingPatched = install();
