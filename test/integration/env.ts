import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../../processors/stack/process.ts';
import type { ComponentStatus } from '../../processors/stack/component.ts';
import * as stack from '../../processors/stack/stack.ts';

/**
 * The real services integration tests run against: containers (testcontainers) when a Docker
 * engine is reachable, else the local stack of `masterdeal stack up`. Either way the tests
 * see only endpoints, passed on as MASTERDEAL_* environment variables.
 */
export interface TestEndpoints {
  kafkaBrokers: string[];
  registryUrl: string;
  clickhouseUrl: string;
  clickhouseUser: string;
  clickhousePassword: string;
}

export interface TestStack {
  mode: 'containers' | 'local';
  endpoints: TestEndpoints;
  /** Stops what this call started; a stack that was already up is left running. */
  stop(): Promise<void>;
}

/** Images for container mode: the same versions docker-compose.yml pins (cp-kafka 8.0 is Apache Kafka 4.0). */
export const TEST_IMAGES = {
  kafka: 'confluentinc/cp-kafka:8.0.0',
  registry: 'apicurio/apicurio-registry:3.3.3',
  clickhouse: 'clickhouse/clickhouse-server:25.8',
} as const;

export function toEnv(e: TestEndpoints, mode: TestStack['mode']): Record<string, string> {
  return {
    MASTERDEAL_KAFKA_BROKERS: e.kafkaBrokers.join(','),
    MASTERDEAL_REGISTRY_URL: e.registryUrl,
    MASTERDEAL_CLICKHOUSE_URL: e.clickhouseUrl,
    MASTERDEAL_CLICKHOUSE_USER: e.clickhouseUser,
    MASTERDEAL_CLICKHOUSE_PASSWORD: e.clickhousePassword,
    MASTERDEAL_TEST_STACK: mode,
  };
}

/** MASTERDEAL_TEST_STACK=local|containers forces a mode; otherwise containers only with a Docker engine. */
async function dockerReachable(): Promise<boolean> {
  const forced = process.env.MASTERDEAL_TEST_STACK;
  if (forced === 'local') return false;
  if (forced === 'containers') return true;
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

export async function startTestStack(): Promise<TestStack> {
  return (await dockerReachable()) ? startContainers() : startLocal();
}

/**
 * Test runs share the local stack (fixed ports). Each run holds a lease file naming the
 * components it started; the last run to leave stops everything test runs started, so one
 * run's teardown never pulls the stack from under another one still running.
 */
function leaseDir(stateDir: string): string {
  return join(stateDir, 'run', 'test-leases');
}

/** Other test runs still holding a lease; leases of runs that died (no teardown) are removed. */
function liveLeases(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const live: string[] = [];
  for (const f of readdirSync(dir).filter((name) => /^\d+$/.test(name) && name !== String(process.pid))) {
    if (isAlive(Number(f))) live.push(f);
    else rmSync(join(dir, f), { force: true });
  }
  return live;
}

function readNames(file: string): string[] {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as string[]) : [];
}

async function startLocal(): Promise<TestStack> {
  const ctx = stack.defaultContext((line) => process.stderr.write(`[stack] ${line}\n`));
  const components = await stack.loadComponents();
  const before = await stack.status(ctx, components);
  const wasHealthy = new Set(before.filter((s: ComponentStatus) => s.healthy).map((s) => s.name));
  const leases = leaseDir(ctx.stateDir);
  const myLease = join(leases, String(process.pid));
  mkdirSync(leases, { recursive: true });
  liveLeases(leases);
  writeFileSync(myLease, '[]');
  await stack.up(ctx, components);
  writeFileSync(myLease, JSON.stringify(components.filter((c) => !wasHealthy.has(c.name)).map((c) => c.name)));
  const { kafkaHealthy, KAFKA_PORT } = await import('../../processors/stack/components/kafka.ts');
  const { registryUrl } = await import('../../processors/stack/components/registry.ts');
  if (!(await kafkaHealthy())) throw new Error(`kafka on localhost:${KAFKA_PORT} is not healthy after stack up`);
  const { endpoints } = await import('../../processors/shared/config.ts');
  const configured = endpoints();
  return {
    mode: 'local',
    endpoints: {
      kafkaBrokers: [`localhost:${KAFKA_PORT}`],
      registryUrl: registryUrl(),
      clickhouseUrl: configured.clickhouseUrl,
      clickhouseUser: configured.clickhouseUser,
      clickhousePassword: configured.clickhousePassword,
    },
    async stop() {
      const pending = join(leases, 'started-by-tests.json');
      const toStop = new Set([...readNames(myLease), ...readNames(pending)]);
      rmSync(myLease, { force: true });
      if (liveLeases(leases).length > 0) {
        // Someone else is still testing: hand our components over to the last one out.
        writeFileSync(pending, JSON.stringify([...toStop]));
        return;
      }
      rmSync(pending, { force: true });
      const started = components.filter((c) => toStop.has(c.name));
      if (started.length > 0) await stack.down(ctx, started);
    },
  };
}

async function startContainers(): Promise<TestStack> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const { ClickHouseContainer } = await import('@testcontainers/clickhouse');
  const [kafka, registry, clickhouse] = await Promise.all([
    new KafkaContainer(TEST_IMAGES.kafka).withKraft().start(),
    new GenericContainer(TEST_IMAGES.registry)
      .withEnvironment({ APICURIO_RULES_GLOBAL_COMPATIBILITY: 'BACKWARD' })
      .withExposedPorts(8080)
      .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080).forStatusCode(200))
      .start(),
    new ClickHouseContainer(TEST_IMAGES.clickhouse).start(),
  ]);
  return {
    mode: 'containers',
    endpoints: {
      kafkaBrokers: [`${kafka.getHost()}:${kafka.getMappedPort(9093)}`],
      registryUrl: `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`,
      clickhouseUrl: clickhouse.getHttpUrl(),
      clickhouseUser: clickhouse.getUsername(),
      clickhousePassword: clickhouse.getPassword(),
    },
    async stop() {
      await Promise.all([kafka.stop(), registry.stop(), clickhouse.stop()]);
    },
  };
}
