import type { RawField, RawSchema, SchemaCatalog } from './schemas.ts';
import { fullNameOf } from './schemas.ts';

/**
 * Schema-driven conversion between the JSON form of SPEC §2/§6 and avsc values. The two forms
 * differ by three documented conventions, applied wherever the schema says so:
 *   - `long` fields named `<x>_kopecks` are `<x>_rub` in JSON (roubles, at most 2 decimals);
 *   - `timestamp-millis` longs are ISO-8601 UTC strings in JSON (input also takes epoch ms);
 *   - `date` ints (days since epoch) are "YYYY-MM-DD" strings in JSON.
 * Unions of `null` and one type are plain values; other unions are wrapped `{ "<full name>": value }`
 * (what avsc's wrapUnions 'auto' does for unions of records).
 * Errors name the path of the failing field, e.g. `payload.brief_id: missing required field`.
 */
export class JsonFormError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

const KOPECKS = /_kopecks$/;
export const jsonFieldName = (avroName: string): string => avroName.replace(KOPECKS, '_rub');

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  if (typeof v === 'object') return 'an object';
  return String(v);
}

const ISO_TS = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)$/i;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const MAX_TS = 8.64e15;

function validCalendarDate(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** Strict ISO-8601 with a zone (Z or ±hh:mm) → epoch ms; sub-millisecond digits are truncated. */
export function parseIsoTimestamp(s: string): number | undefined {
  const m = ISO_TS.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number);
  if (!validCalendarDate(y, mo, d) || h > 23 || mi > 59 || sec > 59) return undefined;
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  let offsetMin = 0;
  const zone = m[8].toUpperCase();
  if (zone !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || '0');
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return Date.UTC(y, mo - 1, d, h, mi, sec, ms) - offsetMin * 60_000;
}

/** A timestamp in JSON form: ISO-8601 string or epoch milliseconds. */
export function parseTimestamp(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && Math.abs(v) <= MAX_TS ? v : undefined;
  if (typeof v === 'string') return parseIsoTimestamp(v);
  return undefined;
}

export const formatTimestamp = (ms: number): string => new Date(ms).toISOString();

export function parseDate(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = ISO_DATE.exec(v);
  if (!m || !validCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]))) return undefined;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 86_400_000;
}

export const formatDate = (days: number): string => new Date(days * 86_400_000).toISOString().slice(0, 10);

/**
 * Roubles → kopecks, exactly: accepted only if kopecks / 100 gives back the same double, i.e.
 * the JSON number had at most 2 decimals (an epsilon test fails for large amounts).
 */
export function rubToKopecks(rub: number): number | undefined {
  const k = Math.round(rub * 100);
  return Number.isSafeInteger(k) && k / 100 === rub ? k : undefined;
}

export const kopecksToRub = (k: number): number => k / 100;

interface Ctx {
  catalog: SchemaCatalog;
  /** The field being converted is a `_kopecks` long (JSON in roubles). */
  kopecks?: boolean;
  range?: { min?: number; max?: number };
}

/** JSON form → avsc value of `schema`; throws JsonFormError. `ns` resolves short names. */
export function jsonToAvro(catalog: SchemaCatalog, schema: RawSchema, value: unknown, path: string, ns?: string): unknown {
  return toAvro({ catalog }, schema, value, path, ns);
}

