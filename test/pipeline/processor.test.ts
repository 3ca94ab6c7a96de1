import { describe, expect, it } from 'vitest';
import { CodecError } from '../../processors/codec/errors.ts';
import { readFileSync } from 'node:fs';
import { DEFAULT_RULES_PATH, loadDefaultRules, parseRules, RulesMismatchError, type CanonicalOutput } from '../../processors/core/index.ts';
import type { Envelope } from '../../processors/core/envelope.ts';
import type {
  AssignmentListener,
  BatchContext,
  ConsumedRecord,
  EventSource,
  OutgoingRecord,
  RecordBatch,
  TopicPartitionOffset,
} from '../../processors/kafka/ports.ts';
import { topicLayout } from '../../processors/kafka/topics.ts';
import { CHANGELOG_FORMAT_AVRO, decodeChangelogEntry } from '../../processors/pipeline/changelog.ts';
import { BACKLOG_RECORDS, Processor, WATERMARK_KEY, type ProcessorOptions } from '../../processors/pipeline/processor.ts';

/**
 * The processor's bookkeeping against an in-memory log (no Kafka here; the real thing is in
 * test/integration/pipeline*.test.ts): what one transaction holds, restore, failure, lateness.
 */
const layout = topicLayout('t', 't');
const H = 3_600_000;
const T0 = Date.parse('2026-03-02T09:00:00.000Z');

class MemoryLog {
  topics = new Map<string, ConsumedRecord[]>();
  offsets = new Map<string, string>();
  transactions: { records: OutgoingRecord[]; offsets: TopicPartitionOffset[] }[] = [];
  failNext = 0;

  append(r: OutgoingRecord): void {
    const list = this.topics.get(r.topic) ?? [];
    list.push({
      topic: r.topic,
      partition: r.partition ?? 0,
      offset: String(list.length),
      timestamp: 0,
      key: r.key === null ? null : Buffer.from(r.key),
      value: r.value,
      headers: r.headers ?? {},
    });
    this.topics.set(r.topic, list);
  }
}

class MemorySource implements EventSource {
  onBatchFn?: (b: RecordBatch, c: BatchContext) => Promise<void>;
  listeners: AssignmentListener[] = [];
  async run(onBatch: (b: RecordBatch, c: BatchContext) => Promise<void>) {
    this.onBatchFn = onBatch;
  }
  onAssignment(l: AssignmentListener) {
    this.listeners.push(l);
  }
  async commitOffsets() {}
  async stop() {}
  assign(owned: number[]) {
    for (const l of this.listeners) void l(owned);
  }
  /** `highWatermark`: the topic's end offset as the fetch saw it (default: right after these records). */
  deliver(topic: string, records: ConsumedRecord[], highWatermark = String(Number(records.at(-1)?.offset ?? -1) + 1)) {
    return this.onBatchFn!({ topic, partition: 0, records, highWatermark }, { isActive: () => true, heartbeat: async () => {} });
  }
}

function processorOn(log: MemoryLog, source = new MemorySource(), rules = loadDefaultRules(), options: Partial<ProcessorOptions> = {}) {
  const processor = new Processor(
    {
      source,
      transactionalSink: () => ({
        open: async () => {},
        close: async () => {},
        commit: async (records, consumed) => {
          if (log.failNext > 0) {
            log.failNext--;
            throw new Error('broker went away');
          }
          for (const r of records) log.append(r);
          for (const o of consumed?.offsets ?? []) log.offsets.set(o.topic, o.offset);
          log.transactions.push({ records, offsets: consumed?.offsets ?? [] });
        },
      }),
      readChangelog: async (_p, onRecord) => {
        const list = log.topics.get(layout.changelog) ?? [];
        list.forEach(onRecord);
        return list.length;
      },
      committedOffsets: async () => [...log.offsets].map(([topic, offset]) => ({ topic, partition: 0, offset })),
      decode: async (v) => {
        const text = v.toString();
        if (text === 'garbage') throw new CodecError('AVRO_DECODE_FAILED', 'undecodable');
        return JSON.parse(text) as Envelope;
      },
      encode: (o: CanonicalOutput) => Buffer.from(JSON.stringify(o)),
    },
    { groupId: 'g', layout, rules, allowedLatenessMs: H, idleAdvance: false, snapshotIntervalMs: 0, ...options },
  );
  void processor.run();
  source.assign([0]);
  return { processor, source };
}

let seq = 0;
function record(topic: string, value: Envelope | 'garbage', offset: number): ConsumedRecord {
  seq++;
  return {
    topic,
    partition: 0,
    offset: String(offset),
    timestamp: seq,
    key: null,
    value: Buffer.from(value === 'garbage' ? value : JSON.stringify(value)),
    headers: {},
  };
}

