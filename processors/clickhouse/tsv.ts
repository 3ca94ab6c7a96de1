/**
 * Rows as ClickHouse TabSeparated, for bulk inserts. Why not JSONEachRow: the warehouse rows
 * carry JSON text (payload, body), which JSON-in-JSON escapes quote by quote on the client and
 * unescapes on the server; in TSV only backslash, tab and line breaks are escaped, so most
 * values go through as they are (the sink spent about a sixth of its CPU encoding JSON rows).
 */
export interface TabSeparated {
  /** Column names in the order of the fields of each line. */
  columns: string[];
  body: Buffer;
}

const SPECIAL = /[\\\t\n\r\0]/;
const SPECIAL_ALL = /[\\\t\n\r\0]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };

/** A string in TSV's escaped form (ClickHouse's TabSeparated rules). */
export function escapeTsv(s: string): string {
  return SPECIAL.test(s) ? s.replace(SPECIAL_ALL, (c) => ESCAPES[c]!) : s;
}

/**
 * `escapeTsv` of JSON text as JSON.stringify writes it: that never holds a raw tab, line break or
 * NUL (it escapes every control character), so only backslashes need doubling, and most JSON has
 * none (a search, no regex).
 */
export function escapeJsonTsv(json: string): string {
  return json.includes('\\') ? json.replaceAll('\\', '\\\\') : json;
}

/**
 * A TabSeparated body built a line at a time, encoded (UTF-8) into off-heap chunks as lines come:
 * a buffered row then costs no heap until its flush. Holding a second's rows as strings until then
 * got them promoted to the old generation, and the sink spent a quarter of its CPU in GC; joining
 * and encoding them at flush time was another tenth.
 */
export class TsvBody {
  private readonly chunks: Buffer[] = [];
  private current: Buffer;
  private pos = 0;
  private bytes = 0;
  /** Lines written. */
  length = 0;

  /** Chunks start small (a flush of a few rows stays small) and double up to 4 MiB. */
  constructor(private chunkBytes = 64 * 1024) {
    this.current = Buffer.allocUnsafe(chunkBytes);
  }

  /** Appends one row (a line without its line break, fields escaped). */
  push(line: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit; +1 for the line break.
    const worst = 3 * line.length + 1;
    if (this.current.length - this.pos < worst) {
      this.seal();
      this.chunkBytes = Math.min(4 << 20, 2 * this.chunkBytes);
      this.current = Buffer.allocUnsafe(Math.max(this.chunkBytes, worst));
    }
    this.pos += this.current.write(line, this.pos, 'utf8');
    this.current[this.pos++] = 0x0a;
    this.length++;
  }

  /** The body so far, as chunks to send in order (no copy). */
  body(): Buffer[] {
    this.seal();
    return this.chunks.slice();
  }

  /** Size in bytes of the body so far. */
  get byteLength(): number {
    return this.bytes + this.pos;
  }

  private seal(): void {
    if (this.pos === 0) return;
    this.chunks.push(this.current.subarray(0, this.pos));
    this.bytes += this.pos;
    this.current = this.current.subarray(this.pos);
    this.pos = 0;
  }
}

function field(v: unknown, column: string): string {
  switch (typeof v) {
    case 'string':
      return escapeTsv(v);
    case 'number':
      if (!Number.isFinite(v)) throw new Error(`column ${column}: ${v} is not a finite number`);
      return String(v);
    case 'bigint':
      return String(v);
    case 'boolean':
      return v ? '1' : '0';
    case 'undefined':
      return '\\N';
    default:
      return v === null ? '\\N' : escapeTsv(JSON.stringify(v));
  }
}

/**
 * One TSV body for rows that share their fields (the columns are the first row's keys; a row
 * missing one inserts NULL there, which a non-Nullable column refuses with a clear error).
 */
export function toTabSeparated(rows: readonly Record<string, unknown>[]): TabSeparated {
  if (rows.length === 0) return { columns: [], body: Buffer.alloc(0) };
  const columns = Object.keys(rows[0]!);
  const lines: string[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    let line = '';
    for (let c = 0; c < columns.length; c++) {
      const name = columns[c]!;
      line += (c === 0 ? '' : '\t') + field(row[name], name);
    }
    lines[i] = line;
  }
  return { columns, body: Buffer.from(`${lines.join('\n')}\n`, 'utf8') };
}
