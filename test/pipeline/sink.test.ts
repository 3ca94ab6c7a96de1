import { describe, expect, it } from 'vitest';
import { CodecError } from '../../processors/codec/errors.ts';
import type { Envelope } from '../../processors/core/envelope.ts';
import type { AssignmentListener, BatchContext, ConsumedRecord, EventSource, RecordBatch, TopicPartitionOffset } from '../../processors/kafka/ports.ts';
import { topicLayout } from '../../processors/kafka/topics.ts';
import { ClickHouseSink, type Rows } from '../../processors/pipeline/sink.ts';

/**
 * The ClickHouse sink on an in-memory source and an insert port that the test releases by hand:
 * consuming goes on while a flush is in flight, flushes (and offset commits) stay one at a time
 * and in order, and stop() flushes what is buffered.
 */
const layout = topicLayout('t', 't');
const RAW = layout.raw.crm;

class MemorySource implements EventSource {
  onBatchFn?: (b: RecordBatch, c: BatchContext) => Promise<void>;
  commits: TopicPartitionOffset[][] = [];
  async run(onBatch: (b: RecordBatch, c: BatchContext) => Promise<void>) {
    this.onBatchFn = onBatch;
  }
  onAssignment(_l: AssignmentListener) {}
  async commitOffsets(offsets: TopicPartitionOffset[]) {
    this.commits.push(offsets);
  }
  async stop() {}
  deliver(records: ConsumedRecord[]) {
    return this.onBatchFn!({ topic: RAW, partition: 0, records, highWatermark: '100' }, { isActive: () => true, heartbeat: async () => {} });
  }
}

function envelopeRecord(offset: number): ConsumedRecord {
  const env: Envelope = {
    event_id: `e-${offset}`,
    event_type: 'crm.deal.created',
    source_system: 'CRM',
    master_deal_id: 'MD-1',
    event_ts: Date.parse('2026-03-02T09:00:00Z') + offset,
    payload: {},
  };
  return { topic: RAW, partition: 0, offset: String(offset), timestamp: 0, key: null, value: Buffer.from(JSON.stringify(env)), headers: {} };
}

function sinkOn(source: MemorySource) {
  const inserts: { table: string; rows: Rows; token: string; release: () => void }[] = [];
  const sink = new ClickHouseSink(
    {
      source,
      insert: (table, rows, token) => new Promise<void>((release) => inserts.push({ table, rows, token, release })),
      decodeEnvelope: async (v) => JSON.parse(v.toString()) as Envelope,
      decodeCanonical: async () => {
        throw new Error('no canonical records in this test');
      },
    },
    { layout, maxRows: 2, maxAgeMs: 60_000 },
  );
  void sink.run();
  return { sink, inserts };
}

const lines = (rows: Rows) => Buffer.concat(rows.body()).toString('utf8').split('\n').slice(0, -1);

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('ClickHouse sink flushes', () => {
  it('given a flush in flight, when more records arrive, then they buffer and commit only after their own flush, in order', async () => {
    const source = new MemorySource();
    const { sink, inserts } = sinkOn(source);
    await source.deliver([envelopeRecord(0), envelopeRecord(1)]); // due: flush 1 starts
    expect(inserts).toHaveLength(1);
    // Consuming goes on while flush 1 is in flight.
    await source.deliver([envelopeRecord(2)]);
    expect(source.commits).toEqual([]);
    // Flush 2 is due: the batch that makes it due waits for flush 1 (backpressure).
    let third = false;
    const delivering = source.deliver([envelopeRecord(3)]).then(() => (third = true));
    await tick();
    expect(third).toBe(false);
    expect(inserts).toHaveLength(1);
    inserts[0]!.release();
    await delivering;
    expect(source.commits).toEqual([[{ topic: RAW, partition: 0, offset: '2' }]]);
    expect(inserts).toHaveLength(2);
    expect(lines(inserts[1]!.rows).map((line) => line.split('\t')[0])).toEqual(['e-2', 'e-3']);
    expect(inserts[1]!.token).toBe(`raw_events/${RAW}:0:2-3`);
    inserts[1]!.release();
    await tick();
    expect(source.commits).toEqual([[{ topic: RAW, partition: 0, offset: '2' }], [{ topic: RAW, partition: 0, offset: '4' }]]);
    expect(sink.stats.inserted.raw_events).toBe(4);
  });

  it('given rows buffered behind a flush in flight, when stopping, then both flushes complete and commit', async () => {
    const source = new MemorySource();
    const { sink, inserts } = sinkOn(source);
    await source.deliver([envelopeRecord(0), envelopeRecord(1)]);
    await source.deliver([envelopeRecord(2)]);
    const stopping = sink.stop();
    await tick();
    inserts[0]!.release();
    await tick();
    expect(inserts).toHaveLength(2);
    inserts[1]!.release();
    await stopping;
    expect(source.commits.map((c) => c[0]!.offset)).toEqual(['2', '3']);
  });
});

describe('ClickHouse sink input', () => {
  /** A sink whose envelope decoder answers synchronously: JSON, or the codec error a record's value names. */
  function syncSink(source: MemorySource) {
    const inserts: { rows: Rows; release: () => void }[] = [];
    const sink = new ClickHouseSink(
      {
        source,
        insert: (_t, rows) => new Promise<void>((release) => inserts.push({ rows, release })),
        decodeEnvelope: (v) => {
          const text = v.toString();
          if (text === 'bad-magic') throw new CodecError('WIRE_BAD_MAGIC', 'magic byte is 1');
          if (text === 'registry-down') throw new CodecError('SCHEMA_LOOKUP_FAILED', 'registry unreachable');
          return JSON.parse(text) as Envelope;
        },
        decodeCanonical: () => {
          throw new Error('no canonical records in this test');
        },
      },
      { layout, maxRows: 100, maxAgeMs: 60_000 },
    );
    void sink.run();
    return { sink, inserts };
  }
  const withValue = (offset: number, value: string | null): ConsumedRecord => ({ ...envelopeRecord(offset), value: value === null ? null : Buffer.from(value) });

  it('given invalid raw records among valid ones (decoded synchronously), then they are skipped and counted, and their offsets still committed', async () => {
    const source = new MemorySource();
    const { sink, inserts } = syncSink(source);
    await source.deliver([envelopeRecord(0), withValue(1, 'bad-magic'), withValue(2, null), withValue(3, ''), envelopeRecord(4)]);
    expect(sink.stats.skippedInvalid).toBe(3);
    const stopping = sink.stop();
    await tick();
    expect(lines(inserts[0]!.rows).map((l) => l.split('\t')[0])).toEqual(['e-0', 'e-4']);
    inserts[0]!.release();
    await stopping;
    expect(source.commits).toEqual([[{ topic: RAW, partition: 0, offset: '5' }]]);
  });

  it('given a retriable decode failure (registry down), then the batch fails instead of skipping the record', async () => {
    const source = new MemorySource();
    const { sink } = syncSink(source);
    await expect(source.deliver([envelopeRecord(0), withValue(1, 'registry-down')])).rejects.toThrow(/registry unreachable/);
    expect(sink.stats.skippedInvalid).toBe(0);
  });
});
