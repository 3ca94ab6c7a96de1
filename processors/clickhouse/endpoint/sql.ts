/**
 * Just enough lexing of ClickHouse SQL for the HTTP endpoint to route a request:
 * statement kind, trailing `FORMAT x`, where an INSERT's inline data starts,
 * `SET` assignments and temporary-table names. It never rewrites the SQL the
 * engine runs; strings, quoted identifiers and comments are skipped so their
 * contents cannot be mistaken for keywords.
 */

export type TokenType = 'word' | 'string' | 'quoted' | 'punct';

export interface Token {
  type: TokenType;
  /** Source text; for `word` the identifier as written, for `quoted` without the quotes. */
  text: string;
  start: number;
  end: number;
}

const WORD = /[A-Za-z0-9_$.]/;

/** Lazily tokenises so that a caller can stop before binary data following an INSERT. */
export function* tokens(sql: string): Generator<Token> {
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++;
    } else if (c === '#' && (sql[i + 1] === ' ' || sql[i + 1] === '!')) {
      while (i < n && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      i = close < 0 ? n : close + 2;
    } else if (c === "'" || c === '"' || c === '`') {
      const start = i;
      let text = '';
      i++;
      while (i < n) {
        const d = sql[i];
        if (d === '\\' && i + 1 < n) {
          text += sql[i + 1];
          i += 2;
        } else if (d === c && sql[i + 1] === c) {
          text += c;
          i += 2;
        } else if (d === c) {
          i++;
          break;
        } else {
          text += d;
          i++;
        }
      }
      yield { type: c === "'" ? 'string' : 'quoted', text, start, end: i };
    } else if (WORD.test(c)) {
      const start = i;
      while (i < n && WORD.test(sql[i])) i++;
      yield { type: 'word', text: sql.slice(start, i), start, end: i };
    } else {
      yield { type: 'punct', text: c, start: i, end: i + 1 };
      i++;
    }
  }
}

export type StatementKind =
  | 'SELECT' | 'INSERT' | 'SET' | 'USE' | 'CREATE' | 'DROP' | 'ALTER' | 'SHOW' | 'DESCRIBE'
  | 'EXISTS' | 'EXPLAIN' | 'OTHER' | 'EMPTY';

/** The statement's leading keyword (`WITH …` and `(SELECT …)` count as SELECT). */
export function statementKind(sql: string): StatementKind {
  for (const t of tokens(sql)) {
    if (t.type === 'punct' && t.text === '(') continue;
    if (t.type !== 'word') return 'OTHER';
    const w = t.text.toUpperCase();
    if (w === 'WITH' || w === 'SELECT') return 'SELECT';
    if (w === 'DESC') return 'DESCRIBE';
    const known: StatementKind[] = ['INSERT', 'SET', 'USE', 'CREATE', 'DROP', 'ALTER', 'SHOW', 'DESCRIBE', 'EXISTS', 'EXPLAIN'];
    return (known as string[]).includes(w) ? (w as StatementKind) : 'OTHER';
  }
  return 'EMPTY';
}

/** Leading keywords of statements that change data, schema or the server (refused under readonly). */
const MUTATING = new Set([
  'INSERT', 'CREATE', 'DROP', 'ALTER', 'TRUNCATE', 'RENAME', 'EXCHANGE', 'OPTIMIZE', 'ATTACH', 'DETACH',
  'GRANT', 'REVOKE', 'KILL', 'SYSTEM', 'DELETE', 'UPDATE', 'UNDROP', 'BACKUP', 'RESTORE', 'MOVE', 'REPLACE', 'UPSERT',
]);

/**
 * Whether `readonly=1|2` lets the statement through (SET only with readonly=2).
 * Unknown leading words pass so the engine reports the syntax error itself.
 */
export function allowedInReadonly(sql: string, readonly: number): boolean {
  const kind = statementKind(sql);
  if (kind === 'SET') return readonly === 2;
  const first = tokens(sql).next();
  const word = first.done || first.value.type !== 'word' ? '' : first.value.text.toUpperCase();
  return !MUTATING.has(word);
}

/**
 * The output format named by a top-level `FORMAT x` that ends the statement
 * (optionally followed by `SETTINGS …` or `;`). `SELECT format FROM t` is not one.
 */
export function explicitFormat(sql: string): string | undefined {
  const list = [...tokens(sql)];
  let depth = 0;
  let found: string | undefined;
  for (let i = 0; i < list.length; i++) {
    const t = list[i];
    if (t.type === 'punct') {
      if (t.text === '(' || t.text === '[') depth++;
      else if (t.text === ')' || t.text === ']') depth--;
      continue;
    }
    if (depth !== 0 || t.type !== 'word' || t.text.toUpperCase() !== 'FORMAT') continue;
    const name = list[i + 1];
    const after = list[i + 2];
    if (!name || (name.type !== 'word' && name.type !== 'quoted')) continue;
    const endsHere = !after || (after.type === 'punct' && after.text === ';')
      || (after.type === 'word' && after.text.toUpperCase() === 'SETTINGS');
    if (endsHere) found = name.text;
  }
  return found;
}

