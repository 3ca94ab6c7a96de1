import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs no services; `integration` talks to the real stack
// (Kafka, Apicurio, ClickHouse endpoint, dbt) that test/integration/global-setup.ts provides.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
