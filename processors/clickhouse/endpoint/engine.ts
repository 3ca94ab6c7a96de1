import { mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Session } from 'chdb';
import { endpointError, fromEngineError } from './errors.ts';
import {
  createdTemporaryTable, quoteIdentifier, quoteString, setAssignments, statementKind, tokens, useDatabase,
} from './sql.ts';

/**
 * One embedded chDB engine over one data directory, used by every HTTP request.
 *
 * chDB has a single query context per process: `SET`, `USE`, query parameters
 * and temporary tables are global to it. ClickHouse's HTTP sessions are emulated
 * here by running requests one at a time (a promise queue) and, before each,
 * bringing the engine's settings and current database to what that request's
 * session plus URL ask for (only the difference is `SET`, so a steady client
 * costs no extra statements). Temporary tables are remembered per session and
 * dropped when it expires, but are visible to every session meanwhile.
 */

export interface EngineQuery {
  sessionId?: string;
  sessionTimeoutSec: number;
  sessionCheck: boolean;
  database?: string;
  /** Engine settings for this query only, as SQL literals. */
  settings: ReadonlyMap<string, string>;
  params: ReadonlyMap<string, string>;
  /** The statement; for an insert with `insertData`, the `INSERT … FORMAT x` prefix. */
  sql: string;
  /** Raw bytes following an `INSERT … FORMAT x` (binary formats included). */
  insertData?: Buffer;
  /** Output format when the statement names none. */
  format: string;
}

export interface EngineResult {
  body: Buffer;
  readRows: number;
  readBytes: number;
  writtenRows: number;
  writtenBytes: number;
  elapsedNs: number;
}

interface SessionState {
  settings: Map<string, string>;
  database?: string;
  tempTables: Set<string>;
  timeoutMs: number;
  expiresAt: number;
}

interface NativeResult { bytes?: Buffer; elapsed?: number; rowsRead?: number; bytesRead?: number; rowsWritten?: number; bytesWritten?: number }
interface NativeAddon {
  InsertRawAsyncConnection?(connection: unknown, prefix: string, data: Buffer, countLines: boolean): Promise<NativeResult>;
}

const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** chDB's raw-insert entry is binary safe but not public API; fall back to `FROM INFILE` if it moves. */
function loadNativeAddon(): NativeAddon {
  try {
    const require = createRequire(import.meta.url);
    const chdbDir = dirname(require.resolve('chdb'));
    return (require(join(chdbDir, 'dist', 'loader.js')) as { loadNative(): NativeAddon }).loadNative();
  } catch {
    return {};
  }
}

export interface EngineOptions {
  dataDir: string;
  /** Databases created with ENGINE = Atomic at start (chDB's `default` is Overlay, which cannot EXCHANGE TABLES). */
  databases: readonly string[];
}

export class ChdbEngine {
  private readonly session: Session;
  private readonly native = loadNativeAddon();
  private tail: Promise<unknown> = Promise.resolve();
  /** Settings the engine currently holds that differ from its start-up values (name → SQL literal). */
  private applied = new Map<string, string>();
  /** Values chDB itself changed at start-up; resetting restores these, not the ClickHouse defaults. */
  private baseline = new Map<string, string>();
  private currentDatabase = 'default';
  private readonly sessions = new Map<string, SessionState>();
  private readonly sweeper: NodeJS.Timeout;
  version = '';
  timezone = 'UTC';

  private constructor(readonly dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.session = new Session(dataDir);
    this.sweeper = setInterval(() => void this.expireSessions(), 5_000);
    this.sweeper.unref();
  }

