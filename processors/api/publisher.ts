import { encodeEnvelopeFramed } from '../codec/envelope-avro.ts';
import { ENVELOPE_TYPE, schemaCatalog } from '../codec/schemas.ts';
import { domainOf, type Domain, type Envelope } from '../core/envelope.ts';
import { KafkaEventSink } from '../kafka/kafkajs.ts';
import type { EventSink, OutgoingRecord } from '../kafka/ports.ts';
import type { SchemaRegistry } from '../kafka/registry.ts';
import { rawTopic } from '../kafka/topics.ts';
import { subjectOf, type PipelineContext } from '../pipeline/wiring.ts';
import type { EventPublisher } from './routes/events.ts';

/**
 * Intake's way to Kafka: each envelope to its domain's raw topic, Confluent-framed Avro with the
 * schema id the registry gives the topic's subject, key = master_deal_id (the partitioning every
 * consumer relies on). Ids are resolved once per topic; a failure is forgotten so the next
 * request retries the registry.
 */
export class KafkaIntakePublisher implements EventPublisher {
  private readonly ids = new Map<string, Promise<number>>();
  private readonly catalog = schemaCatalog();

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly sink: EventSink,
    private readonly topicOf: (domain: Domain) => string = (d) => rawTopic(d),
  ) {}

  /** The raw topics of the pipeline's layout (MASTERDEAL_TOPIC_PREFIX), as the processor reads them. */
  static fromPipeline(ctx: PipelineContext): KafkaIntakePublisher {
    return new KafkaIntakePublisher(ctx.registry, new KafkaEventSink(ctx.kafka), (d) => ctx.layout.raw[d]);
  }

  private schemaId(topic: string): Promise<number> {
    let id = this.ids.get(topic);
    if (!id) {
      id = this.registry.register(subjectOf(topic), this.catalog.registrationSchema(ENVELOPE_TYPE));
      this.ids.set(topic, id);
      id.catch(() => this.ids.delete(topic));
    }
    return id;
  }

  async publish(envelopes: readonly Envelope[]): Promise<{ topics: Record<string, number> }> {
    const records: OutgoingRecord[] = [];
    const topics: Record<string, number> = {};
    for (const env of envelopes) {
      const domain = domainOf(env.event_type);
      // validateEnvelope accepted the type, so it has a domain; guard anyway rather than misroute.
      if (!domain) throw new Error(`no raw topic for event type ${env.event_type}`);
      const topic = this.topicOf(domain);
      const value = encodeEnvelopeFramed(env, await this.schemaId(topic), this.catalog);
      records.push({ topic, key: env.master_deal_id, value, headers: { 'masterdeal.produced_at': Buffer.from(String(Date.now())), 'masterdeal.intake': Buffer.from('http') } });
      topics[topic] = (topics[topic] ?? 0) + 1;
    }
    await this.sink.send(records);
    return { topics };
  }

  async close(): Promise<void> {
    await this.sink.close();
  }
}
