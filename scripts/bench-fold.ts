/**
 * `npm run bench:fold`: throughput and memory of the engine and of `masterdeal fold`.
 *   (a) engine alone over pre-parsed events (1,000,000): foldBatch, as `masterdeal fold` runs it, and
 *       DealBook.apply event by event, as the live processor runs it;
 *   (b) end to end: NDJSON file → readline → validation (codec) → engine → JSON lines (to /dev/null);
 *   (c) 100,000 open deals held in memory: RSS after a full GC.
 * (a) and (b) fold the project's generator output (processors/generate); (c) uses a local
 * generator whose deals stop before closing, so every deal keeps open timers.
 * Each scenario runs in its own child process so its peak RSS is its own, pinned to one CPU.
 * Options: --events N (default 1000000), --open-deals N (default 100000), --seed S.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { EXAMPLE_PAYLOADS } from '../processors/generate/example-payloads.ts';
import { Rng } from '../processors/generate/prng.ts';
import { once } from 'node:events';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { foldLines } from '../processors/cli/commands/fold.ts';
import { parseEnvelopeLine } from '../processors/codec/envelope-json.ts';
import { generateLines } from '../processors/generate/generator.ts';
import { DealBook } from '../processors/core/deal-book.ts';
import type { Envelope } from '../processors/core/envelope.ts';
import type { DealEvent } from '../processors/core/engine.ts';
import { foldBatch } from '../processors/core/batch-fold.ts';
import { loadDefaultRules } from '../processors/core/rules/load.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-01-05T09:00:00.000Z');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function prng(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next();
}

const PAYLOADS = EXAMPLE_PAYLOADS;
const FUNNEL = ['crm.brief.submitted', 'media.mediaplan.ready', 'crm.offer.approved', 'docflow.contract.signed', 'mediapush.campaign.started'];

/**
 * Synthetic deals through the funnel: ~10 events each (KPI days, NPS), some revoked contracts,
 * some cancellations, some SLA overruns; `open` deals stop before the campaign closes. Events
 * are in global event-time order with ~3% arriving a little late, as from several topics.
 */
function generate(events: number, seed: number, open = false, openDeals = 0): Envelope[] {
  const rnd = prng(seed);
  const out: Envelope[] = [];
  let deal = 0;
  while (open ? deal < openDeals : out.length < events) {
    const id = `MD-${String(++deal).padStart(7, '0')}`;
    let t = T0 + Math.floor(rnd() * 180 * 24) * HOUR;
    let n = 0;
    const push = (type: string) => out.push({
      event_id: `${id}-${++n}`, event_type: type, source_system: type.split('.')[0].toUpperCase(), master_deal_id: id, event_ts: t, payload: PAYLOADS[type],
    });
    push('crm.deal.created');
    t += Math.floor(rnd() * 4 * HOUR);
    push('crm.lead.qualified');
    const steps = open ? 1 + Math.floor(rnd() * 3) : FUNNEL.length;
    let cancelled = false;
    for (let s = 0; s < steps; s++) {
      t += Math.floor(rnd() * (s === 0 ? 10 : 40) * HOUR);
      if (rnd() < 0.03) {
        push('crm.deal.cancelled');
        cancelled = true;
        break;
      }
      push(FUNNEL[s]);
      if (FUNNEL[s] === 'docflow.contract.signed' && rnd() < 0.05) {
        t += HOUR;
        push('docflow.contract.revoked');
        t += Math.floor(rnd() * 24 * HOUR);
        push('docflow.contract.signed');
      }
    }
    if (!open && !cancelled) {
      for (let d = 0; d < 2; d++) {
        t += 24 * HOUR;
        push('mediapush.campaign.kpi');
      }
      t += Math.floor(rnd() * 20 * 24 * HOUR);
      push('dcm.invoice.issued');
      t += Math.floor(rnd() * 15 * 24 * HOUR);
      push('dcm.closeout.completed');
      push('okk.nps.submitted');
    }
  }
  if (!open) out.length = Math.min(out.length, events);
  out.sort((a, b) => a.event_ts - b.event_ts);
  for (let i = 1; i < out.length; i++) {
    if (rnd() < 0.03) [out[i - 1], out[i]] = [out[i], out[i - 1]]; // a little lateness
  }
  return out;
}

