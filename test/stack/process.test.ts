import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isInstalled, installOnce } from '../../processors/stack/maven.ts';
import { isAlive, ownedPid, startDaemon, stopDaemon, tail, waitUntil } from '../../processors/stack/process.ts';

const dirs: string[] = [];
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), 'md-stack-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('stack daemons: pid files with an ownership marker', () => {
  it('starts a detached process, recognises it by its marker, stops it, and removes the pid file', async () => {
    const dir = scratch();
    const spec = {
      command: process.execPath,
      args: ['-e', 'console.log("daemon up"); setInterval(() => {}, 1000)', '--', 'md-marker-test'],
      logFile: join(dir, 'logs', 'd.log'),
      pidFile: join(dir, 'run', 'd.pid'),
      marker: 'md-marker-test',
    };
    const pid = startDaemon(spec);
    expect(ownedPid(spec.pidFile, spec.marker)).toBe(pid);
    await waitUntil(async () => tail(spec.logFile).includes('daemon up'), { timeoutMs: 10_000, what: 'daemon' });

    // Same pid, different marker: not ours, so never signalled.
    expect(ownedPid(spec.pidFile, 'someone-else')).toBeUndefined();
    expect(await stopDaemon(spec.pidFile, 'someone-else')).toBe(false);
    expect(isAlive(pid)).toBe(true);

    writeFileSync(spec.pidFile, `${pid}\n`);
    expect(await stopDaemon(spec.pidFile, spec.marker, 5_000)).toBe(true);
    expect(existsSync(spec.pidFile)).toBe(false);
    expect(ownedPid(spec.pidFile, spec.marker)).toBeUndefined();
  });

  it('treats a stale pid file (dead pid) as not running', () => {
    const dir = scratch();
    const pidFile = join(dir, 'x.pid');
    writeFileSync(pidFile, '999999999\n');
    expect(ownedPid(pidFile, 'anything')).toBeUndefined();
  });

  it('waitUntil gives up early, naming the process, when the process it waits for exits', async () => {
    const dir = scratch();
    const pid = startDaemon({
      command: process.execPath,
      args: ['-e', 'process.exit(3)', '--', 'md-exits'],
      logFile: join(dir, 'e.log'),
      pidFile: join(dir, 'e.pid'),
      marker: 'md-exits',
    });
    await expect(waitUntil(async () => false, { timeoutMs: 20_000, pid, what: 'exiter' })).rejects.toThrow(/exiter: process \d+ exited/);
  });

  it('tail returns the last lines of a log', () => {
    const file = join(scratch(), 'l.log');
    writeFileSync(file, Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n'));
    const last = tail(file, 3).trim().split('\n');
    expect(last).toEqual(['line 97', 'line 98', 'line 99']);
    expect(tail(join(scratch(), 'missing.log'))).toBe('');
  });
});

describe('cached installs', () => {
  it('a failed install leaves nothing that looks installed; a finished one is not redone', async () => {
    const target = join(scratch(), 'thing-1.0');
    await expect(
      installOnce(target, async (tmp) => {
        writeFileSync(join(tmp, 'half'), 'x');
        throw new Error('download broke');
      }),
    ).rejects.toThrow('download broke');
    expect(existsSync(target)).toBe(false);
    expect(isInstalled(target)).toBe(false);

    expect(await installOnce(target, async (tmp) => writeFileSync(join(tmp, 'lib.jar'), 'jar'))).toBe(true);
    expect(readFileSync(join(target, 'lib.jar'), 'utf8')).toBe('jar');
    expect(await installOnce(target, async () => { throw new Error('must not run again'); })).toBe(false);
  });
});
