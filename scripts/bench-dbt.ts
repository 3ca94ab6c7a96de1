/**
 * npm run bench:dbt — full `dbt build` on ~1,000,000 events (~44,500 deals), then an incremental
 * build after 10,000 more events, against the ClickHouse endpoint of MASTERDEAL_CLICKHOUSE_URL
 * (start one with `masterdeal stack up` or `masterdeal clickhouse serve`). Uses its own databases
 * (masterdeal_bench, masterdeal_bench_marts) and prints wall times.
 *
 *   npm run bench:dbt [-- --deals 44500 --new-events 10000]
 */
import { execFile } from 'node:child_process';
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { ClickHouseLogLevel } from '@clickhouse/client';
import { parseArgs } from 'node:util';
import { clickhouseClient } from '../processors/clickhouse/client.ts';
import { loadFoldOutput, ndjsonFileLines } from '../processors/clickhouse/load.ts';
import { migrate } from '../processors/clickhouse/migrate.ts';
import { runDbt } from '../processors/dbt/run.ts';
import { endpoints, PROJECT_ROOT } from '../processors/shared/config.ts';

const exec = promisify(execFile);
const { values: opts } = parseArgs({
  options: { deals: { type: 'string', default: '44500' }, 'new-events': { type: 'string', default: '10000' }, seed: { type: 'string', default: '2026' } },
});
const database = 'masterdeal_bench';
const env: NodeJS.ProcessEnv = { ...process.env, MASTERDEAL_CLICKHOUSE_DATABASE: database, MASTERDEAL_DBT_SCHEMA: `${database}_marts`, MASTERDEAL_LOG_LEVEL: 'warn' };
const dir = join(PROJECT_ROOT, 'bench-results', 'dbt');
mkdirSync(dir, { recursive: true });
const timings: Array<[string, number]> = [];

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await work();
  const seconds = (performance.now() - t0) / 1000;
  timings.push([label, seconds]);
  process.stderr.write(`${label}: ${seconds.toFixed(1)} s\n`);
  return result;
}

const cli = (...args: string[]) =>
  exec(process.execPath, [join(PROJECT_ROOT, 'scripts', 'masterdeal.mjs'), ...args], { cwd: PROJECT_ROOT, env, maxBuffer: 64 << 20 }).catch((error: { code?: number; stderr?: string }) => {
    if (args[0] === 'fold' && error.code === 1) return; // some generated lines may be invalid on purpose: reported, not fatal
    throw error;
  });

async function dbtBuild(label: string, args: string[]): Promise<void> {
  let output = '';
  const result = await timed(label, () => runDbt(args, { env, onOutput: (c) => (output += c) }));
  const done = /Done\. .*/.exec(output)?.[0] ?? '';
  process.stderr.write(`  ${done}\n`);
  if (result.exitCode !== 0) throw new Error(`${label} failed (exit ${result.exitCode}):\n${output.slice(-3000)}`);
}

async function* onlyDeals(path: string, deals: Set<string>): AsyncIterable<string> {
  for await (const line of createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity })) {
    const id = /"master_deal_id":"([^"]+)"/.exec(line)?.[1];
    if (id && deals.has(id)) yield line;
  }
}

const client = clickhouseClient({ ...endpoints(env), clickhouseDatabase: database }, { database: undefined, log: { level: ClickHouseLogLevel.OFF } });
try {
  await client.command({ query: `DROP DATABASE IF EXISTS ${database}_marts` });
  await client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  await migrate(client, { database });

  const all = join(dir, 'all.ndjson');
  await timed('generate', () => cli('generate', '--deals', opts.deals!, '--seed', opts.seed!, '--shuffle', '--duplicates', '0.01', '--late', '0.01', '--no-progress', '--out', all));
  const lines = readFileSync(all, 'utf8').split('\n').filter(Boolean);
  const newCount = Number(opts['new-events']);
  const base = lines.slice(0, lines.length - newCount);
  const fresh = lines.slice(lines.length - newCount);
  writeFileSync(join(dir, 'base.ndjson'), `${base.join('\n')}\n`);
  writeFileSync(join(dir, 'new.ndjson'), `${fresh.join('\n')}\n`);
  process.stderr.write(`events: ${base.length} base + ${fresh.length} new\n`);

  await timed('fold base', () => cli('fold', '--in', join(dir, 'base.ndjson'), '--out', join(dir, 'base.fold.ndjson'), '--emit', 'all', '--no-progress'));
  const loadedBase = await timed('load base', () => loadFoldOutput(client, ndjsonFileLines(join(dir, 'base.ndjson')), ndjsonFileLines(join(dir, 'base.fold.ndjson')), { database }));
  await dbtBuild('dbt build (full)', ['build']);

  // The sink would write the new envelopes and the outputs/snapshots of the deals they touch.
  await timed('fold all', () => cli('fold', '--in', all, '--out', join(dir, 'all.fold.ndjson'), '--emit', 'all', '--no-progress'));
  const touched = new Set(fresh.map((l) => /"master_deal_id":"([^"]+)"/.exec(l)?.[1]).filter((x): x is string => !!x));
  const loadedNew = await timed('load new', () => loadFoldOutput(client, ndjsonFileLines(join(dir, 'new.ndjson')), onlyDeals(join(dir, 'all.fold.ndjson'), touched), { database }));
  await dbtBuild('dbt build (incremental)', ['build', '--vars', '{incremental_lookback_minutes: 0}']);

  process.stdout.write(`\nbench:dbt  ${loadedBase.rawEvents} base events (${loadedBase.dealSnapshots} deals), then ${loadedNew.rawEvents} new events touching ${touched.size} deals\n`);
  for (const [label, seconds] of timings) process.stdout.write(`  ${label.padEnd(26)} ${seconds.toFixed(1).padStart(7)} s\n`);
} finally {
  await client.close();
}
