import { createClient, type ClickHouseClient, type ClickHouseClientConfigOptions } from '@clickhouse/client';
import { endpoints as endpointsFromEnv, type Endpoints } from '../shared/config.ts';

export type ClickhouseEndpoints = Pick<Endpoints, 'clickhouseUrl' | 'clickhouseUser' | 'clickhousePassword' | 'clickhouseDatabase'>;

/**
 * The project's ClickHouse client for MASTERDEAL_CLICKHOUSE_URL & co. Works the same
 * against the local chDB endpoint and a real server: nothing here is endpoint-specific.
 * Response compression is on (gzip, cheap for JSON results); request compression is
 * off because batches go to a nearby server where gzip costs more CPU than it saves.
 */
export function clickhouseClient(
  endpoints: ClickhouseEndpoints = endpointsFromEnv(),
  overrides: Partial<ClickHouseClientConfigOptions> = {},
): ClickHouseClient {
  return createClient({
    url: endpoints.clickhouseUrl,
    username: endpoints.clickhouseUser,
    password: endpoints.clickhousePassword,
    database: endpoints.clickhouseDatabase,
    application: 'masterdeal',
    request_timeout: 120_000,
    compression: { request: false, response: true },
    keep_alive: { enabled: true, idle_socket_ttl: 2_500 },
    clickhouse_settings: {
      // Fail fast on malformed rows instead of silently inserting defaults.
      input_format_skip_unknown_fields: 0,
      date_time_input_format: 'best_effort',
      // 64-bit integers as JSON strings (precision-safe) whatever the server's default:
      // ClickHouse 25.x+ (and chDB 26.x) changed it to unquoted numbers.
      output_format_json_quote_64bit_integers: 1,
      // Make a finished INSERT/ALTER visible to the next query.
      wait_end_of_query: 1,
      mutations_sync: '2',
      // Keeps long queries' connections alive behind proxies (a few headers per request at most).
      send_progress_in_http_headers: 1,
      http_headers_progress_interval_ms: '20000',
    },
    ...overrides,
  });
}
