import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A pid lock file: dbt runs that write the warehouse must not overlap (the scheduler, cron,
 * a person). A lock whose process is gone is stale and taken over.
 */
export interface Lock {
  release(): void;
}

export type LockResult = { acquired: true; lock: Lock } | { acquired: false; holderPid: number };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function tryLock(path: string): LockResult {
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return { acquired: true, lock: { release: () => rmSync(path, { force: true }) } };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holderPid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
      if (Number.isInteger(holderPid) && holderPid !== process.pid && alive(holderPid)) return { acquired: false, holderPid };
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new Error(`cannot take lock ${path}`);
}
