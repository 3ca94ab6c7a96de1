import type avro from 'avsc';
import type { Kafka } from 'kafkajs';
import {
  decodeCanonicalValue,
  decodeCanonicalValueFramed,
  decodeEnvelope,
  decodeEnvelopeFramed,
  encodeCanonicalOutputFramed,
  type CanonicalJson,
} from '../codec/envelope-avro.ts';
import * as wire from '../codec/wire-format.ts';
import type { Envelope } from '../core/envelope.ts';
import { CANONICAL_TYPES, ENVELOPE_TYPE, schemaCatalog, type CanonicalType } from '../codec/schemas.ts';
import { toJson, type CanonicalOutput } from '../core/index.ts';
import { createKafka, ensureTopics, groupOffsets, KafkaTransactionalSink, readPartitionsToEnd } from '../kafka/kafkajs.ts';
import type { EventSource } from '../kafka/ports.ts';
import { SchemaRegistry } from '../kafka/registry.ts';
import { CANONICAL_KINDS, DOMAINS, topicLayout, topicPrefix, topicSpecs, type TopicLayout } from '../kafka/topics.ts';
import { endpoints as endpointsFromEnv, type Endpoints } from '../shared/config.ts';
import type { CanonicalEncoder, ProcessorPorts } from './processor.ts';

/** The one place where the pipeline meets real endpoints: Kafka, the registry, the codec. */
export interface PipelineContext {
  endpoints: Endpoints;
  kafka: Kafka;
  registry: SchemaRegistry;
  layout: TopicLayout;
}

export function pipelineContext(namespace = topicPrefix(), env: Endpoints = endpointsFromEnv(), clientId = 'masterdeal'): PipelineContext {
  return {
    endpoints: env,
    kafka: createKafka(env.kafkaBrokers, clientId),
    registry: new SchemaRegistry(env.registryUrl),
    layout: topicLayout(namespace),
  };
}

export const subjectOf = (topic: string): string => `${topic}-value`;

export interface SchemaIds {
  envelope: Record<string, number>;
  canonical: Record<CanonicalType, number>;
}

/** Registers the envelope under every raw topic and each canonical record under its topic. */
export async function registerSchemas(ctx: PipelineContext): Promise<SchemaIds> {
  const catalog = schemaCatalog();
  const envelope: Record<string, number> = {};
  for (const topic of Object.values(ctx.layout.raw)) {
    envelope[topic] = await ctx.registry.register(subjectOf(topic), catalog.registrationSchema(ENVELOPE_TYPE));
  }
  const canonical = {} as Record<CanonicalType, number>;
  for (const kind of CANONICAL_KINDS) {
    const type = `masterdeal.${kind}` as CanonicalType;
    canonical[type] = await ctx.registry.register(subjectOf(ctx.layout.canonical[kind]), catalog.registrationSchema(CANONICAL_TYPES[type]));
  }
  return { envelope, canonical };
}

export async function createTopicsAndSchemas(ctx: PipelineContext, partitions: number) {
  const topics = await ensureTopics(ctx.kafka, topicSpecs(ctx.layout, partitions));
  const schemas = await registerSchemas(ctx);
  return { topics, schemas };
}

export function canonicalEncoder(ids: SchemaIds): CanonicalEncoder {
  // Straight from the engine's epoch-ms shape to Avro (no ISO round trip).
  return (o: CanonicalOutput) => encodeCanonicalOutputFramed(o, ids.canonical[o.type]);
}

export function canonicalDecoder(ctx: PipelineContext) {
  // The decoded Avro value has the engine's shape; the core's toJson renders its JSON form (SPEC §6).
  return async (type: CanonicalType, value: Buffer) =>
    toJson((await decodeCanonicalValueFramed(type, value, ctx.registry.lookup)) as unknown as CanonicalOutput) as CanonicalJson;
}

/**
 * The pipeline's record decoders: the same results and errors as the framed decoders, but synchronous
 * once the writer schema of a record's id has been fetched (the first record of an id goes the
 * async way and remembers it, as the registry client caches it anyway): three awaits per record
 * less on the processor's and the sink's hot paths.
 */
function cachingWriters<T>(ctx: PipelineContext, decodeBody: (body: Buffer, writer: avro.Type) => T, decodeFramed: (buf: Buffer) => Promise<T>) {
  const writers = new Map<number, avro.Type>();
  return (buf: Buffer): T | Promise<T> => {
    const { schemaId, body } = wire.decode(buf);
    const writer = writers.get(schemaId);
    if (writer) return decodeBody(body, writer);
    return decodeFramed(buf).then(async (value) => {
      const type = await ctx.registry.lookup(schemaId);
      if (type) writers.set(schemaId, type);
      return value;
    });
  };
}

/** Raw envelopes, for the processor and the sink (see cachingWriters). */
export function envelopeDecoder(ctx: PipelineContext): (value: Buffer) => Envelope | Promise<Envelope> {
  return cachingWriters(ctx, (body, writer) => decodeEnvelope(body, writer), (buf) => decodeEnvelopeFramed(buf, ctx.registry.lookup));
}

/** Canonical records as decoded, in the engine's shape (epoch ms): the sink writes its rows from these (see cachingWriters). */
export function canonicalValueDecoder(ctx: PipelineContext) {
  const byType = new Map<CanonicalType, ReturnType<typeof cachingWriters<ReturnType<typeof decodeCanonicalValue>>>>();
  return (type: CanonicalType, value: Buffer) => {
    let decode = byType.get(type);
    if (!decode) {
      decode = cachingWriters(ctx, (body, writer) => decodeCanonicalValue(type, body, writer), (buf) => decodeCanonicalValueFramed(type, buf, ctx.registry.lookup));
      byType.set(type, decode);
    }
    return decode(value);
  };
}

export function processorPorts(
  ctx: PipelineContext,
  source: EventSource,
  ids: SchemaIds,
  groupId: string,
  txnPrefix: string,
): ProcessorPorts {
  const rawTopics = DOMAINS.map((d) => ctx.layout.raw[d]);
  return {
    source,
    transactionalSink: (p) => new KafkaTransactionalSink(ctx.kafka, `${txnPrefix}-p${p}`),
    readChangelog: (p, onRecord) => readPartitionsToEnd(ctx.kafka, ctx.layout.changelog, [p], onRecord),
    committedOffsets: async (p) => (await groupOffsets(ctx.kafka, groupId, rawTopics)).filter((o) => o.partition === p),
    // Synchronous once a schema id's writer is known (same values and codec errors): decodeAll then awaits nothing per record.
    decode: envelopeDecoder(ctx),
    encode: canonicalEncoder(ids),
  };
}
