import { describe, expect, it } from 'vitest';
import { toClickHouseTime } from '../../processors/clickhouse/load.ts';
import type { CanonicalJson } from '../../processors/codec/envelope-avro.ts';
import { validateEnvelope } from '../../processors/codec/envelope-json.ts';
import { toJson, type CanonicalOutput } from '../../processors/core/canonical.ts';
import { DealBook } from '../../processors/core/deal-book.ts';
import { loadDefaultRules } from '../../processors/core/rules/load.ts';
import { generateEvents } from '../../processors/generate/generator.ts';
import type { ConsumedRecord } from '../../processors/kafka/ports.ts';
import { escapeJsonTsv, escapeTsv, toTabSeparated } from '../../processors/clickhouse/tsv.ts';
import type { Envelope } from '../../processors/core/envelope.ts';
import {
  canonicalEventLine,
  canonicalEventRow,
  COLUMNS,
  rawEventLine,
  rawEventRow,
  snapshotLine,
  snapshotRow,
  TABLES,
} from '../../processors/pipeline/warehouse-rows.ts';

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

/** The generator's envelopes (with a few hostile strings) and every output the engine makes of them. */
function corpus(): { envelopes: Envelope[]; outputs: CanonicalOutput[] } {
  const book = new DealBook(loadDefaultRules());
  const envelopes: Envelope[] = [];
  const outputs: CanonicalOutput[] = [];
  for (const json of generateEvents({ deals: 60, seed: 11, late: 0.05 })) {
    const r = validateEnvelope(json);
    if (!r.ok) continue;
    envelopes.push(r.envelope);
    outputs.push(...book.apply(r.envelope).outputs);
  }
  outputs.push(...book.advanceTo(book.highestEventTs ?? 0).outputs, ...book.snapshots());
  const first = envelopes[0]!;
  envelopes.push({ ...first, event_id: 'tab\there\\back\nline\r\0nul', master_deal_id: 'MD-é-💥', payload: { note: 'quote " back \\ tab \t nl \n nul \0 \u2028 é' } });
  return { envelopes, outputs };
}

describe('warehouse rows as TabSeparated lines', () => {
  const { envelopes, outputs } = corpus();
  const at = (i: number): ConsumedRecord => ({ ...record, topic: 'top\tic', partition: i % 7, offset: String(1_000_000_000_000 + i) });

  it('given any envelope, when written as a line, then it is what toTabSeparated writes for its row, in COLUMNS order', () => {
    envelopes.forEach((env, i) => {
      const { columns, body } = toTabSeparated([rawEventRow(env, at(i))]);
      expect(columns).toEqual(COLUMNS[TABLES.raw]);
      expect(`${rawEventLine(env, at(i))}\n`).toBe(body.toString('utf8'));
    });
  });

  it('given any engine output, when written as a line, then it is what toTabSeparated writes for its row, in COLUMNS order', () => {
    outputs.forEach((o, i) => {
      const body = toJson(o) as CanonicalJson;
      const [row, line, table] =
        o.type === 'masterdeal.snapshot'
          ? [snapshotRow(body, at(i)), snapshotLine(body, at(i)), TABLES.snapshots]
          : [canonicalEventRow(body, at(i)), canonicalEventLine(body, at(i)), TABLES.canonical];
      const tsv = toTabSeparated([row]);
      expect(tsv.columns).toEqual(COLUMNS[table]);
      expect(`${line}\n`).toBe(tsv.body.toString('utf8'));
    });
    expect(outputs.filter((o) => o.type === 'masterdeal.snapshot').length).toBeGreaterThan(10);
  });

  it('given a snapshot without a version, then the header version, as in its row', () => {
    const body = { type: 'masterdeal.snapshot' as const, master_deal_id: 'MD-2', stage: 'x\ty' };
    const r = { ...record, headers: { 'masterdeal.version': Buffer.from('42') } };
    expect(`${snapshotLine(body, r)}\n`).toBe(toTabSeparated([snapshotRow(body, r)]).body.toString());
    expect(() => snapshotLine({ ...body, version: Number.NaN }, r)).toThrow(/column version/);
  });

  it('JSON text needs only its backslashes doubled: the same as the general escape for anything JSON.stringify writes', () => {
    const values = ['plain', 'tab\t nl\n cr\r nul\0 bs\\ quote"', '\u0001\u001f\u007f\u2028\ud800', { k: ['\\', '\t'] }];
    for (const v of values) expect(escapeJsonTsv(JSON.stringify(v))).toBe(escapeTsv(JSON.stringify(v)));
  });
});
