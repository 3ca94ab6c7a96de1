/**
 * One part of the local stack (Kafka broker, schema registry, ClickHouse endpoint, dbt).
 * `stack up` installs (cached), starts and waits for each in order; `stack down` stops
 * what it started, by pid. Each component lives in its own file in ./components.
 */
export interface StackContext {
  /** Project-local state directory (data, logs, pid files), e.g. `.masterdeal/`. */
  stateDir: string;
  /** Where downloaded artifacts are cached across checkouts, e.g. `~/.cache/masterdeal`. */
  cacheDir: string;
  /** Progress/status lines for the user (stderr). */
  say(line: string): void;
}

export interface ComponentStatus {
  name: string;
  running: boolean;
  healthy: boolean;
  /** Where it listens, e.g. `localhost:9092`, or `-` for tools like dbt. */
  endpoint: string;
  logFile?: string;
  pid?: number;
  detail?: string;
}

export interface StackComponent {
  name: string;
  /** Install or verify the cached installation; idempotent, fast when cached. */
  install(ctx: StackContext): Promise<void>;
  /** Start if not already running and healthy; resolve once healthy, reject with the log tail otherwise. */
  start(ctx: StackContext): Promise<void>;
  /** Stop only the process this stack started (pid file); keep data. */
  stop(ctx: StackContext): Promise<void>;
  status(ctx: StackContext): Promise<ComponentStatus>;
  /** Remove this component's data (used by `stack down --purge`). */
  purge?(ctx: StackContext): Promise<void>;
}
