import type { TestProject } from 'vitest/node';
import { startTestStack, toEnv, type TestStack } from './env.ts';

/**
 * Brings up the real services once for the integration project and hands their endpoints to
 * the tests as MASTERDEAL_* variables (read by processors/shared/config.ts) and through
 * `inject('masterdealEnv')`. Teardown stops only what this run started.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    masterdealEnv: Record<string, string>;
  }
}

let started: TestStack | undefined;

export async function setup(project: TestProject): Promise<void> {
  const t0 = Date.now();
  started = await startTestStack();
  const env = toEnv(started.endpoints, started.mode);
  // Workers are forked after global setup, so they inherit these.
  Object.assign(process.env, env);
  project.provide('masterdealEnv', env);
  process.stderr.write(
    `[integration] ${started.mode} stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: ` +
      `kafka ${env.MASTERDEAL_KAFKA_BROKERS}, registry ${env.MASTERDEAL_REGISTRY_URL}, clickhouse ${env.MASTERDEAL_CLICKHOUSE_URL}\n`,
  );
}

export async function teardown(): Promise<void> {
  await started?.stop();
}