/**
 * For an INSERT whose data follows `FORMAT x` in the same text, the offset where
 * that data starts (after the format name, blanks and one line break). Returns
 * undefined for `INSERT … SELECT`, `INSERT … VALUES` and non-INSERTs, which run
 * as plain queries. Only scans up to the format name, so binary data is never lexed.
 */
export function insertDataOffset(sql: string): number | undefined {
  const it = tokens(sql);
  const first = it.next();
  if (first.done || first.value.type !== 'word' || first.value.text.toUpperCase() !== 'INSERT') return undefined;
  let depth = 0;
  let formatSeen = false;
  for (const t of it) {
    if (t.type === 'punct') {
      if (t.text === '(') depth++;
      else if (t.text === ')') depth--;
      continue;
    }
    if (formatSeen) {
      if (t.type !== 'word') return undefined;
      let i = t.end;
      while (sql[i] === ' ' || sql[i] === '\t') i++;
      if (sql[i] === '\r' && sql[i + 1] === '\n') i += 2;
      else if (sql[i] === '\n') i += 1;
      return i;
    }
    if (depth !== 0 || t.type !== 'word') continue;
    const w = t.text.toUpperCase();
    if (w === 'SELECT' || w === 'WITH' || w === 'VALUES') return undefined;
    if (w === 'FORMAT') formatSeen = true;
  }
  return undefined;
}

export interface SettingAssignment {
  name: string;
  /** The value exactly as written (an SQL literal or expression), to replay with `SET name = <value>`. */
  valueSql: string;
}

/** The `name = value` pairs of a `SET a = 1, b = 'x'` statement; [] for `SET ROLE …` and the like. */
export function setAssignments(sql: string): SettingAssignment[] {
  const list = [...tokens(sql)];
  if (!list[0] || list[0].type !== 'word' || list[0].text.toUpperCase() !== 'SET') return [];
  const out: SettingAssignment[] = [];
  let i = 1;
  while (i < list.length) {
    const name = list[i];
    const eq = list[i + 1];
    if (!name || !eq || (name.type !== 'word' && name.type !== 'quoted') || eq.text !== '=') return out;
    let j = i + 2;
    let depth = 0;
    while (j < list.length) {
      const t = list[j];
      if (t.type === 'punct') {
        if (t.text === '(' || t.text === '[') depth++;
        else if (t.text === ')' || t.text === ']') depth--;
        else if (depth === 0 && (t.text === ',' || t.text === ';')) break;
      }
      j++;
    }
    const startPos = list[i + 2]?.start ?? eq.end;
    const endPos = j < list.length ? list[j].start : sql.length;
    out.push({ name: name.text, valueSql: sql.slice(startPos, endPos).trim() });
    if (j < list.length && list[j].text === ';') break;
    i = j + 1;
  }
  return out;
}

/** `USE db` → `db`. */
export function useDatabase(sql: string): string | undefined {
  const list = [...tokens(sql)];
  if (list[0]?.type === 'word' && list[0].text.toUpperCase() === 'USE' && list[1] && list[1].type !== 'punct') {
    return list[1].text;
  }
  return undefined;
}

/** The table a `CREATE [OR REPLACE] TEMPORARY TABLE [IF NOT EXISTS] name` creates. */
export function createdTemporaryTable(sql: string): string | undefined {
  const words: Token[] = [];
  for (const t of tokens(sql)) {
    words.push(t);
    if (words.length >= 9) break;
  }
  const upper = words.map((t) => (t.type === 'word' ? t.text.toUpperCase() : ''));
  let i = 0;
  if (upper[i++] !== 'CREATE') return undefined;
  if (upper[i] === 'OR' && upper[i + 1] === 'REPLACE') i += 2;
  if (upper[i++] !== 'TEMPORARY' || upper[i++] !== 'TABLE') return undefined;
  if (upper[i] === 'IF' && upper[i + 1] === 'NOT' && upper[i + 2] === 'EXISTS') i += 3;
  const name = words[i];
  return name && name.type !== 'punct' && name.type !== 'string' ? name.text : undefined;
}

/**
 * The unqualified table a `DROP [TEMPORARY] TABLE [IF EXISTS] name` names (it may be a
 * session's temporary table); undefined for `db.name`, views, dictionaries and databases.
 */
export function droppedTable(sql: string): string | undefined {
  const words: Token[] = [];
  for (const t of tokens(sql)) {
    words.push(t);
    if (words.length >= 8) break;
  }
  const upper = words.map((t) => (t.type === 'word' ? t.text.toUpperCase() : ''));
  let i = 0;
  if (upper[i++] !== 'DROP') return undefined;
  if (upper[i] === 'TEMPORARY') i++;
  if (upper[i++] !== 'TABLE') return undefined;
  if (upper[i] === 'IF' && upper[i + 1] === 'EXISTS') i += 2;
  const name = words[i];
  if (!name || name.type === 'punct' || name.type === 'string') return undefined;
  if (name.type === 'word' && name.text.includes('.')) return undefined;
  const next = words[i + 1];
  if (next && next.start === name.end && next.text.startsWith('.')) return undefined;
  return name.text;
}

/** An SQL string literal holding `value` verbatim. */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A backquoted identifier. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}
