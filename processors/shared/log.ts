import pino from 'pino';

/** Structured JSON logs on stderr, so stdout stays free for command output. */
export const log = pino(
  { level: process.env.MASTERDEAL_LOG_LEVEL ?? 'info', base: { service: 'masterdeal' } },
  pino.destination(2),
);
