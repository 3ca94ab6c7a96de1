import { describe, expect, it } from 'vitest';
import { toClickHouseTime } from '../../processors/clickhouse/load.ts';
import type { CanonicalJson } from '../../processors/codec/envelope-avro.ts';
import { validateEnvelope } from '../../processors/codec/envelope-json.ts';
import { toJson, type CanonicalOutput } from '../../processors/core/canonical.ts';
import { DealBook } from '../../processors/core/deal-book.ts';
import { loadDefaultRules } from '../../processors/core/rules/load.ts';
import { generateEvents } from '../../processors/generate/generator.ts';
import type { ConsumedRecord } from '../../processors/kafka/ports.ts';
import { canonicalEventRow, snapshotRow } from '../../processors/pipeline/warehouse-rows.ts';

const record: ConsumedRecord = { topic: 't', partition: 0, offset: '7', timestamp: 1_700_000_000_000, key: null, value: null, headers: {} };

describe('warehouse rows', () => {
  it('time columns are what toClickHouseTime makes of the first time field present, for every engine output', () => {
    const book = new DealBook(loadDefaultRules());
    const outputs: CanonicalOutput[] = [];
    for (const json of generateEvents({ deals: 40, seed: 9, late: 0.05 })) {
      const r = validateEnvelope(json);
      if (r.ok) outputs.push(...book.apply(r.envelope).outputs);
    }
    outputs.push(...book.advanceTo(book.highestEventTs ?? 0).outputs, ...book.snapshots());
    for (const o of outputs) {
      const body = toJson(o) as CanonicalJson;
      if (o.type === 'masterdeal.snapshot') {
        expect(snapshotRow(body, record).updated_at).toBe(toClickHouseTime(body.last_event_ts) ?? toClickHouseTime(record.timestamp));
      } else {
        const expected = ['event_ts', 'deadline_at', 'stopped_at', 'started_at', 'closed_at', 'updated_at'].map((f) => toClickHouseTime(body[f])).find((t) => t !== undefined);
        expect(canonicalEventRow(body, record).event_ts).toBe(expected);
      }
    }
  });

  it('falls back to the record timestamp, and reads epoch ms and other ISO forms', () => {
    const base = { type: 'masterdeal.closed' as const, master_deal_id: 'MD-1', event_id: 'x' };
    expect(canonicalEventRow(base, record).event_ts).toBe('2023-11-14 22:13:20.000');
    expect(canonicalEventRow({ ...base, event_ts: 0 }, record).event_ts).toBe('1970-01-01 00:00:00.000');
    expect(canonicalEventRow({ ...base, event_ts: '2026-03-02T12:00:00+03:00' }, record).event_ts).toBe('2026-03-02 09:00:00.000');
  });
});
