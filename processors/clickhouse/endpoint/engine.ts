import { mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Session } from 'chdb';
import { log } from '../../shared/log.ts';
import { endpointError, fromEngineError } from './errors.ts';
import {
  createdTemporaryTable, droppedTable, quoteIdentifier, quoteString, setAssignments, statementKind, tokens, useDatabase,
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
 * dropped when it expires. They are visible to every session meanwhile, but a name
 * belongs to one session at a time: when another session creates (or drops) a
 * temporary table of the same name, the holder's table is parked (copied to a
 * hidden database and dropped) and restored before that session's next request,
 * so two sessions may both use `CREATE TEMPORARY TABLE t` as on a real server.
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
  /** Temporary tables of this session that the engine holds now. */
  tempTables: Set<string>;
  /** Its temporary tables parked while another session used the name. */
  parked: Map<string, ParkedTable>;
  timeoutMs: number;
  expiresAt: number;
}

interface ParkedTable {
  /** `SHOW CREATE TEMPORARY TABLE` output, to re-create it with its engine and defaults. */
  ddl: string;
  /** Qualified Memory table holding its rows meanwhile. */
  store: string;
}

/** Where parked temporary tables wait; dropped at start (a restart ends every session). */
const PARKING_DATABASE = '_masterdeal_parked_temporary_tables';

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
  /** Temporary table name → the session whose table the engine holds under that name. */
  private readonly tempOwners = new Map<string, string>();
  private parkedCount = 0;
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
    await engine.text(`DROP DATABASE IF EXISTS ${quoteIdentifier(PARKING_DATABASE)} SYNC`);
    for (const db of options.databases) {
      await engine.text(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(db)} ENGINE = Atomic`);
    }
    return engine;
  }

  /** Runs one request's statement in its session's context; requests never overlap. */
  execute(query: EngineQuery): Promise<EngineResult> {
    const queued = performance.now();
    return this.serially(async () => {
      const started = performance.now();
      const result = await this.run(query);
      // Debug: how long a request waited for the ones before it vs. ran (one engine, one at a time).
      if (log.isLevelEnabled('debug')) {
        log.debug({ sql: query.sql.slice(0, 80), bytes: query.insertData?.length, waitMs: Math.round(started - queued), runMs: Math.round(performance.now() - started) }, 'engine request');
      }
      return result;
    });
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
    if (session) await this.restoreParked(query.sessionId!, session);
    const temp = kind === 'CREATE' ? createdTemporaryTable(query.sql) : undefined;
    const dropped = kind === 'DROP' ? droppedTable(query.sql) : undefined;
    // The name must not resolve to another session's table (a real server keeps them apart).
    for (const name of [temp, dropped]) if (name) await this.makeRoomFor(name, query.sessionId);
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
    if (temp) {
      if (session) {
        session.tempTables.add(temp);
        this.tempOwners.set(temp, query.sessionId!);
      } else {
        await this.raw(`DROP TEMPORARY TABLE IF EXISTS ${quoteIdentifier(temp)}`).catch(() => undefined);
      }
    }
    if (dropped && session?.tempTables.delete(dropped)) this.tempOwners.delete(dropped);
    return result;
  }

  private sessionFor(query: EngineQuery): SessionState | undefined {
    if (!query.sessionId) return undefined;
    const now = Date.now();
    let state = this.sessions.get(query.sessionId);
    if (!state) {
      if (query.sessionCheck) throw endpointError('SESSION_NOT_FOUND', `Session ${query.sessionId} not found`);
      state = { settings: new Map(), tempTables: new Set(), parked: new Map(), timeoutMs: 0, expiresAt: 0 };
      this.sessions.set(query.sessionId, state);
    }
    state.timeoutMs = query.sessionTimeoutSec * 1000;
    state.expiresAt = now + state.timeoutMs;
    return state;
  }

  /** Parks another session's temporary table called `name`, so `sessionId` gets the name to itself. */
  private async makeRoomFor(name: string, sessionId: string | undefined): Promise<void> {
    const holder = this.tempOwners.get(name);
    if (holder === undefined || holder === sessionId) return;
    this.tempOwners.delete(name);
    const state = this.sessions.get(holder);
    state?.tempTables.delete(name);
    const table = quoteIdentifier(name);
    let ddl: string;
    try {
      ddl = await this.text(`SHOW CREATE TEMPORARY TABLE ${table}`, 'TSVRaw');
    } catch {
      return; // The holder dropped it in a way we did not track; nothing to keep.
    }
    if (state) {
      const store = `${quoteIdentifier(PARKING_DATABASE)}.${quoteIdentifier(`t${++this.parkedCount}`)}`;
      await this.raw(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(PARKING_DATABASE)} ENGINE = Atomic`);
      await this.raw(`CREATE TABLE ${store} ENGINE = Memory AS SELECT * FROM ${table}`);
      state.parked.set(name, { ddl, store });
    }
    await this.raw(`DROP TEMPORARY TABLE IF EXISTS ${table}`);
  }

  /** Brings back the session's parked temporary tables (parking whoever holds those names now). */
  private async restoreParked(sessionId: string, state: SessionState): Promise<void> {
    for (const [name, { ddl, store }] of state.parked) {
      await this.makeRoomFor(name, sessionId);
      await this.raw(ddl);
      await this.raw(`INSERT INTO ${quoteIdentifier(name)} SELECT * FROM ${store}`);
      await this.raw(`DROP TABLE IF EXISTS ${store}`);
      state.parked.delete(name);
      state.tempTables.add(name);
      this.tempOwners.set(name, sessionId);
    }
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

  private async text(sql: string, format = 'TabSeparated'): Promise<string> {
    return (await this.session.queryAsync(sql, { format })).text();
  }

  private async expireSessions(): Promise<void> {
    // One queued job, so no request sees a half-expired session or a name still held.
    await this.serially(async () => {
      const now = Date.now();
      for (const [id, state] of this.sessions) {
        if (state.expiresAt > now) continue;
        this.sessions.delete(id);
        for (const table of state.tempTables) {
          if (this.tempOwners.get(table) !== id) continue;
          this.tempOwners.delete(table);
          await this.raw(`DROP TEMPORARY TABLE IF EXISTS ${quoteIdentifier(table)}`).catch(() => undefined);
        }
        for (const { store } of state.parked.values()) {
          await this.raw(`DROP TABLE IF EXISTS ${store}`).catch(() => undefined);
        }
      }
    }).catch(() => undefined);
  }
}

function unescapeTsv(value: string): string {
  return value.replace(/\\([\\tnr0'])/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '0': '\0' })[c] ?? c);
}