  static async open(options: EngineOptions): Promise<ChdbEngine> {
    const engine = new ChdbEngine(options.dataDir);
    const [version, timezone] = (await engine.text('SELECT version(), timezone()')).trim().split('\t');
    engine.version = version;
    engine.timezone = timezone;
    for (const line of (await engine.text('SELECT name, value FROM system.settings WHERE changed')).split('\n')) {
      const [name, value] = line.split('\t');
      if (name) engine.baseline.set(name, quoteString(unescapeTsv(value ?? '')));
    }
    for (const db of options.databases) {
      await engine.text(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(db)} ENGINE = Atomic`);
    }
    return engine;
  }

  /** Runs one request's statement in its session's context; requests never overlap. */
  execute(query: EngineQuery): Promise<EngineResult> {
    return this.serially(() => this.run(query));
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.serially(async () => this.session.close());
  }

  private serially<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async run(query: EngineQuery): Promise<EngineResult> {
    const session = this.sessionFor(query);
    const desired = new Map(session?.settings ?? []);
    for (const [name, literal] of query.settings) desired.set(name, literal);
    await this.syncSettings(desired);
    for (const [name, value] of query.params) {
      if (!SETTING_NAME.test(name)) throw endpointError('BAD_ARGUMENTS', `Invalid query parameter name '${name}'`);
      await this.raw(`SET param_${name} = ${quoteString(value)}`);
    }
    const database = query.database ?? session?.database ?? 'default';
    if (database !== this.currentDatabase) {
      await this.raw(`USE ${quoteIdentifier(database)}`);
      this.currentDatabase = database;
    }

    const kind = statementKind(query.sql);
    const assignments = kind === 'SET' ? setAssignments(query.sql) : [];
    if (assignments.some((a) => a.name.toLowerCase() === 'readonly')) {
      // A readonly engine could never be reset for the next session.
      throw endpointError('NOT_IMPLEMENTED', "SET readonly is not supported by this endpoint; pass readonly=1 as a URL parameter instead");
    }

    const result = query.insertData ? await this.insert(query.sql, query.insertData) : await this.query(query.sql, query.format);

    for (const a of assignments) {
      this.applied.set(a.name, a.valueSql);
      session?.settings.set(a.name, a.valueSql);
    }
    const used = kind === 'USE' ? useDatabase(query.sql) : undefined;
    if (used) {
      this.currentDatabase = used;
      if (session) session.database = used;
    }
    const temp = kind === 'CREATE' ? createdTemporaryTable(query.sql) : undefined;
    if (temp) {
      if (session) session.tempTables.add(temp);
      else await this.raw(`DROP TEMPORARY TABLE IF EXISTS ${quoteIdentifier(temp)}`).catch(() => undefined);
    }
    return result;
  }

  private sessionFor(query: EngineQuery): SessionState | undefined {
    if (!query.sessionId) return undefined;
    const now = Date.now();
    let state = this.sessions.get(query.sessionId);
    if (!state) {
      if (query.sessionCheck) throw endpointError('SESSION_NOT_FOUND', `Session ${query.sessionId} not found`);
      state = { settings: new Map(), tempTables: new Set(), timeoutMs: 0, expiresAt: 0 };
      this.sessions.set(query.sessionId, state);
    }
    state.timeoutMs = query.sessionTimeoutSec * 1000;
    state.expiresAt = now + state.timeoutMs;
    return state;
  }

  /** Brings the engine's settings to `desired`, issuing one SET with only the differences. */
  private async syncSettings(desired: ReadonlyMap<string, string>): Promise<void> {
    const changes = new Map<string, string>();
    for (const [name, literal] of desired) {
      if (!SETTING_NAME.test(name)) throw endpointError('BAD_ARGUMENTS', `Invalid setting name '${name}'`);
      if (this.applied.get(name) !== literal) changes.set(name, literal);
    }
    for (const name of this.applied.keys()) {
      if (!desired.has(name)) changes.set(name, this.baseline.get(name) ?? 'DEFAULT');
    }
    if (changes.size === 0) return;
    const apply = (name: string, literal: string): void => {
      if (desired.has(name)) this.applied.set(name, literal);
      else this.applied.delete(name);
    };
    try {
      await this.raw(`SET ${[...changes].map(([n, v]) => `${n} = ${v}`).join(', ')}`);
      for (const [n, v] of changes) apply(n, v);
    } catch (batchError) {
      // Apply one by one so the engine's state stays known, then report the first failure.
      let first: unknown;
      for (const [n, v] of changes) {
        try {
          await this.raw(`SET ${n} = ${v}`);
          apply(n, v);
        } catch (e) {
          first ??= e;
        }
      }
      throw fromEngineError(first ?? batchError);
    }
  }

  private async query(sql: string, format: string): Promise<EngineResult> {
    try {
      const r = await this.session.queryAsync(sql, { format });
      return {
        body: Buffer.from(r.bytes()),
        readRows: r.rowsRead ?? 0,
        readBytes: r.bytesRead ?? 0,
        writtenRows: 0,
        writtenBytes: 0,
        elapsedNs: Math.round((r.elapsed ?? 0) * 1e9),
      };
    } catch (e) {
      throw fromEngineError(e);
    }
  }

  private async insert(prefix: string, data: Buffer): Promise<EngineResult> {
    const rawInsert = this.native.InsertRawAsyncConnection;
    if (!rawInsert) return this.insertViaFile(prefix, data);
    try {
      const r = await rawInsert.call(this.native, this.session.connection, prefix, data, false);
      return {
        body: Buffer.alloc(0),
        readRows: r.rowsWritten ?? 0,
        readBytes: data.length,
        writtenRows: r.rowsWritten ?? 0,
        writtenBytes: r.bytesWritten ?? 0,
        elapsedNs: Math.round((r.elapsed ?? 0) * 1e9),
      };
    } catch (e) {
      throw fromEngineError(e);
    }
  }

  /** `INSERT … FROM INFILE` over a temp file: the public-API path for binary bodies. */
  private async insertViaFile(prefix: string, data: Buffer): Promise<EngineResult> {
    const format = [...tokens(prefix)].find((t, i, all) => t.type === 'word' && t.text.toUpperCase() === 'FORMAT' && all[i + 1]);
    if (!format) throw endpointError('SYNTAX_ERROR', 'INSERT with a request body must end with FORMAT <name>');
    const dir = await mkdtemp(join(tmpdir(), 'masterdeal-insert-'));
    try {
      const file = join(dir, 'body');
      await writeFile(file, data);
      const sql = `${prefix.slice(0, format.start)}FROM INFILE ${quoteString(file)} ${prefix.slice(format.start)}`;
      const r = await this.query(sql, 'TabSeparated');
      return { ...r, writtenRows: r.readRows, writtenBytes: data.length };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async raw(sql: string): Promise<void> {
    try {
      await this.session.queryAsync(sql, { format: 'TabSeparated' });
    } catch (e) {
      throw fromEngineError(e);
    }
  }

  private async text(sql: string): Promise<string> {
    return (await this.session.queryAsync(sql, { format: 'TabSeparated' })).text();
  }

  private async expireSessions(): Promise<void> {
    const now = Date.now();
    for (const [id, state] of this.sessions) {
      if (state.expiresAt > now) continue;
      this.sessions.delete(id);
      for (const table of state.tempTables) {
        await this.serially(() => this.raw(`DROP TEMPORARY TABLE IF EXISTS ${quoteIdentifier(table)}`)).catch(() => undefined);
      }
    }
  }
}

function unescapeTsv(value: string): string {
  return value.replace(/\\([\\tnr0'])/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '0': '\0' })[c] ?? c);
}