function toAvro(ctx: Ctx, schema: RawSchema, value: unknown, path: string, ns: string | undefined): unknown {
  if (typeof schema === 'string') {
    const named = ctx.catalog.resolveName(schema, ns);
    if (named) return toAvro(ctx, named, value, path, named.namespace);
    return primitiveToAvro(ctx, schema, undefined, value, path);
  }
  if (Array.isArray(schema)) return unionToAvro(ctx, schema, value, path, ns);
  const t = schema.type;
  if (typeof t !== 'string' || !['record', 'error', 'enum', 'fixed', 'array', 'map'].includes(t)) {
    if (typeof t === 'string') return primitiveToAvro(ctx, t, schema.logicalType, value, path);
    return toAvro(ctx, t, value, path, ns);
  }
  const innerNs = schema.name ? (schema.namespace ?? ns) : ns;
  switch (t) {
    case 'record':
    case 'error': {
      if (!isPlainObject(value)) throw new JsonFormError(path, `must be an object, got ${describe(value)}`);
      const fields = schema.fields ?? [];
      const known = new Set(fields.map((f) => jsonFieldName(f.name)));
      for (const key of Object.keys(value)) {
        if (!known.has(key)) throw new JsonFormError(join(path, key), 'unknown field');
      }
      const out: Record<string, unknown> = {};
      for (const f of fields) out[f.name] = fieldToAvro(ctx, f, value, path, innerNs);
      return out;
    }
    case 'enum': {
      const symbols = schema.symbols ?? [];
      if (typeof value !== 'string' || !symbols.includes(value)) {
        throw new JsonFormError(path, `must be one of ${symbols.join(', ')}, got ${describe(value)}`);
      }
      return value;
    }
    case 'array': {
      if (!Array.isArray(value)) throw new JsonFormError(path, `must be an array, got ${describe(value)}`);
      return value.map((v, i) => toAvro({ catalog: ctx.catalog }, schema.items!, v, `${path}[${i}]`, innerNs));
    }
    case 'map': {
      if (!isPlainObject(value)) throw new JsonFormError(path, `must be an object, got ${describe(value)}`);
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = toAvro({ catalog: ctx.catalog }, schema.values!, v, join(path, k), innerNs);
      return out;
    }
    default:
      throw new JsonFormError(path, `type ${t} is not supported in the JSON form`);
  }
}

function fieldToAvro(ctx: Ctx, f: RawField, obj: Record<string, unknown>, path: string, ns: string | undefined): unknown {
  const key = jsonFieldName(f.name);
  const p = join(path, key);
  const v = obj[key];
  if (v === undefined) {
    if ('default' in f) return f.default;
    throw new JsonFormError(p, 'missing required field');
  }
  const out = toAvro({ catalog: ctx.catalog, kopecks: KOPECKS.test(f.name), range: f.range }, f.type, v, p, ns);
  // Ids are join keys downstream: an empty one is as bad as a missing one.
  if (f.name.endsWith('_id') && out === '') throw new JsonFormError(p, 'must be a non-empty string');
  return out;
}

function unionToAvro(ctx: Ctx, branches: RawSchema[], value: unknown, path: string, ns: string | undefined): unknown {
  const nonNull = branches.filter((b) => b !== 'null');
  const hasNull = nonNull.length < branches.length;
  if (value === null) {
    if (hasNull) return null;
    throw new JsonFormError(path, 'must not be null');
  }
  if (nonNull.length === 1) return toAvro(ctx, nonNull[0], value, path, ns);
  // Several non-null branches: JSON must name the branch, as avsc's wrapped unions do.
  if (isPlainObject(value) && Object.keys(value).length === 1) {
    const [key] = Object.keys(value);
    for (const b of nonNull) {
      const name = branchName(ctx.catalog, b, ns);
      if (name === key || name.endsWith(`.${key}`)) {
        return { [name]: toAvro({ catalog: ctx.catalog }, b, value[key], join(path, key), ns) };
      }
    }
  }
  throw new JsonFormError(path, `must be wrapped in one of ${nonNull.map((b) => branchName(ctx.catalog, b, ns)).join(', ')}`);
}

export function branchName(catalog: SchemaCatalog, b: RawSchema, ns: string | undefined): string {
  if (typeof b === 'string') {
    const named = catalog.resolveName(b, ns);
    return named ? fullNameOf(named.name, named.namespace) : b;
  }
  if (Array.isArray(b)) return 'union';
  if (b.name) return fullNameOf(b.name, b.namespace ?? ns);
  return typeof b.type === 'string' ? b.type : 'union';
}

function checkRange(ctx: Ctx, n: number, path: string, shown: number): void {
  const r = ctx.range;
  if (!r) return;
  const scale = ctx.kopecks ? 100 : 1;
  if ((r.min !== undefined && n < r.min) || (r.max !== undefined && n > r.max)) {
    const bounds =
      r.max === undefined ? `>= ${(r.min ?? 0) / scale}` : r.min === undefined ? `<= ${r.max / scale}` : `between ${r.min / scale} and ${r.max / scale}`;
    throw new JsonFormError(path, `out of range: must be ${bounds}, got ${shown}`);
  }
}

