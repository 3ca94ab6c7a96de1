import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PROJECT_ROOT } from '../shared/config.ts';

/**
 * Stack artifacts come from Maven Central through the small poms in scripts/maven/, so the
 * only prerequisites are Java 17 and Maven. Each install lands in its own cache directory,
 * written to a temporary sibling and renamed when complete: a broken download never looks installed.
 */
export const MAVEN_DIR = resolve(PROJECT_ROOT, 'scripts/maven');
const COMPLETE = '.complete';

export function isInstalled(dir: string): boolean {
  return existsSync(join(dir, COMPLETE));
}

/** Run `mvn` quietly; rejects with its output when it fails. */
export function mvn(args: string[], cwd: string): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn('mvn', ['-q', '-B', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', (err) =>
      reject(new Error(`cannot run mvn (${err.message}): install Maven (apt-get install maven) and Java 17`)),
    );
    child.once('exit', (code) =>
      code === 0 ? resolveRun() : reject(new Error(`mvn ${args.join(' ')} failed (exit ${code}):\n${output.slice(-4000)}`)),
    );
  });
}

/**
 * Install into `target` (once): `fill(tmpDir)` does the work, then tmpDir becomes `target`.
 * Returns false when it was already installed.
 */
export async function installOnce(target: string, fill: (tmpDir: string) => Promise<void>): Promise<boolean> {
  if (isInstalled(target)) return false;
  const tmp = `${target}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    await fill(tmp);
    writeFileSync(join(tmp, COMPLETE), `${new Date().toISOString()}\n`);
    rmSync(target, { recursive: true, force: true });
    renameSync(tmp, target);
    return true;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Copy the dependencies of scripts/maven/<pomDir>/pom.xml into `outDir`, with `-D` overrides. */
export function copyDependencies(pomDir: string, outDir: string, props: Record<string, string> = {}): Promise<void> {
  const defines = Object.entries(props).map(([k, v]) => `-D${k}=${v}`);
  return mvn(['dependency:copy-dependencies', `-DoutputDirectory=${outDir}`, ...defines], join(MAVEN_DIR, pomDir));
}
