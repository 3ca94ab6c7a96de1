import { createServer, type Server } from 'node:http';
import client from 'prom-client';
import { log } from '../shared/log.ts';

/**
 * Prometheus metrics of the pipeline roles (processor, sink, replay, simulate), one registry
 * per process; `serveMetrics` exposes it on /metrics.
 */
export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: 'masterdeal_' });

export const eventsIn = new client.Counter({
  name: 'masterdeal_events_in_total',
  help: 'Records consumed, by topic and role',
  labelNames: ['role', 'topic'] as const,
  registers: [registry],
});

export const eventsOut = new client.Counter({
  name: 'masterdeal_events_out_total',
  help: 'Records produced or rows inserted, by topic/table and role',
  labelNames: ['role', 'topic'] as const,
  registers: [registry],
});

export const deadLetters = new client.Counter({
  name: 'masterdeal_dead_letter_total',
  help: 'Records routed to the dead-letter topic, by reason',
  labelNames: ['reason', 'topic'] as const,
  registers: [registry],
});

export const lateEvents = new client.Counter({
  name: 'masterdeal_late_events_total',
  help: 'Events older than the partition watermark (applied anyway), by how late',
  labelNames: ['kind'] as const,
  registers: [registry],
});

export const consumerLag = new client.Gauge({
  name: 'masterdeal_consumer_lag',
  help: 'Records between the last consumed offset and the partition high watermark',
  labelNames: ['role', 'topic', 'partition'] as const,
  registers: [registry],
});

export const watermarkDelay = new client.Gauge({
  name: 'masterdeal_watermark_delay_seconds',
  help: 'Wall clock minus the event-time watermark, per processor partition',
  labelNames: ['partition'] as const,
  registers: [registry],
});

export const breaches = new client.Counter({
  name: 'masterdeal_sla_breaches_total',
  help: 'SLA breaches published, by SLA',
  labelNames: ['sla'] as const,
  registers: [registry],
});

export const transactionSeconds = new client.Histogram({
  name: 'masterdeal_transaction_seconds',
  help: 'Kafka transaction latency (send + offsets + commit)',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const insertSeconds = new client.Histogram({
  name: 'masterdeal_clickhouse_insert_seconds',
  help: 'ClickHouse insert latency per table batch',
  labelNames: ['table'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

export const eventToClickHouse = new client.Histogram({
  name: 'masterdeal_event_to_clickhouse_seconds',
  help: 'From producing a raw event to ClickHouse acknowledging a row derived from it, by path (raw: the envelope itself; canonical: outputs of the processor)',
  labelNames: ['path'] as const,
  buckets: [0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 5, 10, 30, 60, 120, 300],
  registers: [registry],
});

export const sinkStageSeconds = new client.Histogram({
  name: 'masterdeal_sink_stage_seconds',
  help:
    'Where event-to-ClickHouse latency goes, per row, by path (raw, canonical events, snapshots) and stage: processor (raw produce -> canonical record written in the transaction; snapshots: from the earliest event they coalesce), ' +
    'delivery (record written -> sink consumed: transaction commit, read_committed fetch, queueing in the sink), fetch (raw path: produce -> sink consumed), ' +
    'buffer (consumed -> flush taken, incl. waiting for the flush in flight), insert (flush taken -> every table acknowledged)',
  labelNames: ['path', 'stage'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 5, 10, 30],
  registers: [registry],
});

export const insertRetries = new client.Counter({
  name: 'masterdeal_clickhouse_insert_retries_total',
  help: 'ClickHouse insert attempts that failed and were retried',
  labelNames: ['table'] as const,
  registers: [registry],
});

/** The per-series state prom-client 15 keeps in `Histogram.hashMap` (not part of its typed API). */
interface SeriesState {
  labels: Record<string, string>;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/**
 * `values.forEach((v) => histogram.observe(labels, v / divisor))` with the labels validated and hashed once
 * per call instead of once per value: the sink observes several latencies per row, and prom-client's
 * observe (label validation, hashing, a bucket search over object keys) was a tenth of its CPU.
 * The first value goes through `observe` (creating and validating the series); the rest are counted
 * into that series directly. If prom-client's internal shape is not what we expect, every value
 * goes through `observe` (same figures, just slower). test/pipeline/metrics.test.ts compares both.
 */
export function observeMany(histogram: client.Histogram<string>, labels: Record<string, string>, values: ArrayLike<number>, divisor = 1): void {
  if (values.length === 0) return;
  histogram.observe(labels, values[0]! / divisor);
  if (values.length === 1) return;
  const series = seriesOf(histogram, labels);
  const bounds = (histogram as unknown as { upperBounds?: readonly number[] }).upperBounds;
  if (!series || !bounds) {
    for (let i = 1; i < values.length; i++) histogram.observe(labels, values[i]! / divisor);
    return;
  }
  const counts = new Array<number>(bounds.length).fill(0);
  let sum = series.sum;
  for (let i = 1; i < values.length; i++) {
    const v = values[i]! / divisor;
    if (!Number.isFinite(v)) throw new TypeError(`Value is not a valid number: ${v}`);
    sum += v;
    // Linear from the low end, as prom-client's findBound: latencies mostly fall in the first buckets.
    for (let b = 0; b < bounds.length; b++) {
      if (v <= bounds[b]!) {
        counts[b]!++;
        break;
      }
    }
  }
  series.sum = sum;
  series.count += values.length - 1;
  for (let b = 0; b < bounds.length; b++) if (counts[b]! > 0) series.bucketValues[bounds[b]!]! += counts[b]!;
}

const seriesCache = new WeakMap<object, Map<string, SeriesState>>();

/** The series of `labels` in the histogram's internal map, if it has the expected shape (found once, then cached). */
function seriesOf(histogram: client.Histogram<string>, labels: Record<string, string>): SeriesState | undefined {
  const map = (histogram as unknown as { hashMap?: Record<string, SeriesState> }).hashMap;
  if (!map || typeof map !== 'object') return undefined;
  let byLabels = seriesCache.get(map);
  if (!byLabels) seriesCache.set(map, (byLabels = new Map()));
  const key = JSON.stringify(labels);
  let series = byLabels.get(key);
  if (series && Object.values(map).includes(series)) return series;
  series = Object.values(map).find(
    (s) => s && typeof s.labels === 'object' && Object.keys(labels).length === Object.keys(s.labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (!series || typeof series.sum !== 'number' || typeof series.count !== 'number' || typeof series.bucketValues !== 'object') return undefined;
  byLabels.set(key, series);
  return series;
}

export function serveMetrics(port: number): Server | undefined {
  if (!port) return undefined;
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/metrics')) {
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        })
        .catch((err) => {
          res.writeHead(500);
          res.end(String(err));
        });
      return;
    }
    res.writeHead(404);
    res.end('see /metrics\n');
  });
  server.on('error', (err) => log.error({ err, port }, 'metrics endpoint failed'));
  server.listen(port, () => log.info({ port }, 'metrics on /metrics'));
  return server;
}
