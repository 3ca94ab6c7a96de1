import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { Option, type Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { parseEnvelopeLine } from '../../codec/envelope-json.ts';
import { parseTimestamp } from '../../codec/json-form.ts';
import { CANONICAL_TYPES, toJson, type CanonicalType } from '../../core/canonical.ts';
import { foldBatch } from '../../core/batch-fold.ts';
import { DealBook } from '../../core/deal-book.ts';
import type { DealEvent } from '../../core/engine.ts';
import { parseDuration } from '../../core/duration.ts';
import { loadDefaultRules, loadRulesFile, RulesError, type Rules } from '../../core/rules/load.ts';

/**
 * `masterdeal fold` (SPEC §6): the engine offline, over an NDJSON file of envelopes. Event time
 * only — the watermark follows the highest event_ts minus the allowed lateness while reading and
 * ends at the highest event_ts (or --now if later), so a fold is reproducible.
 */
export const EXIT_OK = 0;
export const EXIT_BAD_LINES = 1;
export const EXIT_USAGE = 2;

const DEFAULT_EMIT: CanonicalType[] = ['masterdeal.stage.changed', 'masterdeal.sla.breached'];

export interface FoldOptions {
  rules: Rules;
  allowedLatenessMs?: number;
  /** End-of-input watermark floor (`--now`). */
  nowMs?: number;
  /** Canonical event types to print before the snapshots. */
  emit: ReadonlySet<CanonicalType>;
}

export interface FoldSummary {
  lines: number;
  events: number;
  duplicates: number;
  badLines: number;
  deals: number;
  watermark: number | null;
}

/**
 * Folds NDJSON lines; `write` receives output lines (without newline), `reject` each bad line.
 * Blank lines carry nothing and are skipped. The whole input is read first (what the engine needs
 * of each event, not its payload), then folded deal by deal (foldBatch): canonical events come
 * deal by deal, deals in order of first appearance, each deal's in the order the live processor
 * publishes them; then the snapshots.
 */
export async function foldLines(
  lines: AsyncIterable<string> | Iterable<string>,
  options: FoldOptions,
  write: (line: string) => void | Promise<void>,
  reject: (lineNo: number, reason: string) => void,
  onLine?: (lineNo: number) => void,
): Promise<FoldSummary> {
  const summary: FoldSummary = { lines: 0, events: 0, duplicates: 0, badLines: 0, deals: 0, watermark: null };
  const events: DealEvent[] = [];
  for await (const line of lines) {
    const lineNo = ++summary.lines;
    if (onLine && (lineNo & 0x3fff) === 0) onLine(lineNo);
    if (line.trim() === '') continue;
    const parsed = parseEnvelopeLine(line);
    if (!parsed.ok) {
      summary.badLines++;
      reject(lineNo, parsed.reason);
      continue;
    }
    const { event_id, event_type, master_deal_id, event_ts } = parsed.envelope;
    events.push({ event_id, event_type, master_deal_id, event_ts });
  }

  const book = new DealBook(options.rules, { allowedLatenessMs: options.allowedLatenessMs });
  // End of input: nothing is late any more, so the watermark is the highest event_ts (or --now).
  const end = (highest: number) => Math.max(highest, options.nowMs ?? Number.NEGATIVE_INFINITY);
  const deals = foldBatch(book, events, end);
  let step = deals.next();
  for (; !step.done; step = deals.next()) {
    for (const o of step.value.outputs) if (options.emit.has(o.type)) await write(JSON.stringify(toJson(o)));
  }
  const folded = step.value;
  summary.events = folded.events;
  summary.duplicates = folded.duplicates;
  for (const snap of book.snapshots()) {
    summary.deals++;
    await write(JSON.stringify(toJson(snap)));
  }
  summary.watermark = folded.watermark;
  return summary;
}

/** Buffers output lines and respects back-pressure of the destination stream. */
function lineWriter(out: Writable) {
  let buffer: string[] = [];
  let size = 0;
  const flush = async () => {
    if (buffer.length === 0) return;
    const chunk = buffer.join('\n') + '\n';
    buffer = [];
    size = 0;
    if (!out.write(chunk)) await once(out, 'drain');
  };
  return {
    write: async (line: string) => {
      buffer.push(line);
      size += line.length;
      if (size > 1 << 16) await flush();
    },
    flush,
  };
}

interface CliOptions {
  in: string;
  out?: string;
  rules?: string;
  now?: string;
  allowedLateness?: string;
  emit?: string;
  progress: boolean;
}

function usage(message: string): never {
  process.stderr.write(`fold: ${message}\n`);
  process.exit(EXIT_USAGE);
}

export function register(program: Command): void {
  program
    .command('fold')
    .description('fold an NDJSON file of domain events offline through the engine: stage changes, SLA breaches, then one snapshot per deal')
    .requiredOption('--in <file>', "input NDJSON, one envelope per line ('-' for stdin)")
    .option('--out <file>', 'output NDJSON (default: stdout)')
    .option('--rules <file>', 'rules file (default: processors/core/rules/default.yaml)')
    .option('--now <iso_ts>', 'end-of-input watermark if later than the highest event_ts (ISO-8601 or epoch ms)')
    .option('--allowed-lateness <duration>', "watermark lag while reading, e.g. 15m, 1h, 0 (default: the rules' allowed_lateness)")
    .addOption(
      new Option('--emit <types>', `comma-separated canonical types to print before the snapshots, or 'all' (${CANONICAL_TYPES.filter((t) => t !== 'masterdeal.snapshot').join(', ')})`)
        .default(DEFAULT_EMIT.join(',')),
    )
    .option('--no-progress', 'no progress bar (it is shown only when stderr is a terminal)')
    .addHelpText(
      'after',
      `
Output lines carry "type" and "master_deal_id"; times are ISO-8601 UTC with ms, durations in ms.
Canonical events come deal by deal (deals in order of first appearance, each deal's events in the
order the live processor publishes them), then one snapshot per deal in master_deal_id order.
The whole input is read before folding (of each event its ids, type and time; not its payload).
Bad input lines are reported on stderr as "line N: <reason>" and skipped; the rest is folded.
Exit codes: ${EXIT_OK} every line valid, ${EXIT_BAD_LINES} some lines invalid, ${EXIT_USAGE} usage or rules-file error.`,
    )
    .exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT_OK : EXIT_USAGE))
    .action(async (opts: CliOptions) => {
      let rules: Rules;
      try {
        rules = opts.rules ? loadRulesFile(opts.rules) : loadDefaultRules();
      } catch (err) {
        if (err instanceof RulesError) usage(`invalid rules\n${err.message}`);
        throw err;
      }
      let nowMs: number | undefined;
      if (opts.now !== undefined) {
        nowMs = parseTimestamp(/^\d+$/.test(opts.now) ? Number(opts.now) : opts.now);
        if (nowMs === undefined) usage(`--now: unparsable timestamp '${opts.now}' (expected ISO-8601 with zone, or epoch ms)`);
      }
      let allowedLatenessMs: number | undefined;
      if (opts.allowedLateness !== undefined) {
        allowedLatenessMs = parseDuration(opts.allowedLateness);
        if (allowedLatenessMs === undefined) usage(`--allowed-lateness: bad duration '${opts.allowedLateness}' (e.g. 15m, 1h, 0)`);
      }
      const emit = new Set<CanonicalType>();
      for (const t of (opts.emit ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
        if (t === 'all') CANONICAL_TYPES.forEach((c) => emit.add(c));
        else if ((CANONICAL_TYPES as readonly string[]).includes(t)) emit.add(t as CanonicalType);
        else if ((CANONICAL_TYPES as readonly string[]).includes(`masterdeal.${t}`)) emit.add(`masterdeal.${t}` as CanonicalType);
        else usage(`--emit: unknown canonical type '${t}'`);
      }
      emit.delete('masterdeal.snapshot'); // snapshots always come last, one per deal

      const fromStdin = opts.in === '-';
      let size = 0;
      if (!fromStdin) {
        try {
          size = statSync(opts.in).size;
        } catch (err) {
          usage(`--in: cannot read '${opts.in}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
      }
      const input = fromStdin ? process.stdin : createReadStream(opts.in);
      const out = opts.out ? createWriteStream(opts.out) : process.stdout;
      const writer = lineWriter(out);

      const showBar = opts.progress && process.stderr.isTTY === true;
      const bar = showBar
        ? new SingleBar({
            stream: process.stderr,
            format: fromStdin ? 'fold {value} lines' : 'fold [{bar}] {percentage}% | {value}/{total} MB | {lines} lines',
            hideCursor: true,
          })
        : undefined;
      const mb = (n: number) => Math.round(n / 1e5) / 10;
      bar?.start(fromStdin ? 0 : mb(size), 0, { lines: 0 });
      const onLine = (lineNo: number) => {
        if (!bar) return;
        if (fromStdin) bar.update(lineNo);
        else bar.update(mb((input as ReturnType<typeof createReadStream>).bytesRead), { lines: lineNo });
      };
      const reject = (lineNo: number, reason: string) => {
        process.stderr.write(`${bar ? '\n' : ''}line ${lineNo}: ${reason}\n`);
      };

      const lines = createInterface({ input, crlfDelay: Infinity });
      const summary = await foldLines(lines, { rules, allowedLatenessMs, nowMs, emit }, writer.write, reject, onLine);
      await writer.flush();
      if (bar) {
        bar.update(fromStdin ? summary.lines : mb(size), { lines: summary.lines });
        bar.stop();
        process.stderr.write(
          `folded ${summary.events} events (${summary.duplicates} duplicates) of ${summary.deals} deals; ${summary.badLines} bad lines; ` +
            `rules ${rules.source} (fingerprint ${rules.fingerprint})\n`,
        );
      }
      if (out !== process.stdout) {
        out.end();
        await once(out, 'finish');
      }
      process.exitCode = summary.badLines > 0 ? EXIT_BAD_LINES : EXIT_OK;
    });
}
