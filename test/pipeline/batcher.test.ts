import { describe, expect, it } from 'vitest';
import { RowBatcher, dedupToken } from '../../processors/pipeline/batcher.ts';

const range = (topic: string, partition: number, first: number, last: number) => ({
  topic,
  partition,
  first: BigInt(first),
  last: BigInt(last),
});

describe('warehouse row batching', () => {
  it('names one range topic:partition:first-last in the dedup token', () => {
    expect(dedupToken('raw_events', [range('masterdeal.raw.crm', 3, 10, 19)])).toBe('raw_events/masterdeal.raw.crm:3:10-19');
  });

  it('gives the same token whatever order the ranges were added in', () => {
    const a = dedupToken('t', [range('x', 1, 0, 5), range('y', 0, 3, 4)]);
    const b = dedupToken('t', [range('y', 0, 3, 4), range('x', 1, 0, 5)]);
    expect(a).toBe(b);
  });

  it('hashes long tokens so they stay short and stable', () => {
    const many = Array.from({ length: 40 }, (_, i) => range(`masterdeal.raw.topic-${i}`, i, 0, 100_000));
    const t = dedupToken('raw_events', many);
    expect(t).toMatch(/^raw_events\/sha256:[0-9a-f]{64}$/);
    expect(dedupToken('raw_events', [...many].reverse())).toBe(t);
  });

  it('given batches of two partitions, a flush covers their merged ranges and commits the next offsets', () => {
    const b = new RowBatcher<{ id: string }>();
    b.add(range('raw', 0, 0, 9), { raw_events: [{ id: 'a' }, { id: 'b' }] }, 1000);
    b.add(range('raw', 0, 10, 19), { raw_events: [{ id: 'c' }] }, 1100);
    b.add(range('canon', 2, 5, 5), { canonical_events: [{ id: 'x' }] }, 1200);
    const f = b.take();
    expect(f.records).toBe(4);
    expect(f.batches.find((x) => x.table === 'raw_events')).toEqual({
      table: 'raw_events',
      rows: [{ id: 'a' }, { id: 'b' }, { id: 'c' }],
      token: 'raw_events/raw:0:0-19',
    });
    expect(f.commit).toEqual([
      { topic: 'raw', partition: 0, offset: '20' },
      { topic: 'canon', partition: 2, offset: '6' },
    ]);
    expect(b.isEmpty).toBe(true);
  });

  it('commits records that produced no rows (e.g. dead-lettered) without inserting anything', () => {
    const b = new RowBatcher<unknown>();
    b.add(range('raw', 1, 7, 8), {}, 0);
    const f = b.take();
    expect(f.batches).toEqual([]);
    expect(f.commit).toEqual([{ topic: 'raw', partition: 1, offset: '9' }]);
  });

  it('is due by row count or by age, never when empty', () => {
    const b = new RowBatcher<number>();
    expect(b.due(10_000, 1, 1)).toBe(false);
    b.add(range('t', 0, 0, 0), { x: [1, 2] }, 1000);
    expect(b.due(1001, 2, 5000)).toBe(true);
    expect(b.due(1001, 3, 5000)).toBe(false);
    expect(b.due(6000, 3, 5000)).toBe(true);
  });
});