const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);
const rssMb = () => Math.round(process.memoryUsage().rss / 1048576);

/** Events as columns (no per-event objects), so a million pending inputs do not weigh on the GC. */
interface Columns {
  ts: Float64Array;
  deal: string[];
  id: string[];
  type: Uint8Array;
  types: string[];
}

/**
 * The project's generator (processors/generate): deal histories merged in event time with 1 %
 * duplicates, 1 % late events and reordering within 64 events; the first `events` lines.
 */
function* generatorLines(events: number, seed: number): Generator<string> {
  let n = 0;
  for (const l of generateLines({ deals: Math.ceil(events / 4), seed, duplicates: 0.01, late: 0.01, shuffleWindow: 64 })) {
    if (n++ >= events) return;
    yield l;
  }
}

/** The generator's events as columns, each parsed envelope dropped at once (no million objects held). */
function generatedColumns(events: number, seed: number): Columns {
  const cols: Columns = { ts: new Float64Array(events), deal: [], id: [], type: new Uint8Array(events), types: [] };
  const index = new Map<string, number>();
  let n = 0;
  for (const l of generatorLines(events, seed)) {
    const r = parseEnvelopeLine(l);
    if (!r.ok) throw new Error(`generator produced an invalid line: ${r.reason}`);
    const e = r.envelope;
    let t = index.get(e.event_type);
    if (t === undefined) index.set(e.event_type, (t = cols.types.push(e.event_type) - 1));
    cols.ts[n] = e.event_ts;
    cols.type[n] = t;
    cols.deal.push(e.master_deal_id);
    cols.id.push(e.event_id);
    n++;
  }
  return { ...cols, ts: cols.ts.subarray(0, n), type: cols.type.subarray(0, n) };
}

const RUNS = 5;

/**
 * A full GC, then an idle pause: V8 sweeps the freed pages on background threads after a full
 * GC, and pinned to one CPU that sweeping (here: the previous run's whole book) would run inside
 * the next measured run. A one-shot `masterdeal fold` has no previous book to sweep.
 */
function settledHeap(): void {
  (globalThis as { gc?: () => void }).gc?.();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, SETTLE_MS);
}
const SETTLE_MS = 500;

/** The generated events, pre-parsed: what the engine reads of each (event_id, type, deal, time). */
function engineEvents(): DealEvent[] {
  const cols = generatedColumns(arg('events', 1_000_000), arg('seed', 7));
  const events: DealEvent[] = new Array(cols.ts.length);
  for (let i = 0; i < events.length; i++) {
    events[i] = { event_id: cols.id[i], event_type: cols.types[cols.type[i]], master_deal_id: cols.deal[i], event_ts: cols.ts[i] };
  }
  (globalThis as { gc?: () => void }).gc?.();
  return events;
}

/** Wall and process CPU (main + GC threads: less distorted than wall time when other jobs share the cores) of `work`. */
function timed(work: () => void): { ns: number; cpuUs: number } {
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  work();
  const used = process.cpuUsage(cpu);
  return { ns: Number(process.hrtime.bigint() - started), cpuUs: used.user + used.system };
}

/**
 * (a) The engine over pre-parsed events, two ways: `fold` is `masterdeal fold`'s path (foldBatch,
 * deal by deal); `live` is the live processor's (DealBook.apply, event by event, interleaved).
 * Both end with the end-of-input watermark and snapshot every deal.
 */
