import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import type { ComponentStatus, StackComponent, StackContext } from '../component.ts';
import { availableJavas, ownerMarker } from '../java.ts';
import { installOnce, mvn, MAVEN_DIR } from '../maven.ts';
import { ownedPid, portOpen, startDaemon, stopDaemon, tail, waitUntil } from '../process.ts';

/**
 * Apicurio Registry 3.x (Confluent-compatible API at /apis/ccompat/v7) from Maven Central,
 * storing schemas in an H2 file under <stateDir>/registry so schema ids survive restarts.
 * 3.3.x is built for Java 21+; on a machine with only Java 17 we run 3.0.x, the last line
 * built for 17 (same ccompat API and storage settings).
 */
export const REGISTRY_PORT = 8081;
/** Quarkus' management interface (default 0.0.0.0:9000, which is ClickHouse's native port). */
const MANAGEMENT_PORT = 8091;
const NAME = 'registry';
const VERSION_FOR_JAVA21 = '3.3.3';
const VERSION_FOR_JAVA17 = '3.0.9';
const START_TIMEOUT_MS = 120_000;
export const CCOMPAT_PATH = '/apis/ccompat/v7';

let chosen: { version: string; java: string } | undefined;

/** Pick the registry version from the newest Java here (memoised: spawning `java -version` costs). */
function runtime(): { version: string; java: string } {
  if (chosen) return chosen;
  const javas = availableJavas();
  const newest = javas[0];
  if (!newest || newest.major < 17) throw new Error('no Java 17+ found: install openjdk-17-jre-headless');
  const pinned = process.env.MASTERDEAL_REGISTRY_VERSION;
  if (pinned) {
    chosen = { version: pinned, java: newest.bin };
  } else {
    chosen = newest.major >= 21 ? { version: VERSION_FOR_JAVA21, java: newest.bin } : { version: VERSION_FOR_JAVA17, java: newest.bin };
  }
  return chosen;
}

const paths = (ctx: StackContext, version: string) => ({
  app: join(ctx.cacheDir, `apicurio-registry-${version}`),
  data: join(ctx.stateDir, 'registry'),
  pidFile: join(ctx.stateDir, 'run', 'registry.pid'),
  logFile: join(ctx.stateDir, 'logs', 'registry.log'),
});

/** The runnable jar: 3.3.x has quarkus-run.jar at the root, 3.1.5–3.2.x under quarkus-app/, 3.0.x a *-runner.jar. */
function runnableJar(appDir: string): string {
  for (const candidate of [join(appDir, 'quarkus-run.jar'), join(appDir, 'quarkus-app', 'quarkus-run.jar')]) {
    if (existsSync(candidate)) return candidate;
  }
  const runner = readdirSync(appDir).find((f) => f.endsWith('-runner.jar'));
  if (!runner) throw new Error(`no quarkus-run.jar or *-runner.jar in ${appDir}`);
  return join(appDir, runner);
}

function untar(archive: string, into: string): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn('tar', ['xzf', archive, '-C', into], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolveRun() : reject(new Error(`tar exited ${code}: ${err}`))));
  });
}

export function registryUrl(): string {
  return `http://localhost:${REGISTRY_PORT}${CCOMPAT_PATH}`;
}

/** Healthy = the Confluent-compatible API lists subjects. */
export async function registryHealthy(url = registryUrl()): Promise<boolean> {
  if (!(await portOpen(REGISTRY_PORT))) return false;
  const res = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(3000) });
  await res.arrayBuffer();
  return res.ok;
}

export const component: StackComponent = {
  name: NAME,

  async install(ctx) {
    const { version } = runtime();
    const app = paths(ctx, version).app;
    const installed = await installOnce(app, async (tmp) => {
      ctx.say(`registry: fetching io.apicurio:apicurio-registry-app:${version} from Maven Central (~110-160 MB)`);
      const download = join(tmp, '.download');
      await mvn(['dependency:copy', `-Dapicurio.version=${version}`, `-DoutputDirectory=${download}`], join(MAVEN_DIR, 'registry'));
      const archive = readdirSync(download).find((f) => f.endsWith('.tar.gz'));
      if (!archive) throw new Error(`maven fetched no archive into ${download}`);
      await untar(join(download, archive), tmp);
      rmSync(download, { recursive: true, force: true });
      runnableJar(tmp);
    });
    if (installed) ctx.say(`registry: Apicurio ${version} installed in ${app}`);
  },

  async start(ctx) {
    const { version, java } = runtime();
    const p = paths(ctx, version);
    const marker = ownerMarker(NAME, ctx.stateDir);
    let pid = ownedPid(p.pidFile, marker);
    if (pid === undefined) {
      if (await registryHealthy().catch(() => false)) {
        ctx.say(`registry: a registry already answers on localhost:${REGISTRY_PORT}; using it`);
        return;
      }
      if (await portOpen(REGISTRY_PORT)) throw new Error(`registry: port ${REGISTRY_PORT} is taken by another process`);
      mkdirSync(p.data, { recursive: true });
      const props: Record<string, string> = {
        'quarkus.http.port': String(REGISTRY_PORT),
        'quarkus.http.host': '127.0.0.1',
        'quarkus.management.host': '127.0.0.1',
        'quarkus.management.port': String(MANAGEMENT_PORT),
        // The default is in-memory H2 (jdbc:h2:mem:…): ids would change on every restart.
        'apicurio.datasource.url': `jdbc:h2:file:${join(p.data, 'registry')}`,
        // @kafkajs/confluent-schema-registry compares GET /config/{subject} with its own default
        // (BACKWARD); Apicurio answers with the global rule, so make that rule BACKWARD too.
        'apicurio.rules.global.compatibility': 'BACKWARD',
        'apicurio.datasource.jdbc.initial-size': '2',
        'apicurio.datasource.jdbc.min-size': '2',
        'apicurio.datasource.jdbc.max-size': '20',
        'apicurio.storage.snapshot.location': p.data,
      };
      pid = startDaemon({
        command: java,
        args: [
          '-Xms128m',
          '-Xmx512m',
          // C1 only: a dev registry serves a few requests; this cuts start-up time on 2 cores.
          '-XX:TieredStopAtLevel=1',
          marker,
          ...Object.entries(props).map(([k, v]) => `-D${k}=${v}`),
          '-jar',
          runnableJar(p.app),
        ],
        cwd: p.data,
        logFile: p.logFile,
        pidFile: p.pidFile,
        marker,
      });
    }
    try {
      await waitUntil(() => registryHealthy(), { timeoutMs: START_TIMEOUT_MS, pid, what: 'registry' });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${p.logFile} (tail) ---\n${tail(p.logFile)}`);
    }
  },

  async stop(ctx) {
    const p = paths(ctx, runtime().version);
    if (await stopDaemon(p.pidFile, ownerMarker(NAME, ctx.stateDir))) ctx.say('registry: stopped');
  },

  async status(ctx): Promise<ComponentStatus> {
    const { version } = runtime();
    const p = paths(ctx, version);
    const pid = ownedPid(p.pidFile, ownerMarker(NAME, ctx.stateDir));
    const healthy = await registryHealthy().catch(() => false);
    return {
      name: NAME,
      running: pid !== undefined,
      healthy,
      endpoint: `http://localhost:${REGISTRY_PORT}${CCOMPAT_PATH}`,
      logFile: p.logFile,
      pid,
      detail: pid === undefined && healthy ? 'not started by this stack' : `Apicurio ${version}, H2 in ${p.data}`,
    };
  },

  async purge(ctx) {
    rmSync(paths(ctx, runtime().version).data, { recursive: true, force: true });
  },
};
