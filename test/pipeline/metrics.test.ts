import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { observeMany } from '../../processors/pipeline/metrics.ts';

/** Two histograms of the same definition in their own registries: one fed value by value, one in bulk. */
function pair() {
  const make = () => {
    const registry = new client.Registry();
    const histogram = new client.Histogram({ name: 'h_seconds', help: 'h', labelNames: ['path', 'stage'] as const, buckets: [0.01, 0.1, 0.5, 1, 2.5], registers: [registry] });
    return { registry, histogram };
  };
  return { one: make(), bulk: make() };
}

describe('bulk histogram observations', () => {
  it('given latencies in ms, when observed in bulk per series, then the exposition is the same as observing each value in seconds', async () => {
    const { one, bulk } = pair();
    const values = [0, 3, 10, 10.5, 99, 100, 101, 499.9, 500, 1000, 2500, 2501, 60_000, 7, 7, 7];
    for (const labels of [{ path: 'raw', stage: 'fetch' }, { path: 'canonical', stage: 'buffer' }]) {
      for (const v of values) one.histogram.observe(labels, v / 1000);
      observeMany(bulk.histogram, labels, values, 1000);
      observeMany(bulk.histogram, labels, [], 1000);
    }
    // A second batch into an existing series, and one value alone.
    one.histogram.observe({ path: 'raw', stage: 'fetch' }, 0.25);
    observeMany(bulk.histogram, { path: 'raw', stage: 'fetch' }, new Float64Array([250]), 1000);
    expect(await bulk.registry.metrics()).toBe(await one.registry.metrics());
  });

  it('given one value for n rows, when observed as one series of n, then the same as n observations (count, buckets and float sum)', async () => {
    const { one, bulk } = pair();
    for (let i = 0; i < 1000; i++) one.histogram.observe({ path: 'raw', stage: 'insert' }, 0.137);
    observeMany(bulk.histogram, { path: 'raw', stage: 'insert' }, new Float64Array(600).fill(137), 1000);
    observeMany(bulk.histogram, { path: 'raw', stage: 'insert' }, new Float64Array(400).fill(137), 1000);
    observeMany(bulk.histogram, { path: 'raw', stage: 'insert' }, new Float64Array(0), 1000);
    expect(await bulk.registry.metrics()).toBe(await one.registry.metrics());
  });

  it('refuses a value that is not a number, as observe does', () => {
    const { bulk } = pair();
    expect(() => observeMany(bulk.histogram, { path: 'raw', stage: 'fetch' }, [1, Number.NaN])).toThrow(/not a valid number/);
  });
});
