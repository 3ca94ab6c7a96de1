import type { ClickHouseClient } from '@clickhouse/client';

/**
 * The read port the API needs from the warehouse: run one SELECT with bound parameters and get
 * JSON rows. The adapter over @clickhouse/client works with a ClickHouse server and with the
 * project's chDB-backed HTTP endpoint alike; tests may plug in chDB in-process.
 */
export interface SqlReader {
  rows<T>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
}

export function clickhouseReader(client: ClickHouseClient): SqlReader {
  return {
    async rows<T>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
      const rs = await client.query({
        query: sql,
        query_params: params,
        format: 'JSONEachRow',
        // 64-bit integers as JSON numbers: counts and epoch milliseconds fit in a double.
        clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
      });
      return rs.json<T>();
    },
  };
}

/** Qualified table names; the database name is checked so it can be spliced into SQL safely. */
export interface Tables {
  raw: string;
  canonical: string;
  snapshots: string;
}

export function tables(database: string): Tables {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new Error(`invalid ClickHouse database name: ${database}`);
  return {
    raw: `${database}.raw_events`,
    canonical: `${database}.canonical_events`,
    snapshots: `${database}.deal_snapshots`,
  };
}
