import { join } from 'node:path';
import { stateDir } from '../shared/config.ts';
import { tryLock } from './lock.ts';
import { EXIT_LOCKED, runDbt, type DbtRunResult } from './run.ts';

/** `15m`, `1h`, `90s`, `1h30m` -> milliseconds; undefined when not a positive duration. */
export function parseEvery(text: string): number | undefined {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text.trim());
  if (!match || text.trim() === '') return undefined;
  const ms = (Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0)) * 1000;
  return ms > 0 ? ms : undefined;
}

export interface ScheduleOptions {
  everyMs: number;
  /** dbt arguments of each run, default `build`. */
  args: string[];
  /** Stop after this many runs (tests, one-shot cron use); default forever. */
  maxRuns?: number;
  signal?: AbortSignal;
  log: (entry: Record<string, unknown>) => void;
  env?: NodeJS.ProcessEnv;
  /** Injected for tests; default runDbt. */
  run?: (args: string[]) => Promise<DbtRunResult>;
}

export function scheduleLockPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), 'dbt', 'schedule.lock');
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolveSleep) => {
    if (signal?.aborted) return resolveSleep();
    const timer = setTimeout(resolveSleep, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolveSleep();
    }, { once: true });
  });

/**
 * Runs dbt every `everyMs`, one run at a time: a run that takes longer than the interval delays
 * the next one (never overlaps it); a run held off by another process's lock is skipped; a
 * failing run is logged and the schedule goes on. Returns the number of runs started.
 */
export async function runSchedule(options: ScheduleOptions): Promise<number> {
  const own = tryLock(scheduleLockPath(options.env));
  if (!own.acquired) throw new Error(`another dbt schedule is running (pid ${own.holderPid})`);
  const run = options.run ?? ((args: string[]) => runDbt(args, { env: options.env }));
  let runs = 0;
  try {
    while (!options.signal?.aborted && (options.maxRuns === undefined || runs < options.maxRuns)) {
      const startedAt = Date.now();
      runs += 1;
      options.log({ event: 'dbt.run.start', run: runs, args: options.args });
      try {
        const result = await run(options.args);
        const seconds = (Date.now() - startedAt) / 1000;
        if (result.exitCode === EXIT_LOCKED) {
          options.log({ event: 'dbt.run.skipped', run: runs, reason: `another dbt run holds the lock (pid ${result.locked?.holderPid})` });
        } else {
          options.log({ event: result.exitCode === 0 ? 'dbt.run.ok' : 'dbt.run.failed', run: runs, exitCode: result.exitCode, seconds, recordedRows: result.recordedRows, recordError: result.recordError });
        }
      } catch (error) {
        options.log({ event: 'dbt.run.failed', run: runs, error: (error as Error).message });
      }
      if (options.maxRuns !== undefined && runs >= options.maxRuns) break;
      await sleep(Math.max(0, startedAt + options.everyMs - Date.now()), options.signal);
    }
  } finally {
    own.lock.release();
  }
  return runs;
}
