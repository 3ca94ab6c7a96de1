import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tryLock } from '../../processors/dbt/lock.ts';
import { EXIT_LOCKED } from '../../processors/dbt/run.ts';
import { parseEvery, runSchedule, scheduleLockPath } from '../../processors/dbt/schedule.ts';

const homes: string[] = [];
function home(): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), 'md-sched-'));
  homes.push(dir);
  return { MASTERDEAL_HOME: dir };
}
afterEach(() => {
  for (const dir of homes.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('parseEvery', () => {
  it('reads h/m/s durations and rejects the rest', () => {
    expect(parseEvery('15m')).toBe(900_000);
    expect(parseEvery('1h30m')).toBe(5_400_000);
    expect(parseEvery('90s')).toBe(90_000);
    expect(parseEvery('0m')).toBeUndefined();
    expect(parseEvery('15 minutes')).toBeUndefined();
    expect(parseEvery('')).toBeUndefined();
  });
});

describe('tryLock', () => {
  it('refuses a lock held by a live process and takes over a stale one', () => {
    const env = home();
    const path = join(env.MASTERDEAL_HOME!, 'x.lock');
    const first = tryLock(path);
    expect(first.acquired).toBe(true);
    writeFileSync(path, `${process.ppid}\n`); // a live process other than us holds it
    expect(tryLock(path)).toEqual({ acquired: false, holderPid: process.ppid });
    writeFileSync(path, '999999999\n'); // no such process: stale
    const taken = tryLock(path);
    expect(taken.acquired).toBe(true);
    if (taken.acquired) taken.lock.release();
  });
});

describe('runSchedule', () => {
  it('runs one build at a time, survives a failing and a throwing run, and skips a locked one', async () => {
    const env = home();
    const outcomes = [
      { exitCode: 1, recordedRows: 3 },
      'throw',
      { exitCode: EXIT_LOCKED, recordedRows: 0, locked: { holderPid: 123 } },
      { exitCode: 0, recordedRows: 5 },
    ] as const;
    let running = 0;
    let maxConcurrent = 0;
    let call = 0;
    const events: string[] = [];
    const runs = await runSchedule({
      everyMs: 1,
      args: ['build'],
      maxRuns: 4,
      env,
      log: (e) => events.push(String(e.event)),
      run: async () => {
        running += 1;
        maxConcurrent = Math.max(maxConcurrent, running);
        await new Promise((r) => setTimeout(r, 5));
        running -= 1;
        const outcome = outcomes[call++];
        if (outcome === 'throw') throw new Error('dbt exploded');
        return outcome;
      },
    });
    expect(runs).toBe(4);
    expect(maxConcurrent).toBe(1);
    expect(events.filter((e) => e !== 'dbt.run.start')).toEqual(['dbt.run.failed', 'dbt.run.failed', 'dbt.run.skipped', 'dbt.run.ok']);
  });

  it('refuses to start while another schedule holds its lock', async () => {
    const env = home();
    mkdirSync(join(env.MASTERDEAL_HOME!, 'dbt'), { recursive: true });
    writeFileSync(scheduleLockPath(env), `${process.ppid}\n`);
    await expect(runSchedule({ everyMs: 1, args: ['build'], maxRuns: 1, env, log: () => {}, run: async () => ({ exitCode: 0, recordedRows: 0 }) }))
      .rejects.toThrow(/another dbt schedule is running/);
  });
});
