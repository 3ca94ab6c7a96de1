import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { endpoints, PROJECT_ROOT } from '../../shared/config.ts';
import type { ComponentStatus, StackComponent, StackContext } from '../component.ts';
import { ownedPid, portOpen, startDaemon, stopDaemon, tail, waitUntil } from '../process.ts';

/**
 * The ClickHouse HTTP endpoint over embedded chDB (`masterdeal clickhouse serve`),
 * run detached with its data in <stateDir>/clickhouse. If MASTERDEAL_CLICKHOUSE_URL
 * points elsewhere than this machine, the component only checks that server's health.
 */
const NAME = 'clickhouse';
const START_TIMEOUT_MS = 60_000;

const paths = (ctx: StackContext) => ({
  dataDir: join(ctx.stateDir, 'clickhouse'),
  pidFile: join(ctx.stateDir, 'run', 'clickhouse.pid'),
  logFile: join(ctx.stateDir, 'logs', 'clickhouse.log'),
});

function target(): { url: URL; port: number; local: boolean } {
  const url = new URL(endpoints().clickhouseUrl);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 8123));
  const local = ['localhost', '127.0.0.1', '[::1]', '::1'].includes(url.hostname) && url.protocol === 'http:';
  return { url, port, local };
}

/** Marker in the process's command line proving a pid is this stack's endpoint for this state dir. */
const marker = (ctx: StackContext) => `clickhouse serve --data-dir ${paths(ctx).dataDir}`;

/** Healthy = GET /ping answers "Ok." */
export async function clickhouseHealthy(base: URL = target().url): Promise<boolean> {
  const response = await fetch(new URL('/ping', base), { signal: AbortSignal.timeout(2_000) });
  return response.ok && (await response.text()).startsWith('Ok.');
}

export const component: StackComponent = {
  name: NAME,

  async install(ctx) {
    // chDB ships inside the npm package (prebuilt per platform): nothing to download, only to prove it loads.
    const chdb = createRequire(import.meta.url)('chdb') as { version(): { libchdb: string } };
    ctx.say(`clickhouse: embedded chDB ${chdb.version().libchdb.replace(/"/g, "")} available`);
  },

  async start(ctx) {
    const p = paths(ctx);
    const { url, port, local } = target();
    if (!local) {
      if (!(await clickhouseHealthy(url).catch(() => false))) {
        throw new Error(`clickhouse: ${url.origin} (MASTERDEAL_CLICKHOUSE_URL) does not answer GET /ping`);
      }
      ctx.say(`clickhouse: using the server at ${url.origin}`);
      return;
    }
    let pid = ownedPid(p.pidFile, marker(ctx));
    if (pid === undefined) {
      if (await clickhouseHealthy(url).catch(() => false)) {
        ctx.say(`clickhouse: a server already answers on ${url.host}; using it`);
        return;
      }
      if (await portOpen(port)) throw new Error(`clickhouse: port ${port} is taken by a process that does not answer GET /ping`);
      pid = startDaemon({
        command: process.execPath,
        args: [join(PROJECT_ROOT, 'scripts', 'masterdeal.mjs'), 'clickhouse', 'serve', '--data-dir', p.dataDir, '--port', String(port)],
        cwd: PROJECT_ROOT,
        logFile: p.logFile,
        pidFile: p.pidFile,
        marker: marker(ctx),
      });
    }
    try {
      await waitUntil(() => clickhouseHealthy(url), { timeoutMs: START_TIMEOUT_MS, intervalMs: 250, pid, what: 'clickhouse' });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${p.logFile} (tail) ---\n${tail(p.logFile)}`);
    }
  },

  async stop(ctx) {
    const p = paths(ctx);
    if (await stopDaemon(p.pidFile, marker(ctx))) ctx.say('clickhouse: stopped');
  },

  async status(ctx): Promise<ComponentStatus> {
    const p = paths(ctx);
    const { url, local } = target();
    const pid = local ? ownedPid(p.pidFile, marker(ctx)) : undefined;
    const healthy = await clickhouseHealthy(url).catch(() => false);
    return {
      name: NAME,
      running: pid !== undefined,
      healthy,
      endpoint: url.host,
      logFile: local ? p.logFile : undefined,
      pid,
      detail: !local ? 'external server' : pid === undefined && healthy ? 'not started by this stack' : `chDB endpoint, data in ${p.dataDir}`,
    };
  },

  async purge(ctx) {
    rmSync(paths(ctx).dataDir, { recursive: true, force: true });
  },
};
