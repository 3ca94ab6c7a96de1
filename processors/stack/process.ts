import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Detached background processes owned by the stack: started with a pid file and a marker
 * in their command line, so `stack down` can prove a pid is ours before signalling it
 * (a stale pid file may name a pid the OS gave to something else since).
 */
export interface DaemonSpec {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  logFile: string;
  pidFile: string;
  /** A string that must appear in /proc/<pid>/cmdline for the pid to count as ours. */
  marker: string;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** The live pid recorded in `pidFile` if its command line carries `marker`, else undefined. */
export function ownedPid(pidFile: string, marker: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  // A zombie (exited, not yet reaped) still answers kill(0) but has an empty cmdline.
  return commandLine(pid).includes(marker) ? pid : undefined;
}

/** Start `spec` in its own session, stdout+stderr appended to its log file; returns the pid. */
export function startDaemon(spec: DaemonSpec): number {
  mkdirSync(dirname(spec.logFile), { recursive: true });
  mkdirSync(dirname(spec.pidFile), { recursive: true });
  const out = openSync(spec.logFile, 'a');
  try {
    writeFileSync(out, `\n==== ${new Date().toISOString()} starting: ${spec.command} ${spec.args.join(' ')}\n`);
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      detached: true,
      stdio: ['ignore', out, out],
    });
    if (child.pid === undefined) throw new Error(`could not start ${spec.command}`);
    child.unref();
    writeFileSync(spec.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/** SIGTERM the owned process, wait up to `graceMs`, then SIGKILL. Returns whether something was stopped. */
export async function stopDaemon(pidFile: string, marker: string, graceMs = 30_000): Promise<boolean> {
  const pid = ownedPid(pidFile, marker);
  if (pid === undefined) {
    rmSync(pidFile, { force: true });
    return false;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && commandLine(pid) !== '' && Date.now() < deadline) await sleep(200);
  if (isAlive(pid) && commandLine(pid) !== '') process.kill(pid, 'SIGKILL');
  rmSync(pidFile, { force: true });
  return true;
}

/** Last `lines` lines of a log file (for error messages); empty if missing. */
export function tail(file: string, lines = 40): string {
  if (!existsSync(file)) return '';
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  try {
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    readSyncAll(fd, buf, size - len);
    return buf.toString('utf8').replace(/\n$/, '').split('\n').slice(-lines).join('\n');
  } finally {
    closeSync(fd);
  }
}

function readSyncAll(fd: number, buf: Buffer, position: number): void {
  let off = 0;
  while (off < buf.length) {
    const n = readSync(fd, buf, off, buf.length - off, position + off);
    if (n === 0) break;
    off += n;
  }
}

/** True if something accepts TCP connections on host:port. */
export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolveOpen) => {
    const socket = createConnection({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolveOpen(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Give up early when the process we wait for has died. */
  pid?: number;
  what: string;
}

/** Poll `check` until it resolves true; throws on timeout or when `pid` dies. */
export async function waitUntil(check: () => Promise<boolean>, opts: WaitOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (opts.pid !== undefined && (!isAlive(opts.pid) || commandLine(opts.pid) === '')) {
      throw new Error(`${opts.what}: process ${opts.pid} exited before becoming healthy`);
    }
    if (Date.now() > deadline) throw new Error(`${opts.what}: not healthy after ${Math.round(opts.timeoutMs / 1000)} s`);
    await sleep(opts.intervalMs ?? 500);
  }
}
