import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { DEFAULT_SHUFFLE_WINDOW, generateRecords, resolveOptions, type GenerateOptions } from '../../generate/generator.ts';

/**
 * `masterdeal generate`: synthetic deal histories as NDJSON envelopes (SPEC §2), reproducible
 * from --seed, with optional duplicates, late and reordered arrivals and broken lines for
 * exercising the bad-input paths.
 */
export const EXIT_OK = 0;
export const EXIT_USAGE = 2;
export const EXIT_IO = 3;

interface CliOptions {
  deals: number;
  seed: string;
  out?: string;
  start: string;
  days: number;
  duplicates: number;
  late: number;
  shuffle?: boolean | number;
  malformed: number;
  progress: boolean;
}

/** Commander exits 1 on bad arguments; ours is a usage error (2). */
function usageError(message: string): InvalidArgumentError {
  const err = new InvalidArgumentError(message);
  (err as { exitCode: number }).exitCode = EXIT_USAGE;
  return err;
}

const fraction = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw usageError(`${name} must be a fraction between 0 and 1`);
  return n;
};
const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw usageError('must be a positive integer');
  return n;
};
const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw usageError('must be a positive number');
  return n;
};

/** A numeric seed is used as is; any other text is hashed, so `--seed demo` works too. */
const seedOf = (s: string): number | string => (/^\d+$/.test(s) ? Number(s) : s);

export function register(program: Command): void {
  program
    .command('generate')
    .description('Write synthetic, reproducible deal events as NDJSON (one envelope per line, arrival order)')
    .requiredOption('--deals <n>', 'number of deals', positiveInt)
    .option('--seed <seed>', 'random seed (number or text); same seed, same bytes', '1')
    .option('--out <file>', 'write to FILE instead of stdout (shows a progress bar)')
    .option('--start <iso>', 'creation time of the first deals (ISO-8601 UTC)', '2026-01-05T00:00:00.000Z')
    .option('--days <n>', 'deals are created over this many days; nothing is emitted later', positive, 180)
    .option('--duplicates <fraction>', 'fraction of events delivered twice', fraction('--duplicates'), 0)
    .option('--late <fraction>', 'fraction of events arriving hours to days after their event time', fraction('--late'), 0)
    .addOption(
      new Option('--shuffle [window]', `reorder arrivals within a window of events (default ${DEFAULT_SHUFFLE_WINDOW})`).argParser(positiveInt),
    )
    .option('--malformed <fraction>', 'fraction of extra broken lines (bad JSON, unknown type, missing ids, bad timestamps, missing fields)', fraction('--malformed'), 0)
    .option('--no-progress', 'no progress bar')
    .addHelpText(
      'after',
      '\nExamples:\n  masterdeal generate --deals 100 --seed 7 > events.ndjson\n  masterdeal generate --deals 50000 --seed 1 --shuffle --duplicates 0.02 --late 0.01 --out big.ndjson\n\nExit codes: 0 ok, 2 bad options, 3 cannot write the output.',
    )
    .action(async (opts: CliOptions) => {
      const options: GenerateOptions = {
        deals: opts.deals,
        seed: seedOf(opts.seed),
        start: opts.start,
        days: opts.days,
        duplicates: opts.duplicates,
        late: opts.late,
        shuffleWindow: opts.shuffle === undefined || opts.shuffle === false ? 0 : opts.shuffle === true ? DEFAULT_SHUFFLE_WINDOW : opts.shuffle,
        malformed: opts.malformed,
      };
      try {
        resolveOptions(options);
      } catch (err) {
        process.stderr.write(`generate: ${(err as Error).message}\n`);
        process.exitCode = EXIT_USAGE;
        return;
      }
      process.exitCode = await generateTo(options, opts.out, opts.progress && opts.out !== undefined);
    });
}

/** Resolves on 'drain' or 'error', removing both listeners (no listener pile-up over many waits). */
function drainOrError(out: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('error', done);
      resolve();
    };
    out.on('drain', done);
    out.on('error', done);
  });
}

/** Writes the NDJSON stream; returns the exit code. A summary goes to stderr. */
export async function generateTo(options: GenerateOptions, file: string | undefined, progress: boolean): Promise<number> {
  const out: Writable = file ? createWriteStream(file) : process.stdout;
  let failed: Error | undefined;
  out.on('error', (err) => (failed ??= err));
  const bar = progress ? new SingleBar({ format: 'generate [{bar}] {percentage}% | {value}/{total} deals | {events} lines | ETA {eta_formatted}', stream: process.stderr }) : undefined;
  bar?.start(options.deals, 0, { events: 0 });
  const counts = { events: 0, duplicates: 0, late: 0, malformed: 0 };
  let lines = 0;
  let chunk: string[] = [];
  let chunkChars = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    const text = chunk.join('\n') + '\n';
    chunk = [];
    chunkChars = 0;
    if (!out.write(text) && !failed) await drainOrError(out);
  };
  try {
    for (const rec of generateRecords(options, { onDeal: (n) => (n & 0xff) === 0 && bar?.update(n, { events: lines }) })) {
      const line = rec.kind === 'event' ? JSON.stringify(rec.envelope) : rec.line;
      if (rec.kind === 'event') {
        counts.events++;
        if (rec.duplicate) counts.duplicates++;
        if (rec.late) counts.late++;
      } else counts.malformed++;
      lines++;
      chunk.push(line);
      chunkChars += line.length;
      if (chunkChars > 1 << 16) await flush();
      if (failed) break;
    }
    await flush();
  } finally {
    bar?.update(options.deals, { events: lines });
    bar?.stop();
  }
  if (file && !failed) {
    out.end();
    await Promise.race([once(out, 'finish'), once(out, 'error')]).catch(() => undefined);
  }
  if (failed) {
    // stdout closed early by the reader (e.g. `| head`) is not an error of ours.
    if (!file && (failed as NodeJS.ErrnoException).code === 'EPIPE') return EXIT_OK;
    process.stderr.write(`generate: cannot write ${file ?? 'stdout'}: ${failed.message}\n`);
    return EXIT_IO;
  }
  process.stderr.write(
    `generate: ${lines} lines (${counts.events} events incl. ${counts.duplicates} duplicates and ${counts.late} late, ${counts.malformed} malformed) for ${options.deals} deals${file ? ` -> ${file}` : ''}\n`,
  );
  return EXIT_OK;
}