function primitiveToAvro(ctx: Ctx, type: string, logicalType: string | undefined, value: unknown, path: string): unknown {
  switch (type) {
    case 'null':
      if (value !== null) throw new JsonFormError(path, `must be null, got ${describe(value)}`);
      return null;
    case 'boolean':
      if (typeof value !== 'boolean') throw new JsonFormError(path, `must be a boolean, got ${describe(value)}`);
      return value;
    case 'string':
      if (typeof value !== 'string') throw new JsonFormError(path, `must be a string, got ${describe(value)}`);
      return value;
    case 'int':
    case 'long': {
      if (logicalType === 'timestamp-millis' || logicalType === 'timestamp-micros') {
        const ms = parseTimestamp(value);
        if (ms === undefined) throw new JsonFormError(path, `unparsable timestamp ${describe(value)} (expected ISO-8601 UTC or epoch ms)`);
        return logicalType === 'timestamp-micros' ? ms * 1000 : ms;
      }
      if (logicalType === 'date') {
        const days = parseDate(value);
        if (days === undefined) throw new JsonFormError(path, `unparsable date ${describe(value)} (expected YYYY-MM-DD)`);
        return days;
      }
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new JsonFormError(path, `must be a number, got ${describe(value)}`);
      let n = value;
      if (ctx.kopecks) {
        const k = rubToKopecks(value);
        if (k === undefined) throw new JsonFormError(path, `must be an amount in roubles with at most 2 decimals, got ${value}`);
        n = k;
      } else if (!Number.isInteger(value)) {
        throw new JsonFormError(path, `must be an integer, got ${value}`);
      }
      const limit = type === 'int' ? 2 ** 31 : Number.MAX_SAFE_INTEGER;
      if (n >= limit || n < -limit) throw new JsonFormError(path, `out of range for ${type}, got ${value}`);
      checkRange(ctx, n, path, value);
      return n;
    }
    case 'float':
    case 'double':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new JsonFormError(path, `must be a number, got ${describe(value)}`);
      checkRange(ctx, value, path, value);
      return value;
    default:
      throw new JsonFormError(path, `type ${type} is not supported in the JSON form`);
  }
}

/** avsc value of `schema` → JSON form (field order of the schema). Assumes a valid value. */
export function avroToJson(catalog: SchemaCatalog, schema: RawSchema, value: unknown, ns?: string, kopecks = false): unknown {
  if (typeof schema === 'string') {
    const named = catalog.resolveName(schema, ns);
    if (named) return avroToJson(catalog, named, value, named.namespace);
    return primitiveToJson(schema, undefined, value, kopecks);
  }
  if (Array.isArray(schema)) {
    if (value === null) return null;
    const nonNull = schema.filter((b) => b !== 'null');
    if (nonNull.length === 1) return avroToJson(catalog, nonNull[0], value, ns, kopecks);
    const [key] = Object.keys(value as object);
    const branch = nonNull.find((b) => branchName(catalog, b, ns) === key);
    if (!branch) throw new JsonFormError('', `value names no branch of the union: ${key}`);
    return { [key]: avroToJson(catalog, branch, (value as Record<string, unknown>)[key], ns) };
  }
  const t = schema.type;
  if (typeof t !== 'string') return avroToJson(catalog, t, value, ns, kopecks);
  const innerNs = schema.name ? (schema.namespace ?? ns) : ns;
  switch (t) {
    case 'record':
    case 'error': {
      const out: Record<string, unknown> = {};
      const rec = value as Record<string, unknown>;
      for (const f of schema.fields ?? []) {
        out[jsonFieldName(f.name)] = avroToJson(catalog, f.type, rec[f.name], innerNs, KOPECKS.test(f.name));
      }
      return out;
    }
    case 'enum':
      return value;
    case 'array':
      return (value as unknown[]).map((v) => avroToJson(catalog, schema.items!, v, innerNs));
    case 'map':
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, avroToJson(catalog, schema.values!, v, innerNs)]),
      );
    default:
      return primitiveToJson(t, schema.logicalType, value, kopecks);
  }
}

function primitiveToJson(type: string, logicalType: string | undefined, value: unknown, kopecks: boolean): unknown {
  if ((type === 'long' || type === 'int') && typeof value === 'number') {
    if (logicalType === 'timestamp-millis') return formatTimestamp(value);
    if (logicalType === 'timestamp-micros') return formatTimestamp(Math.floor(value / 1000));
    if (logicalType === 'date') return formatDate(value);
    if (kopecks) return kopecksToRub(value);
  }
  return value;
}
