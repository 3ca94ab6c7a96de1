import { z } from 'zod';

/**
 * API server settings, from the environment (secrets never live in the repo):
 * - MASTERDEAL_API_PORT / MASTERDEAL_API_HOST: where to listen (8080 / 127.0.0.1);
 * - MASTERDEAL_API_KEYS: comma-separated keys accepted as `X-API-Key: <key>` or `Authorization: Bearer <key>`;
 * - MASTERDEAL_API_READ_AUTH: `open` (default: reads and the dashboard need no key) or `required`;
 * - MASTERDEAL_API_BODY_LIMIT: largest accepted request body in bytes (default 1 MiB; larger -> 413);
 * - MASTERDEAL_API_MAX_BATCH: most envelopes in one POST /events (default 1000; more -> 413).
 * Writes (POST /events) always need a key; with no key configured intake answers 401.
 */
export interface ApiConfig {
  port: number;
  host: string;
  apiKeys: string[];
  readAuth: 'open' | 'required';
  bodyLimit: number;
  maxBatch: number;
  /** How often the live stream looks for new data (ms). */
  livePollMs: number;
}

const schema = z.object({
  port: z.coerce.number().int().min(0).max(65535),
  host: z.string().min(1),
  apiKeys: z.array(z.string().min(8, 'an API key must have at least 8 characters')),
  readAuth: z.enum(['open', 'required']),
  bodyLimit: z.coerce.number().int().min(1024),
  maxBatch: z.coerce.number().int().min(1),
  livePollMs: z.coerce.number().int().min(100),
});

export function apiConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<ApiConfig> = {}): ApiConfig {
  const parsed = schema.safeParse({
    port: env.MASTERDEAL_API_PORT ?? 8080,
    host: env.MASTERDEAL_API_HOST ?? '127.0.0.1',
    apiKeys: (env.MASTERDEAL_API_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean),
    readAuth: env.MASTERDEAL_API_READ_AUTH ?? 'open',
    bodyLimit: env.MASTERDEAL_API_BODY_LIMIT ?? 1024 * 1024,
    maxBatch: env.MASTERDEAL_API_MAX_BATCH ?? 1000,
    livePollMs: env.MASTERDEAL_API_LIVE_POLL_MS ?? 2000,
    ...overrides,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid API configuration at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}