const env = (id: string, type: string, ts: number, payload: Record<string, unknown> = {}): Envelope => ({
  event_id: id,
  event_type: type,
  source_system: 'CRM',
  master_deal_id: 'MD-1',
  event_ts: ts,
  payload,
});
const created = env('e1', 'crm.deal.created', T0, { client_id: 'C1', client_name: 'X', industry: 'FMCG', client_type: 'direct', budget_rub: 1 });
const brief = env('e2', 'crm.brief.submitted', T0 + 2 * H, { brief_id: 'B1' });
const crm = layout.raw.crm;
const topicsOf = (records: OutgoingRecord[]) => records.map((r) => r.topic);

describe('processor', () => {
  it('given a batch with an event and a poison record, one transaction holds outputs, dead letter, state, snapshot and the offset', async () => {
    const log = new MemoryLog();
    const { source } = processorOn(log);
    await source.deliver(crm, [record(crm, created, 0), record(crm, 'garbage', 1)]);
    expect(log.transactions).toHaveLength(1);
    const [tx] = log.transactions;
    expect(tx!.offsets).toEqual([{ topic: crm, partition: 0, offset: '2' }]);
    expect(topicsOf(tx!.records)).toContain(layout.deadLetter);
    expect(topicsOf(tx!.records)).toContain(layout.canonical.snapshot);
    const changelogKeys = tx!.records.filter((r) => r.topic === layout.changelog).map((r) => String(r.key));
    expect(changelogKeys).toEqual(['MD-1', WATERMARK_KEY]);
  });

  it('given several events of one deal in one transaction (batches of two raw topics grouped), the deal is written to the changelog once', async () => {
    const log = new MemoryLog();
    const { source } = processorOn(log);
    const docflow = layout.raw.docflow;
    const signed = { ...env('e4', 'docflow.contract.signed', T0 + 4 * H, { contract_id: 'K1' }), source_system: 'DocFlow' };
    // Both batches arrive within one event-loop turn, as one fetch delivers them: one group transaction.
    await Promise.all([source.deliver(crm, [record(crm, created, 0), record(crm, brief, 1)]), source.deliver(docflow, [record(docflow, signed, 0)])]);
    expect(log.transactions).toHaveLength(1);
    const changelogKeys = log.transactions[0]!.records.filter((r) => r.topic === layout.changelog).map((r) => String(r.key));
    expect(changelogKeys).toEqual(['MD-1', WATERMARK_KEY]);
    expect(decodeChangelogEntry(log.transactions[0]!.records.find((r) => r.topic === layout.changelog && String(r.key) === 'MD-1')!.value!).state.seen).toEqual(['e1', 'e2', 'e4']);
  });

  it('given a failed transaction, the redelivered batch produces what the failed one would have', async () => {
    const log = new MemoryLog();
    const { source } = processorOn(log);
    await source.deliver(crm, [record(crm, created, 0)]);
    log.failNext = 1;
    await expect(source.deliver(crm, [record(crm, brief, 1)])).rejects.toThrow(/broker went away/);
    await source.deliver(crm, [record(crm, brief, 1)]);
    const stageChanges = log.transactions
      .flatMap((t) => t.records)
      .filter((r) => r.topic === layout.canonical['stage.changed'])
      .map((r) => JSON.parse(r.value!.toString()).to_stage);
    expect(stageChanges).toEqual(['briefed']);
  });

  it('restores a partition from the changelog and skips records the previous owner committed', async () => {
    const log = new MemoryLog();
    const first = processorOn(log);
    await first.source.deliver(crm, [record(crm, created, 0), record(crm, brief, 1)]);
    const before = log.transactions.length;
    const second = processorOn(log);
    // Redelivery of already committed records (offsets 0-1) after the takeover: nothing happens.
    await second.source.deliver(crm, [record(crm, created, 0), record(crm, brief, 1)]);
    expect(log.transactions.length).toBe(before);
    expect(second.processor.partitions()[0]!.deals).toBe(1);
  });

  it('writes deal states to the changelog without their derivation, and a new owner rebuilds the same snapshot', async () => {
    const log = new MemoryLog();
    const first = processorOn(log);
    await first.source.deliver(crm, [record(crm, created, 0), record(crm, brief, 1)]);
    const entries = (log.topics.get(layout.changelog) ?? []).filter((r) => String(r.key) === 'MD-1').map((r) => decodeChangelogEntry(r.value!));
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      expect(e.state).not.toHaveProperty('derived');
      expect(e.state.facts.map((f) => f.id)).toEqual(['e1', 'e2'].slice(0, e.state.facts.length));
    }
    // The new owner's next snapshot still knows G1 from before the takeover: the derivation was rebuilt.
    const second = processorOn(log);
    await second.source.deliver(crm, [record(crm, env('e3', 'media.mediaplan.ready', T0 + 3 * H, { mediaplan_id: 'P1' }), 2)]);
    const snapshots = (log.topics.get(layout.canonical.snapshot) ?? []).map((r) => JSON.parse(String(r.value)));
    expect(snapshots.at(-1)).toMatchObject({
      master_deal_id: 'MD-1',
      stage: 'briefed',
      gates: { has_brief: { value: true, event_id: 'e2' }, mediaplan_ready: { value: true, event_id: 'e3' } },
      event_count: 3,
    });
  });

  it('given a changelog written by the previous version (JSON values), a new owner restores it and goes on as from the compact one', async () => {
    const compact = new MemoryLog();
    const first = processorOn(compact);
    await first.source.deliver(crm, [record(crm, created, 0), record(crm, brief, 1)]);
    const states = (compact.topics.get(layout.changelog) ?? []).filter((r) => String(r.key) !== WATERMARK_KEY);
    expect(states.every((r) => r.value![0] === CHANGELOG_FORMAT_AVRO)).toBe(true);
    // The same log as the JSON version wrote it: {state: savedState(...), snapshot_version}.
    const old = new MemoryLog();
    for (const [topic, list] of compact.topics) {
      old.topics.set(topic, list.map((r) => topic === layout.changelog && String(r.key) !== WATERMARK_KEY ? { ...r, value: Buffer.from(JSON.stringify(decodeChangelogEntry(r.value!))) } : r));
    }
    old.offsets = new Map(compact.offsets);
    expect(String(old.topics.get(layout.changelog)![0]!.value).startsWith('{"state":{"master_deal_id":"MD-1"')).toBe(true);
    const next = record(crm, env('e3', 'media.mediaplan.ready', T0 + 3 * H, { mediaplan_id: 'P1' }), 2);
    const fromCompact = processorOn(compact);
    await fromCompact.source.deliver(crm, [next]);
    const fromOld = processorOn(old);
    await fromOld.source.deliver(crm, [next]);
    const last = (log: MemoryLog, topic: string) => (log.topics.get(topic) ?? []).at(-1)!.value!.toString();
    expect(last(old, layout.canonical.snapshot)).toEqual(last(compact, layout.canonical.snapshot));
    expect(JSON.parse(last(old, layout.canonical.snapshot))).toMatchObject({ stage: 'briefed', event_count: 3 });
    // What the new owner writes back is the compact form, equal to what the compact log's owner wrote.
    expect(last(old, layout.changelog)).toEqual(last(compact, layout.changelog));
    const oldStates = old.topics.get(layout.changelog)!.filter((r) => String(r.key) === 'MD-1');
    expect(oldStates.at(-1)!.value![0]).toBe(CHANGELOG_FORMAT_AVRO);
    expect(decodeChangelogEntry(oldStates.at(-1)!.value!)).toEqual(decodeChangelogEntry(compact.topics.get(layout.changelog)!.filter((r) => String(r.key) === 'MD-1').at(-1)!.value!));
  });

  it('given a changelog written under other rules, when a new owner restores it, then the processor fails with RulesMismatchError', async () => {
    const log = new MemoryLog();
    const first = processorOn(log);
    await first.source.deliver(crm, [record(crm, created, 0)]);
    const changed = parseRules(readFileSync(DEFAULT_RULES_PATH, 'utf8').replace('target: 8h', 'target: 9h'), 'changed.yaml');
    const second = processorOn(log, new MemorySource(), changed);
    await expect(second.processor.failed).rejects.toBeInstanceOf(RulesMismatchError);
    await expect(second.processor.failed).rejects.toThrow('masterdeal replay --from earliest --rebuild');
  });

  it('given a partition far behind, then snapshots wait for the backlog interval; caught up, the normal interval applies again', async () => {
    const log = new MemoryLog();
    let now = 1_000_000;
    const { source } = processorOn(log, new MemorySource(), loadDefaultRules(), { snapshotIntervalMs: 100, backlogSnapshotIntervalMs: 1_000, clock: () => now });
    const snapshotsIn = (i: number) => log.transactions[i]!.records.filter((r) => r.topic === layout.canonical.snapshot).length;
    const behind = String(BACKLOG_RECORDS * 2);
    await source.deliver(crm, [record(crm, created, 0)], behind);
    expect(snapshotsIn(0)).toBe(1); // the first one is due at once
    now += 200;
    await source.deliver(crm, [record(crm, brief, 1)], behind);
    expect(snapshotsIn(1)).toBe(0); // 200 ms < the backlog interval: coalesced
    now += 200;
    await source.deliver(crm, [record(crm, env('e3', 'media.mediaplan.ready', T0 + 3 * H, { mediaplan_id: 'P1' }), 2)]);
    expect(snapshotsIn(2)).toBe(1); // caught up: 400 ms ≥ the normal 100 ms
    expect(log.transactions).toHaveLength(3);
  });

  it('applies an event later than the allowed lateness and reports it', async () => {
    const log = new MemoryLog();
    const { processor, source } = processorOn(log);
    // Every raw topic has to speak before the watermark moves (min over inputs).
    let offset = 0;
    for (const topic of Object.values(layout.raw)) {
      await source.deliver(topic, [record(topic, env(`w-${topic}`, 'okk.nps.submitted', T0 + 10 * H, { survey_id: 'S', score: 9, comment: '' }), offset++)]);
    }
    expect(processor.partitions()[0]!.watermark).toBe(T0 + 9 * H);
    await source.deliver(crm, [record(crm, created, 99)]);
    expect(processor.stats.late).toBe(1);
    expect(processor.stats.applied).toBe(6);
  });
});
