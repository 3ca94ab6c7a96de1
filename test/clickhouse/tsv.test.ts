import { describe, expect, it } from 'vitest';
import { escapeTsv, toTabSeparated } from '../../processors/clickhouse/tsv.ts';

describe('rows as ClickHouse TabSeparated', () => {
  it('escapes backslash, tab, line breaks and NUL only; quotes and JSON pass as they are', () => {
    expect(escapeTsv('{"a":"b"}')).toBe('{"a":"b"}');
    expect(escapeTsv('a\\b\tc\nd\re\0f')).toBe('a\\\\b\\tc\\nd\\re\\0f');
    expect(escapeTsv('é 💥')).toBe('é 💥');
  });

  it('writes the first row keys as columns and one line per row, NULL as \\N', () => {
    const { columns, body } = toTabSeparated([
      { id: 'x', n: 3, big: 12n, ok: true, body: '{"k":"v\\n"}', missing: null },
      { id: 'y', n: -1.5, big: 0n, ok: false, body: '', missing: undefined },
    ]);
    expect(columns).toEqual(['id', 'n', 'big', 'ok', 'body', 'missing']);
    expect(body.toString()).toBe('x\t3\t12\t1\t{"k":"v\\\\n"}\t\\N\ny\t-1.5\t0\t0\t\t\\N\n');
  });

  it('refuses a non-finite number instead of writing text ClickHouse would misread', () => {
    expect(() => toTabSeparated([{ n: Number.NaN }])).toThrow(/column n/);
  });

  it('given no rows, then an empty body', () => {
    expect(toTabSeparated([]).body.length).toBe(0);
  });
});
