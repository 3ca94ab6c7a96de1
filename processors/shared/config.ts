import { resolve } from 'node:path';

/**
 * Endpoints and locations, from the environment with local-stack defaults.
 * Secrets (passwords, API keys) only ever come from the environment.
 */
export const PROJECT_ROOT = resolve(new URL('../..', import.meta.url).pathname);

export interface Endpoints {
  kafkaBrokers: string[];
  registryUrl: string;
  clickhouseUrl: string;
  clickhouseUser: string;
  clickhousePassword: string;
  clickhouseDatabase: string;
}

export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.MASTERDEAL_HOME ?? resolve(PROJECT_ROOT, '.masterdeal'));
}

export function endpoints(env: NodeJS.ProcessEnv = process.env): Endpoints {
  return {
    kafkaBrokers: (env.MASTERDEAL_KAFKA_BROKERS ?? 'localhost:9092').split(',').map((s) => s.trim()),
    registryUrl: env.MASTERDEAL_REGISTRY_URL ?? 'http://localhost:8081/apis/ccompat/v7',
    clickhouseUrl: env.MASTERDEAL_CLICKHOUSE_URL ?? 'http://localhost:8123',
    clickhouseUser: env.MASTERDEAL_CLICKHOUSE_USER ?? 'default',
    clickhousePassword: env.MASTERDEAL_CLICKHOUSE_PASSWORD ?? '',
    clickhouseDatabase: env.MASTERDEAL_CLICKHOUSE_DATABASE ?? 'masterdeal',
  };
}