function scenarioEngine(path: 'fold' | 'live'): void {
  const events = engineEvents();
  const n = events.length;
  const rules = loadDefaultRules();
  const fold = (book: DealBook, input: DealEvent[]): number => {
    let outputs = 0;
    if (path === 'live') {
      for (let i = 0; i < input.length; i++) outputs += book.apply(input[i]).outputs.length;
      return outputs + book.advanceTo(book.highestEventTs as number).outputs.length;
    }
    for (const deal of foldBatch(book, input, (highest) => highest)) outputs += deal.outputs.length;
    return outputs;
  };
  // Warm-up: the first 2 % of the events through a throwaway book, so the JIT has compiled the
  // engine before the measured runs (as in a long fold or a running processor).
  fold(new DealBook(rules), events.slice(0, Math.ceil(n / 50)));
  // Five measured runs, each into a fresh book on a settled heap; the median is reported (a shared
  // VM's wall clock wanders by ±10 % from run to run).
  const runs: Array<{ ns: number; cpuUs: number }> = [];
  let book = new DealBook(rules);
  let outputs = 0;
  for (let k = 0; k < RUNS; k++) {
    settledHeap();
    book = new DealBook(rules);
    runs.push(timed(() => {
      outputs = fold(book, events);
    }));
  }
  const rates = runs.map((r) => Math.round(n / (r.ns / 1e9)));
  const run = runs[rates.indexOf([...rates].sort((a, b) => a - b)[RUNS >> 1])];
  let snapshots = 0;
  const end = timed(() => {
    for (const _ of book.snapshots()) snapshots++;
  });
  console.log(JSON.stringify({
    scenario: `engine-${path}`, events: n, deals: book.size, outputs, snapshots,
    events_per_s: Math.round(n / (run.ns / 1e9)), runs_events_per_s: rates, apply_s: +(run.ns / 1e9).toFixed(2),
    events_per_cpu_s: Math.round(n / (run.cpuUs / 1e6)),
    snapshots_s: +(end.ns / 1e9).toFixed(2), peak_rss_mb: peakRssMb(),
  }));
}

async function scenarioEndToEnd(file: string, events: number): Promise<void> {
  const rules = loadDefaultRules();
  const sink = createWriteStream('/dev/null');
  let buffer: string[] = [];
  let lines = 0;
  const write = async (l: string) => {
    lines++;
    buffer.push(l);
    if (buffer.length >= 2000) {
      const ok = sink.write(buffer.join('\n') + '\n');
      buffer = [];
      if (!ok) await once(sink, 'drain');
    }
  };
  const started = process.hrtime.bigint();
  const summary = await foldLines(
    createInterface({ input: createReadStream(file), crlfDelay: Infinity }),
    { rules, emit: new Set(['masterdeal.stage.changed', 'masterdeal.sla.breached']) },
    write,
    () => undefined,
  );
  sink.end(buffer.join('\n'));
  const ns = Number(process.hrtime.bigint() - started);
  console.log(JSON.stringify({
    scenario: 'end-to-end', events, folded: summary.events, duplicates: summary.duplicates, bad_lines: summary.badLines, deals: summary.deals, output_lines: lines,
    events_per_s: Math.round(events / (ns / 1e9)), total_s: +(ns / 1e9).toFixed(2), peak_rss_mb: peakRssMb(),
  }));
}

function scenarioOpenDeals(): void {
  const deals = arg('open-deals', 100_000);
  const baseline = rssMb();
  const rules = loadDefaultRules();
  const book = new DealBook(rules);
  let events = generate(0, arg('seed', 7), true, deals);
  const count = events.length;
  for (const e of events) book.apply(e);
  events = [];
  (globalThis as { gc?: () => void }).gc?.();
  const open = book.states().filter((s) => s.next_deadline !== null || s.derived.stage !== 'closed').length;
  const heap = process.memoryUsage();
  console.log(JSON.stringify({
    scenario: 'open-deals', deals: book.size, open_deals: open, events: count,
    rss_mb: rssMb(), heap_used_mb: Math.round(heap.heapUsed / 1048576), baseline_rss_mb: baseline,
    bytes_per_deal_heap: Math.round(heap.heapUsed / book.size), peak_rss_mb: peakRssMb(),
  }));
}

