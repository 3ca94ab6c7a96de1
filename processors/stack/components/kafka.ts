import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { ComponentStatus, StackComponent, StackContext } from '../component.ts';
import { javaBin, ownerMarker } from '../java.ts';
import { copyDependencies, installOnce } from '../maven.ts';
import { ownedPid, portOpen, startDaemon, stopDaemon, tail, waitUntil } from '../process.ts';

/**
 * Single-node Kafka 4.x in KRaft combined mode (broker + controller in one JVM), resolved
 * from Maven Central (scripts/maven/kafka/pom.xml) and run straight from its jars.
 */
export const KAFKA_VERSION = process.env.MASTERDEAL_KAFKA_VERSION ?? '4.1.1';
export const KAFKA_PORT = 9092;
export const CONTROLLER_PORT = 9093;
const NAME = 'kafka';
const START_TIMEOUT_MS = 120_000;

const paths = (ctx: StackContext) => {
  const home = join(ctx.stateDir, 'kafka');
  return {
    lib: join(ctx.cacheDir, `kafka-${KAFKA_VERSION}`, 'lib'),
    home,
    data: join(home, 'data'),
    serverProperties: join(home, 'server.properties'),
    log4j: join(home, 'log4j2.properties'),
    pidFile: join(ctx.stateDir, 'run', 'kafka.pid'),
    logFile: join(ctx.stateDir, 'logs', 'kafka.log'),
  };
};

function serverProperties(dataDir: string): string {
  return `# Written by \`masterdeal stack up\` on every start; edit processors/stack/components/kafka.ts instead.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:${CONTROLLER_PORT}
listeners=PLAINTEXT://localhost:${KAFKA_PORT},CONTROLLER://localhost:${CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://localhost:${KAFKA_PORT},CONTROLLER://localhost:${CONTROLLER_PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${dataDir}
num.partitions=1
# One broker: every internal topic has a single replica.
offsets.topic.replication.factor=1
# Fewer coordinator partitions than the default 50: faster first start on a small machine.
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
# A dev box: no waiting for more group members before the first rebalance.
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.hours=168
`;
}

const LOG4J2 = `# Kafka logs to stdout, which the stack appends to <stateDir>/logs/kafka.log.
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRefs = stdout
rootLogger.appenderRef.stdout.ref = STDOUT
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
`;

/** Kafka's cluster id format: 16 random bytes, base64url without padding, not starting with '-'. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function javaArgs(ctx: StackContext, mainClass: string, args: string[], heap: string[]): string[] {
  const p = paths(ctx);
  return [
    ...heap,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${p.log4j}`,
    ownerMarker(NAME, ctx.stateDir),
    '-cp',
    `${p.lib}/*`,
    mainClass,
    ...args,
  ];
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolveRun(out) : reject(new Error(`${command} exited ${code}:\n${out}`))));
  });
}

/** Healthy = the broker answers metadata and has an active controller (KRaft quorum formed). */
export async function kafkaHealthy(brokers = [`localhost:${KAFKA_PORT}`]): Promise<boolean> {
  if (!(await portOpen(KAFKA_PORT))) return false;
  const admin = new Kafka({
    clientId: 'masterdeal-stack-health',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null && cluster.controller >= 0;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Kafka creates __consumer_offsets on the first group lookup and answers NOT_COORDINATOR
 * while it loads; kafkajs' sendOffsets (TxnOffsetCommit) does not retry that, so the first
 * transaction of a fresh broker failed. Look a group up once here so clients find it ready.
 */
async function warmUpCoordinators(): Promise<void> {
  const kafka = new Kafka({
    clientId: 'masterdeal-stack-warmup',
    brokers: [`localhost:${KAFKA_PORT}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 200 },
  });
  const admin = kafka.admin();
  // Same for __transaction_state: InitProducerId answers COORDINATOR_LOAD_IN_PROGRESS at first.
  const producer = kafka.producer({ transactionalId: 'masterdeal-stack-warmup', idempotent: true, maxInFlightRequests: 1 });
  try {
    await admin.connect();
    await admin.describeGroups(['masterdeal-stack-warmup']);
    await producer.connect();
    await (await producer.transaction()).abort();
  } finally {
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}

export const component: StackComponent = {
  name: NAME,

  async install(ctx) {
    const lib = paths(ctx).lib;
    const dir = join(lib, '..');
    const installed = await installOnce(dir, async (tmp) => {
      ctx.say(`kafka: resolving org.apache.kafka:kafka_2.13:${KAFKA_VERSION} from Maven Central (~45 MB)`);
      await copyDependencies('kafka', join(tmp, 'lib'), { 'kafka.version': KAFKA_VERSION });
    });
    if (installed) ctx.say(`kafka: installed in ${dir}`);
  },

  async start(ctx) {
    const p = paths(ctx);
    const marker = ownerMarker(NAME, ctx.stateDir);
    let pid = ownedPid(p.pidFile, marker);
    if (pid === undefined) {
      if (await kafkaHealthy().catch(() => false)) {
        ctx.say(`kafka: a broker already answers on localhost:${KAFKA_PORT}; using it`);
        return;
      }
      if (await portOpen(KAFKA_PORT)) throw new Error(`kafka: port ${KAFKA_PORT} is taken by another process that is not a Kafka broker`);
      mkdirSync(p.data, { recursive: true });
      writeFileSync(p.serverProperties, serverProperties(p.data));
      writeFileSync(p.log4j, LOG4J2);
      if (!existsSync(join(p.data, 'meta.properties'))) {
        ctx.say('kafka: formatting storage (first start)');
        const id = clusterId();
        await run(
          javaBin(),
          javaArgs(ctx, 'kafka.tools.StorageTool', ['format', '--standalone', '-t', id, '-c', p.serverProperties], ['-Xmx256m']),
        ).catch((err: Error) => {
          throw new Error(`kafka: formatting ${p.data} failed: ${err.message}`);
        });
      }
      pid = startDaemon({
        command: javaBin(),
        args: javaArgs(ctx, 'kafka.Kafka', [p.serverProperties], ['-Xms256m', '-Xmx768m']),
        logFile: p.logFile,
        pidFile: p.pidFile,
        marker,
      });
    }
    try {
      await waitUntil(() => kafkaHealthy(), { timeoutMs: START_TIMEOUT_MS, pid, what: 'kafka' });
      await warmUpCoordinators();
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${p.logFile} (tail) ---\n${tail(p.logFile)}`);
    }
  },

  async stop(ctx) {
    const p = paths(ctx);
    if (await stopDaemon(p.pidFile, ownerMarker(NAME, ctx.stateDir))) ctx.say('kafka: stopped');
  },

  async status(ctx): Promise<ComponentStatus> {
    const p = paths(ctx);
    const pid = ownedPid(p.pidFile, ownerMarker(NAME, ctx.stateDir));
    const healthy = await kafkaHealthy().catch(() => false);
    return {
      name: NAME,
      running: pid !== undefined,
      healthy,
      endpoint: `localhost:${KAFKA_PORT}`,
      logFile: p.logFile,
      pid,
      detail: pid === undefined && healthy ? 'not started by this stack' : `Kafka ${KAFKA_VERSION} (KRaft)`,
    };
  },

  async purge(ctx) {
    rmSync(paths(ctx).home, { recursive: true, force: true });
  },
};
