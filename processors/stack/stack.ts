import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stateDir } from '../shared/config.ts';
import type { ComponentStatus, StackComponent, StackContext } from './component.ts';

/**
 * The local stack without Docker: components started in dependency order (the registry
 * may store its data in Kafka; ClickHouse and dbt come last), stopped in reverse.
 * Components other engineers add later are picked up when their file exists.
 */
export const COMPONENT_ORDER = ['kafka', 'registry', 'clickhouse', 'dbt'] as const;

const COMPONENTS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'components');

export class StackError extends Error {
  constructor(
    readonly component: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${component}: ${message}`, options);
    this.name = 'StackError';
  }
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.MASTERDEAL_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'masterdeal'));
}

export function defaultContext(say: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): StackContext {
  return { stateDir: stateDir(), cacheDir: cacheDir(), say };
}

/** Components present in this checkout, in start order; `only` narrows by name. */
export async function loadComponents(only?: string[]): Promise<StackComponent[]> {
  const unknown = only?.filter((n) => !(COMPONENT_ORDER as readonly string[]).includes(n)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown component(s): ${unknown.join(', ')} (known: ${COMPONENT_ORDER.join(', ')})`);
  const found: StackComponent[] = [];
  for (const name of COMPONENT_ORDER) {
    if (only && !only.includes(name)) continue;
    const file = join(COMPONENTS_DIR, `${name}.ts`);
    if (!existsSync(file)) continue;
    const mod = (await import(file)) as { component?: StackComponent };
    if (!mod.component) throw new Error(`${file} does not export \`component: StackComponent\``);
    found.push(mod.component);
  }
  return found;
}

async function timed<T>(component: string, step: string, ctx: StackContext, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    const result = await work();
    ctx.say(`${component}: ${step} ok (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return result;
  } catch (err) {
    throw new StackError(component, `${step} failed: ${(err as Error).message}`, { cause: err });
  }
}

export async function install(ctx: StackContext, components: StackComponent[]): Promise<void> {
  for (const c of components) await timed(c.name, 'install', ctx, () => c.install(ctx));
}

/** Install (cached), start and wait for each component in order; stops at the first failure. */
export async function up(ctx: StackContext, components: StackComponent[]): Promise<ComponentStatus[]> {
  const statuses: ComponentStatus[] = [];
  for (const c of components) {
    await timed(c.name, 'install', ctx, () => c.install(ctx));
    await timed(c.name, 'start', ctx, () => c.start(ctx));
    statuses.push(await c.status(ctx));
  }
  return statuses;
}

/** Stop in reverse order what this stack started; `purge` also deletes the data. */
export async function down(ctx: StackContext, components: StackComponent[], opts: { purge?: boolean } = {}): Promise<void> {
  const errors: string[] = [];
  for (const c of [...components].reverse()) {
    try {
      await c.stop(ctx);
      if (opts.purge && c.purge) {
        await c.purge(ctx);
        ctx.say(`${c.name}: data removed`);
      }
    } catch (err) {
      errors.push(`${c.name}: ${(err as Error).message}`);
    }
  }
  if (errors.length > 0) throw new Error(`stack down finished with errors:\n${errors.join('\n')}`);
}

export async function status(ctx: StackContext, components: StackComponent[]): Promise<ComponentStatus[]> {
  return Promise.all(components.map((c) => c.status(ctx)));
}

/** A plain-text table for `stack status` / `stack up`. */
export function formatStatusTable(rows: ComponentStatus[]): string {
  const header = ['COMPONENT', 'STATE', 'ENDPOINT', 'PID', 'LOG', 'DETAIL'];
  const lines = rows.map((r) => [
    r.name,
    r.healthy ? 'healthy' : r.running ? 'unhealthy' : 'stopped',
    r.endpoint,
    r.pid === undefined ? '-' : String(r.pid),
    r.logFile ?? '-',
    r.detail ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  return [header, ...lines].map((cols) => cols.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}