async function writeLines(file: string, lines: Iterable<string>): Promise<void> {
  const out = createWriteStream(file);
  let chunk: string[] = [];
  for (const l of lines) {
    chunk.push(l);
    if (chunk.length === 5000) {
      if (!out.write(chunk.join('\n') + '\n')) await once(out, 'drain');
      chunk = [];
    }
  }
  out.end(chunk.length ? chunk.join('\n') + '\n' : '');
  await once(out, 'finish');
}

/**
 * Runs a scenario in its own process, pinned to one CPU with `taskset` where there is one: "one
 * core" then holds for V8's garbage-collector threads too, not only for the engine's thread.
 */
function child(args: string[]): Record<string, unknown> {
  const self = fileURLToPath(import.meta.url);
  const node = [process.execPath, '--expose-gc', '--max-old-space-size=4096', '--import', 'tsx', self, ...args];
  const cmd = PINNED ? ['taskset', '-c', String(cpus().length - 1), ...node] : node;
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scenario ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
}

const PINNED = process.platform === 'linux' && spawnSync('taskset', ['-c', '0', 'true']).status === 0;

async function main(): Promise<void> {
  const scenario = process.argv[process.argv.indexOf('--scenario') + 1];
  if (process.argv.includes('--scenario')) {
    if (scenario === 'engine-fold' || scenario === 'engine-live') return scenarioEngine(scenario === 'engine-fold' ? 'fold' : 'live');
    if (scenario === 'e2e') return scenarioEndToEnd(process.argv[process.argv.indexOf('--file') + 1], arg('events', 0));
    if (scenario === 'open') return scenarioOpenDeals();
    throw new Error(`unknown scenario ${scenario}`);
  }
  const events = arg('events', 1_000_000);
  const seed = arg('seed', 7);
  const passthrough = ['--events', String(events), '--seed', String(seed), '--open-deals', String(arg('open-deals', 100_000))];
  const dir = mkdtempSync(join(tmpdir(), 'bench-fold-'));
  try {
    process.stderr.write(`bench:fold — ${events.toLocaleString('en')} events, node ${process.version}, ${PINNED ? 'each scenario pinned to one CPU (taskset)' : 'one process per scenario (taskset not found: not pinned)'}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
    const engine = child(['--scenario', 'engine-fold', ...passthrough]);
    const live = child(['--scenario', 'engine-live', ...passthrough]);
    const file = join(dir, 'events.ndjson');
    await writeLines(file, generatorLines(events, seed));
    const e2e = child(['--scenario', 'e2e', '--file', file, ...passthrough]);
    const open = child(['--scenario', 'open', ...passthrough]);
    const target = (ok: boolean) => (ok ? 'meets target' : 'BELOW TARGET');
    const rate = (r: Record<string, unknown>) =>
      `${Number(r.events_per_s).toLocaleString('en')} events/s wall (median of ${(r.runs_events_per_s as number[]).map((x) => x.toLocaleString('en')).join(' / ')}), ${Number(r.events_per_cpu_s).toLocaleString('en')} per CPU-second`;
    console.log(`(a) engine, fold:   ${rate(engine)} (foldBatch, deal by deal: ${engine.events} events, ${engine.deals} deals, ${engine.outputs} outputs; peak RSS ${engine.peak_rss_mb} MB) — ${target(Number(engine.events_per_s) >= 1_000_000)} ≥1,000,000/s`);
    console.log(`    engine, live:   ${rate(live)} (DealBook.apply, event by event as the live processor: ${live.outputs} outputs; peak RSS ${live.peak_rss_mb} MB)`);
    console.log(`(b) NDJSON fold:    ${Number(e2e.events_per_s).toLocaleString('en')} events/s (parse + validate + engine + output; peak RSS ${e2e.peak_rss_mb} MB)`);
    console.log(`(c) open deals:     ${open.open_deals} open deals → RSS ${open.rss_mb} MB after GC (heap ${open.heap_used_mb} MB, ${open.bytes_per_deal_heap} B/deal; peak ${open.peak_rss_mb} MB) — ${target(Number(open.rss_mb) < 500)} <500 MB`);
    console.log(JSON.stringify({ engine, live, e2e, open }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
