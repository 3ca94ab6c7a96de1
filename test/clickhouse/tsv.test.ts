import { describe, expect, it } from 'vitest';
import { escapeTsv, toTabSeparated, TsvBody } from '../../processors/clickhouse/tsv.ts';

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

describe('a TabSeparated body built line by line', () => {
  it('given lines of any UTF-8 width across chunk boundaries, then the chunks are the lines joined by line breaks', () => {
    const body = new TsvBody(16);
    const lines: string[] = [];
    for (let i = 0; i < 500; i++) lines.push(`${i}\t${'é💥x'.repeat(i % 13)}\t${'a'.repeat(i % 40)}`);
    lines.push('', 'x'.repeat(5000));
    for (const line of lines) body.push(line);
    const chunks = body.body();
    expect(chunks.length).toBeGreaterThan(1);
    const expected = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    expect(Buffer.concat(chunks).equals(expected)).toBe(true);
    expect(body.length).toBe(lines.length);
    expect(body.byteLength).toBe(expected.length);
    // Asking again (a retried insert) gives the same bytes.
    expect(Buffer.concat(body.body()).equals(expected)).toBe(true);
  });

  it('given no lines, then an empty body', () => {
    expect(new TsvBody().body()).toEqual([]);
  });
});
