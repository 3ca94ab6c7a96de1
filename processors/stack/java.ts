import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The `java` to run stack services with: $JAVA_HOME/bin/java when set (Java 17+), else the PATH one. */
export function javaBin(env: NodeJS.ProcessEnv = process.env): string {
  return env.JAVA_HOME ? join(env.JAVA_HOME, 'bin', 'java') : 'java';
}

/** Major version of a `java` binary (17, 21, 25…), or undefined if it does not run. */
export function javaMajor(bin: string): number | undefined {
  // A JDK's `release` file names its version: reading it avoids starting a JVM per candidate.
  const fromRelease = releaseMajor(bin);
  if (fromRelease !== undefined) return fromRelease;
  // `java -version` prints to stderr: openjdk version "17.0.15" / "25.0.3" / "1.8.0_x".
  const run = spawnSync(bin, ['-version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  return run.error ? undefined : parseMajor(`${run.stderr}${run.stdout}`);
}

function releaseMajor(bin: string): number | undefined {
  try {
    const resolved = bin.includes('/') ? bin : which(bin);
    if (!resolved) return undefined;
    const release = join(dirname(dirname(realpathSync(resolved))), 'release');
    if (!existsSync(release)) return undefined;
    const m = /^JAVA_VERSION="([^"]+)"/m.exec(readFileSync(release, 'utf8'));
    return m ? parseMajor(`version "${m[1]}"`) : undefined;
  } catch {
    return undefined;
  }
}

function which(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = join(dir, command);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

function parseMajor(text: string): number | undefined {
  const m = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  const first = Number(m[1]);
  return first === 1 && m[2] ? Number(m[2]) : first;
}

/**
 * Every Java on this machine, newest first: $JAVA_HOME, the PATH one, then /usr/lib/jvm/*
 * (Debian ships 17; a Temurin 25 may sit beside it).
 */
export function availableJavas(env: NodeJS.ProcessEnv = process.env): { bin: string; major: number }[] {
  const candidates = [javaBin(env), 'java'];
  const jvmDir = '/usr/lib/jvm';
  if (existsSync(jvmDir)) {
    for (const d of readdirSync(jvmDir).sort()) candidates.push(join(jvmDir, d, 'bin', 'java'));
  }
  const seen = new Set<string>();
  const found: { bin: string; major: number }[] = [];
  for (const bin of candidates) {
    if (seen.has(bin) || (bin.includes('/') && !existsSync(bin))) continue;
    seen.add(bin);
    const major = javaMajor(bin);
    if (major !== undefined) found.push({ bin, major });
  }
  return found.sort((a, b) => b.major - a.major);
}

/** The command-line marker that lets `stack down` recognise a process it started for this state dir. */
export function ownerMarker(component: string, stateDir: string): string {
  return `-Dmasterdeal.stack=${component}@${stateDir}`;
}
