import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../shared/config.ts';
import type { ComponentStatus, StackComponent } from '../component.ts';

/**
 * dbt-core + dbt-clickhouse in a project-local virtualenv (.venv-dbt/, gitignored),
 * pinned by scripts/requirements-dbt.txt. A tool, not a service: nothing to start.
 */
const NAME = 'dbt';
export const REQUIREMENTS_FILE = join(PROJECT_ROOT, 'scripts', 'requirements-dbt.txt');
/** The dbt project and its profiles.yml. */
export const DBT_PROJECT_DIR = join(PROJECT_ROOT, 'dbt');

export function dbtVenvDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MASTERDEAL_DBT_VENV ?? join(PROJECT_ROOT, '.venv-dbt');
}

/** The dbt executable inside the venv (exists once `stack install` ran). */
export function dbtExecutable(env: NodeJS.ProcessEnv = process.env): string {
  return join(dbtVenvDir(env), 'bin', 'dbt');
}

/** The venv's python (clickhouse-connect lives there too). */
export function dbtPython(env: NodeJS.ProcessEnv = process.env): string {
  return join(dbtVenvDir(env), 'bin', 'python');
}

const stampFile = () => join(dbtVenvDir(), '.requirements.sha256');
const requirementsHash = () => createHash('sha256').update(readFileSync(REQUIREMENTS_FILE)).digest('hex');

function run(command: string, args: string[], say?: (line: string) => void): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const collect = (d: Buffer) => {
      out += d.toString();
      if (say) for (const line of d.toString().split('\n')) if (line.trim()) say(`dbt: ${line.trim()}`);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolveRun(out) : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${out.slice(-4000)}`))));
  });
}

/** `dbt --version` output, or undefined when dbt is not installed or broken. */
export async function dbtVersion(): Promise<string | undefined> {
  if (!existsSync(dbtExecutable())) return undefined;
  return run(dbtExecutable(), ['--version']).catch(() => undefined);
}

export const component: StackComponent = {
  name: NAME,

  async install(ctx) {
    const venv = dbtVenvDir();
    const hash = requirementsHash();
    if (existsSync(stampFile()) && readFileSync(stampFile(), 'utf8').trim() === hash && (await dbtVersion())) return;
    if (!existsSync(dbtPython())) {
      ctx.say(`dbt: creating virtualenv ${venv}`);
      await run('python3', ['-m', 'venv', venv]);
    }
    ctx.say('dbt: installing scripts/requirements-dbt.txt from PyPI (dbt-core, dbt-clickhouse, clickhouse-connect; ~1-2 min)');
    await run(dbtPython(), ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off', '-q', '-r', REQUIREMENTS_FILE], ctx.say);
    const version = await dbtVersion();
    if (!version) throw new Error(`dbt: installed into ${venv} but \`dbt --version\` fails`);
    writeFileSync(stampFile(), `${hash}\n`);
    ctx.say(`dbt: ready (${version.split('\n').find((l) => l.includes('installed'))?.trim() ?? 'installed'})`);
  },

  async start() {
    // Nothing runs in the background: dbt is invoked per command.
  },

  async stop() {},

  async status(): Promise<ComponentStatus> {
    const version = await dbtVersion();
    const core = version?.match(/installed:\s*([\w.]+)/)?.[1];
    const adapter = version?.match(/clickhouse:\s*([\w.]+)/)?.[1];
    return {
      name: NAME,
      running: false,
      healthy: version !== undefined,
      endpoint: '-',
      detail: version ? `dbt-core ${core ?? '?'}, dbt-clickhouse ${adapter ?? '?'} in ${dbtVenvDir()}` : 'not installed (run `masterdeal stack install`)',
    };
  },

  async purge() {
    // The venv is a reinstallable tool, not data: keep it. dbt's build output is disposable.
    rmSync(join(DBT_PROJECT_DIR, 'target'), { recursive: true, force: true });
  },
};
