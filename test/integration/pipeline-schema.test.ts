import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { envelopeToAvro } from '../../processors/codec/envelope-avro.ts';
import { ENVELOPE_TYPE, schemaCatalog } from '../../processors/codec/schemas.ts';
import * as wire from '../../processors/codec/wire-format.ts';
import type { Envelope } from '../../processors/core/envelope.ts';
import { KafkaEventSink } from '../../processors/kafka/kafkajs.ts';
import { IncompatibleSchemaError } from '../../processors/kafka/registry.ts';
import { DOMAINS } from '../../processors/kafka/topics.ts';
import { endTargets, waitForGroup } from '../../processors/pipeline/progress.ts';
import { startProcessor, startSink } from '../../processors/pipeline/roles.ts';
import { createTopicsAndSchemas, pipelineContext, subjectOf } from '../../processors/pipeline/wiring.ts';
import { cleanupAfterAll, isolate, query, until } from './pipeline-support.ts';

/** Schema evolution through the registry's BACKWARD rule, end to end. */
const cleanups = cleanupAfterAll();

describe('schema evolution', () => {
  it('accepts a BACKWARD-compatible v2 envelope (new optional field) end to end and refuses an incompatible one at registration', async () => {
    const iso = await isolate('schema');
    cleanups.push(async () => iso.clickhouse?.stop());
    const ctx = pipelineContext();
    const { schemas } = await createTopicsAndSchemas(ctx, 3);
    const topic = ctx.layout.raw.crm;
    const v1 = JSON.parse(schemaCatalog().registrationSchema(ENVELOPE_TYPE));

    // v2: one more field with a default — readers of v1 data and v1 readers of v2 data both work.
    const v2 = { ...v1, fields: [...v1.fields, { name: 'trace_id', type: ['null', 'string'], default: null }] };
    const v2Id = await ctx.registry.register(subjectOf(topic), JSON.stringify(v2));
    expect(v2Id).not.toBe(schemas.envelope[topic]);

    // v3: a new required field without default cannot read v2 data: refused.
    const v3 = { ...v2, fields: [...v2.fields, { name: 'region', type: 'string' }] };
    await expect(ctx.registry.register(subjectOf(topic), JSON.stringify(v3))).rejects.toBeInstanceOf(IncompatibleSchemaError);

    const base = Date.parse('2026-03-02T09:00:00.000Z');
    const created: Envelope = {
      event_id: 'schema-v1-created',
      event_type: 'crm.deal.created',
      source_system: 'CRM',
      master_deal_id: 'MD-SCHEMA-1',
      event_ts: base,
      payload: { client_id: 'C-1', client_name: 'ООО Тест', industry: 'FMCG', client_type: 'direct', budget_rub: 1_000_000 },
    };
    const brief: Envelope = {
      event_id: 'schema-v2-brief',
      event_type: 'crm.brief.submitted',
      source_system: 'CRM',
      master_deal_id: 'MD-SCHEMA-1',
      event_ts: base + 3_600_000,
      payload: { brief_id: 'BR-1' },
    };
    const v2Type = avro.Type.forSchema(v2, { wrapUnions: 'auto' });
    const v1Bytes = wire.encode(schemas.envelope[topic]!, schemaCatalog().type(ENVELOPE_TYPE).toBuffer(envelopeToAvro(created)));
    const v2Bytes = wire.encode(v2Id, v2Type.toBuffer({ ...envelopeToAvro(brief), trace_id: 'trace-42' }));
    const producer = new KafkaEventSink(ctx.kafka);
    await producer.send([
      { topic, key: created.master_deal_id, value: v1Bytes },
      { topic, key: brief.master_deal_id, value: v2Bytes },
    ]);
    await producer.close();

    const { processor } = await startProcessor({ idleAfterMs: 0, partitions: 3 }, ctx);
    cleanups.push(() => processor.stop());
    const { sink, close } = await startSink({ maxAgeMs: 200, partitions: 3 }, ctx);
    cleanups.push(async () => {
      await sink.stop();
      await close();
    });
    const rawTopics = DOMAINS.map((d) => ctx.layout.raw[d]);
    await waitForGroup(ctx.kafka, `${ctx.layout.namespace}-processor`, await endTargets(ctx.kafka, rawTopics, false), { timeoutMs: 60_000 });
    expect(processor.stats.deadLettered).toBe(0);
    await until('the snapshot in ClickHouse', async () => {
      const rows = await query<{ stage: string }>(`SELECT stage FROM ${iso.database}.deal_snapshots FINAL WHERE master_deal_id = 'MD-SCHEMA-1'`);
      return rows[0]?.stage === 'briefed';
    }, 60_000);
    const raw = await query<{ event_id: string }>(`SELECT event_id FROM ${iso.database}.raw_events FINAL ORDER BY event_id`);
    expect(raw.map((r) => r.event_id)).toEqual(['schema-v1-created', 'schema-v2-brief']);
  });
});
