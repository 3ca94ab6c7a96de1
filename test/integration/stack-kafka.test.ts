import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../processors/shared/config.ts';
import { component as registryComponent } from '../../processors/stack/components/registry.ts';
import { defaultContext } from '../../processors/stack/stack.ts';

/**
 * The stack's Kafka and schema registry, driven by the clients the pipeline uses:
 * kafkajs (including transactions) and @kafkajs/confluent-schema-registry.
 */
const run = promisify(execFile);
const env = endpoints();
const kafka = new Kafka({ clientId: 'stack-kafka-test', brokers: env.kafkaBrokers, logLevel: logLevel.ERROR });
const registry = new SchemaRegistry({ host: env.registryUrl });
const admin = kafka.admin();

const dealSchema = {
  type: 'record',
  name: 'StackProbe',
  namespace: 'masterdeal.test',
  fields: [
    { name: 'master_deal_id', type: 'string' },
    { name: 'seq', type: 'int' },
    { name: 'budget_rub', type: 'double' },
  ],
};

const uniqueTopic = (what: string) => `test.stack.${what}.${randomUUID().slice(0, 8)}`;

/** Consume `topic` from the beginning in a fresh group until `count` records arrived. */
async function consumeAll(topic: string, count: number, opts: { readUncommitted?: boolean } = {}): Promise<KafkaMessage[]> {
  const consumer: Consumer = kafka.consumer({ groupId: `test-${randomUUID()}`, readUncommitted: opts.readUncommitted ?? false });
  const got: KafkaMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolveAll, reject) => {
      const timer = setTimeout(() => reject(new Error(`got ${got.length}/${count} records from ${topic}`)), 60_000);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            got.push(message);
            if (got.length >= count) {
              clearTimeout(timer);
              resolveAll();
            }
          },
        })
        .catch(reject);
    });
    return got;
  } finally {
    await consumer.disconnect();
  }
}

beforeAll(async () => {
  await admin.connect();
});

afterAll(async () => {
  await admin.disconnect();
});

describe('stack: Kafka 4.x + schema registry', () => {
  it('smoke: Avro records with Confluent framing and registry ids round-trip through Kafka', async () => {
    const topic = uniqueTopic('avro');
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(dealSchema) },
      { subject: `${topic}-value` },
    );
    // Registering the same schema again is idempotent: same id.
    const again = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(dealSchema) }, { subject: `${topic}-value` });
    expect(again.id).toBe(id);

    const sent = Array.from({ length: 30 }, (_, seq) => ({ master_deal_id: `MD-${String(seq % 7).padStart(6, '0')}`, seq, budget_rub: seq * 1000.5 }));
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic,
      messages: await Promise.all(sent.map(async (r) => ({ key: r.master_deal_id, value: await registry.encode(id, r) }))),
    });
    await producer.disconnect();

    const received = await consumeAll(topic, sent.length);
    for (const m of received) {
      const value = m.value!;
      expect(value[0]).toBe(0); // Confluent magic byte
      expect(value.readUInt32BE(1)).toBe(id);
    }
    const decoded = await Promise.all(received.map((m) => registry.decode(m.value!)));
    expect(decoded.map((d) => ({ ...d })).sort((a, b) => a.seq - b.seq)).toEqual(sent);
    // Keys partition by deal: every record of a deal sits on one partition.
    expect(new Set(received.map((m) => String(m.key))).size).toBe(7);
  });

  it('rejects a schema change the global BACKWARD rule forbids, accepts an additive one', async () => {
    const subject = `${uniqueTopic('evolve')}-value`;
    const v1 = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(dealSchema) }, { subject });
    const additive = { ...dealSchema, fields: [...dealSchema.fields, { name: 'industry', type: 'string', default: '' }] };
    const v2 = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(additive) }, { subject });
    expect(v2.id).not.toBe(v1.id);
    const breaking = { ...dealSchema, fields: [{ name: 'master_deal_id', type: 'long' }] };
    await expect(registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(breaking) }, { subject })).rejects.toThrow(/ncompatible/);
  });

  it('kcat -L lists the broker and its topics', async () => {
    const topic = uniqueTopic('kcat');
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    const { stdout } = await run('kcat', ['-b', env.kafkaBrokers.join(','), '-L', '-t', topic]).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new Error('kcat is not installed: run `bash scripts/setup.sh` (apt-get install kcat)') : err;
    });
    expect(stdout).toMatch(/1 brokers:/);
    expect(stdout).toContain(`topic "${topic}" with 2 partitions`);
  });

  it('transactions: read_committed sees only committed records, and sendOffsets commits the input offsets atomically', async () => {
    const input = uniqueTopic('tx-in');
    const output = uniqueTopic('tx-out');
    const group = `test-tx-${randomUUID()}`;
    await admin.createTopics({ topics: [{ topic: input }, { topic: output }], waitForLeaders: true });
    const plain = kafka.producer();
    await plain.connect();
    await plain.send({ topic: input, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
    await plain.disconnect();

    // One transactional id per input partition, as the processor does (kafkajs has no KIP-447).
    const producer = kafka.producer({ transactionalId: `${input}-0`, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const committed = await producer.transaction();
    await committed.send({ topic: output, messages: [{ value: 'A' }, { value: 'B' }] });
    await committed.sendOffsets({ consumerGroupId: group, topics: [{ topic: input, partitions: [{ partition: 0, offset: '2' }] }] });
    await committed.commit();

    const aborted = await producer.transaction();
    await aborted.send({ topic: output, messages: [{ value: 'ABORTED' }] });
    await aborted.sendOffsets({ consumerGroupId: group, topics: [{ topic: input, partitions: [{ partition: 0, offset: '3' }] }] });
    await aborted.abort();

    const last = await producer.transaction();
    await last.send({ topic: output, messages: [{ value: 'C' }] });
    await last.commit();
    await producer.disconnect();

    const values = (await consumeAll(output, 3)).map((m) => String(m.value));
    expect(values).toEqual(['A', 'B', 'C']);
    // read_uncommitted sees the aborted record too: the abort really wrote and then hid it.
    const raw = (await consumeAll(output, 4, { readUncommitted: true })).map((m) => String(m.value));
    expect(raw).toContain('ABORTED');
    const offsets = await admin.fetchOffsets({ groupId: group, topics: [input] });
    expect(offsets[0].partitions).toEqual([expect.objectContaining({ partition: 0, offset: '2' })]);
  });

  it.runIf(process.env.MASTERDEAL_TEST_STACK === 'local')('schema ids survive a registry restart (H2 on disk)', async (t) => {
    const ctx = defaultContext(() => undefined);
    const before = await registryComponent.status(ctx);
    // A registry another checkout's stack started (same port) is not ours to restart.
    if (!before.running) t.skip('the registry on :8081 was not started by this checkout\'s stack');
    const subject = `${uniqueTopic('restart')}-value`;
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(dealSchema) }, { subject });
    const framed = await registry.encode(id, { master_deal_id: 'MD-000001', seq: 1, budget_rub: 5 });

    await registryComponent.stop(ctx);
    expect((await registryComponent.status(ctx)).healthy).toBe(false);
    await registryComponent.start(ctx);

    const fresh = new SchemaRegistry({ host: env.registryUrl }); // no client-side cache
    // A record framed before the restart still decodes: its id names the same schema.
    expect({ ...(await fresh.decode(framed)) }).toEqual({ master_deal_id: 'MD-000001', seq: 1, budget_rub: 5 });
    const res = await fetch(`${env.registryUrl}/schemas/ids/${id}`);
    expect(res.status).toBe(200);
    expect(JSON.parse(((await res.json()) as { schema: string }).schema)).toEqual(dealSchema);
    const reRegistered = await fresh.register({ type: SchemaType.AVRO, schema: JSON.stringify(dealSchema) }, { subject });
    expect(reRegistered.id).toBe(id);
    expect(await fresh.getLatestSchemaId(subject)).toBe(id);
  });
});
