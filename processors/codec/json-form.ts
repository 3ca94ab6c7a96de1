import type { NamedSchema, RawSchema, SchemaCatalog } from './schemas.ts';
import { fullNameOf } from './schemas.ts';
import { isoUtc } from '../core/iso-time.ts';

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

export const formatTimestamp = (ms: number): string => isoUtc(ms);

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

/**
 * A converter compiled once per schema (the schemas are fixed for the process): the schema is
 * walked when compiled, not for every value. `path` + `key` name the value for error messages
 * and are joined only when an error is thrown or a container is entered.
 */
type ToAvro = (value: unknown, path: string, key: string) => unknown;
type ToJson = (value: unknown) => unknown;

/** The path of a value: `key` is a field name, an array index like `[3]`, or '' (the path itself). */
const at = (path: string, key: string): string => (key === '' ? path : key.charCodeAt(0) === 91 /* [ */ ? path + key : join(path, key));

/** What a field adds to its type's conversion: roubles for `_kopecks` longs, a declared range. */
interface FieldCtx {
  kopecks: boolean;
  range?: { min?: number; max?: number };
}
const PLAIN: FieldCtx = { kopecks: false };

interface Compiled {
  toAvro: Map<string, ToAvro>;
  toJson: Map<string, ToJson>;
  check: Map<string, Check>;
  bySchema: WeakMap<object, Map<string, ToAvro | ToJson>>;
}
const compiledByCatalog = new WeakMap<SchemaCatalog, Compiled>();
function compiledOf(catalog: SchemaCatalog): Compiled {
  let c = compiledByCatalog.get(catalog);
  if (!c) compiledByCatalog.set(catalog, (c = { toAvro: new Map(), toJson: new Map(), check: new Map(), bySchema: new WeakMap() }));
  return c;
}

/**
 * A named type is compiled once per catalog; while it is being built (it may refer to itself),
 * references to it go through a late-bound stand-in.
 */
function compileNamed<F extends (...args: never[]) => unknown>(cache: Map<string, F>, named: NamedSchema, build: () => F): F {
  const key = fullNameOf(named.name, named.namespace);
  const known = cache.get(key);
  if (known) return known;
  let built: F | undefined;
  cache.set(key, ((...args: never[]) => (built as F)(...args)) as F);
  built = build();
  cache.set(key, built);
  return built;
}

/** Caches a top-level conversion by schema object (or name) and namespace. */
function cached<F>(catalog: SchemaCatalog, schema: RawSchema, key: string, make: () => F): F {
  const c = compiledOf(catalog);
  if (typeof schema !== 'object') return make();
  let byKey = c.bySchema.get(schema);
  if (!byKey) c.bySchema.set(schema, (byKey = new Map()));
  let f = byKey.get(key) as F | undefined;
  if (!f) byKey.set(key, (f = make() as never));
  return f;
}

/** JSON form → avsc value of `schema`; throws JsonFormError. `ns` resolves short names. */
export function jsonToAvro(catalog: SchemaCatalog, schema: RawSchema, value: unknown, path: string, ns?: string): unknown {
  return cached(catalog, schema, `avro:${ns ?? ''}`, () => compileToAvro(catalog, schema, ns, PLAIN))(value, path, '');
}

function compileToAvro(catalog: SchemaCatalog, schema: RawSchema, ns: string | undefined, ctx: FieldCtx): ToAvro {
  if (typeof schema === 'string') {
    const named = catalog.resolveName(schema, ns);
    if (!named) return primitiveToAvro(schema, undefined, ctx);
    return compileNamed(compiledOf(catalog).toAvro, named, () => compileToAvro(catalog, named, named.namespace, PLAIN));
  }
  if (Array.isArray(schema)) return unionToAvro(catalog, schema, ns, ctx);
  const t = schema.type;
  if (typeof t !== 'string' || !['record', 'error', 'enum', 'fixed', 'array', 'map'].includes(t)) {
    if (typeof t === 'string') return primitiveToAvro(t, schema.logicalType, ctx);
    return compileToAvro(catalog, t, ns, ctx);
  }
  const innerNs = schema.name ? (schema.namespace ?? ns) : ns;
  switch (t) {
    case 'record':
    case 'error': {
      const fields = (schema.fields ?? []).map((f) => ({
        name: f.name,
        key: jsonFieldName(f.name),
        hasDefault: 'default' in f,
        default: f.default,
        // Ids are join keys downstream: an empty one is as bad as a missing one.
        isId: f.name.endsWith('_id'),
        convert: compileToAvro(catalog, f.type, innerNs, { kopecks: KOPECKS.test(f.name), range: f.range }),
      }));
      const known = new Set(fields.map((f) => f.key));
      return (value, path, key) => {
        const p = at(path, key);
        if (!isPlainObject(value)) throw new JsonFormError(p, `must be an object, got ${describe(value)}`);
        for (const k in value) {
          if (!known.has(k)) throw new JsonFormError(join(p, k), 'unknown field');
        }
        const out: Record<string, unknown> = {};
        for (const f of fields) {
          const v = value[f.key];
          if (v === undefined) {
            if (!f.hasDefault) throw new JsonFormError(join(p, f.key), 'missing required field');
            out[f.name] = f.default;
            continue;
          }
          const converted = f.convert(v, p, f.key);
          if (f.isId && converted === '') throw new JsonFormError(join(p, f.key), 'must be a non-empty string');
          out[f.name] = converted;
        }
        return out;
      };
    }
    case 'enum': {
      const symbols = schema.symbols ?? [];
      return (value, path, key) => {
        if (typeof value !== 'string' || !symbols.includes(value)) {
          throw new JsonFormError(at(path, key), `must be one of ${symbols.join(', ')}, got ${describe(value)}`);
        }
        return value;
      };
    }
    case 'array': {
      const item = compileToAvro(catalog, schema.items!, innerNs, PLAIN);
      return (value, path, key) => {
        const p = at(path, key);
        if (!Array.isArray(value)) throw new JsonFormError(p, `must be an array, got ${describe(value)}`);
        return value.map((v, i) => item(v, p, `[${i}]`));
      };
    }
    case 'map': {
      const item = compileToAvro(catalog, schema.values!, innerNs, PLAIN);
      return (value, path, key) => {
        const p = at(path, key);
        if (!isPlainObject(value)) throw new JsonFormError(p, `must be an object, got ${describe(value)}`);
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) out[k] = item(v, p, k);
        return out;
      };
    }
    default:
      return (_value, path, key) => {
        throw new JsonFormError(at(path, key), `type ${t} is not supported in the JSON form`);
      };
  }
}

function unionToAvro(catalog: SchemaCatalog, branches: RawSchema[], ns: string | undefined, ctx: FieldCtx): ToAvro {
  const nonNull = branches.filter((b) => b !== 'null');
  const hasNull = nonNull.length < branches.length;
  const single = nonNull.length === 1 ? compileToAvro(catalog, nonNull[0], ns, ctx) : undefined;
  // Several non-null branches: JSON must name the branch, as avsc's wrapped unions do.
  const named = single ? [] : nonNull.map((b) => ({ name: branchName(catalog, b, ns), convert: compileToAvro(catalog, b, ns, PLAIN) }));
  return (value, path, key) => {
    if (value === null) {
      if (hasNull) return null;
      throw new JsonFormError(at(path, key), 'must not be null');
    }
    if (single) return single(value, path, key);
    if (isPlainObject(value) && Object.keys(value).length === 1) {
      const [k] = Object.keys(value);
      for (const b of named) {
        if (b.name === k || b.name.endsWith(`.${k}`)) return { [b.name]: b.convert(value[k], at(path, key), k) };
      }
    }
    throw new JsonFormError(at(path, key), `must be wrapped in one of ${named.map((b) => b.name).join(', ')}`);
  };
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

function checkRange(ctx: FieldCtx, n: number, path: string, shown: number): void {
  const r = ctx.range;
  if (!r || inRange(ctx, n)) return;
  const scale = ctx.kopecks ? 100 : 1;
  const bounds =
    r.max === undefined ? `>= ${(r.min ?? 0) / scale}` : r.min === undefined ? `<= ${r.max / scale}` : `between ${r.min / scale} and ${r.max / scale}`;
  throw new JsonFormError(path, `out of range: must be ${bounds}, got ${shown}`);
}

/** Whether `n` is within the field's declared range (no range: any). */
function inRange(ctx: FieldCtx, n: number): boolean {
  const r = ctx.range;
  return !r || ((r.min === undefined || n >= r.min) && (r.max === undefined || n <= r.max));
}

function primitiveToAvro(type: string, logicalType: string | undefined, ctx: FieldCtx): ToAvro {
  switch (type) {
    case 'null':
      return (value, path, key) => {
        if (value !== null) throw new JsonFormError(at(path, key), `must be null, got ${describe(value)}`);
        return null;
      };
    case 'boolean':
      return (value, path, key) => {
        if (typeof value !== 'boolean') throw new JsonFormError(at(path, key), `must be a boolean, got ${describe(value)}`);
        return value;
      };
    case 'string':
      return (value, path, key) => {
        if (typeof value !== 'string') throw new JsonFormError(at(path, key), `must be a string, got ${describe(value)}`);
        return value;
      };
    case 'int':
    case 'long': {
      if (logicalType === 'timestamp-millis' || logicalType === 'timestamp-micros') {
        const scale = logicalType === 'timestamp-micros' ? 1000 : 1;
        return (value, path, key) => {
          const ms = parseTimestamp(value);
          if (ms === undefined) throw new JsonFormError(at(path, key), `unparsable timestamp ${describe(value)} (expected ISO-8601 UTC or epoch ms)`);
          return ms * scale;
        };
      }
      if (logicalType === 'date') {
        return (value, path, key) => {
          const days = parseDate(value);
          if (days === undefined) throw new JsonFormError(at(path, key), `unparsable date ${describe(value)} (expected YYYY-MM-DD)`);
          return days;
        };
      }
      const limit = type === 'int' ? 2 ** 31 : Number.MAX_SAFE_INTEGER;
      return (value, path, key) => {
        if (typeof value !== 'number' || !Number.isFinite(value)) throw new JsonFormError(at(path, key), `must be a number, got ${describe(value)}`);
        let n = value;
        if (ctx.kopecks) {
          const k = rubToKopecks(value);
          if (k === undefined) throw new JsonFormError(at(path, key), `must be an amount in roubles with at most 2 decimals, got ${value}`);
          n = k;
        } else if (!Number.isInteger(value)) {
          throw new JsonFormError(at(path, key), `must be an integer, got ${value}`);
        }
        if (n >= limit || n < -limit) throw new JsonFormError(at(path, key), `out of range for ${type}, got ${value}`);
        if (ctx.range) checkRange(ctx, n, at(path, key), value);
        return n;
      };
    }
    case 'float':
    case 'double':
      return (value, path, key) => {
        if (typeof value !== 'number' || !Number.isFinite(value)) throw new JsonFormError(at(path, key), `must be a number, got ${describe(value)}`);
        if (ctx.range) checkRange(ctx, value, at(path, key), value);
        return value;
      };
    default:
      return (_value, path, key) => {
        throw new JsonFormError(at(path, key), `type ${type} is not supported in the JSON form`);
      };
  }
}

/** avsc value of `schema` → JSON form (field order of the schema). Assumes a valid value. */
export function avroToJson(catalog: SchemaCatalog, schema: RawSchema, value: unknown, ns?: string, kopecks = false): unknown {
  return cached(catalog, schema, `json:${ns ?? ''}:${kopecks}`, () => compileToJson(catalog, schema, ns, kopecks))(value);
}

function compileToJson(catalog: SchemaCatalog, schema: RawSchema, ns: string | undefined, kopecks: boolean): ToJson {
  if (typeof schema === 'string') {
    const named = catalog.resolveName(schema, ns);
    if (!named) return primitiveToJson(schema, undefined, kopecks);
    return compileNamed(compiledOf(catalog).toJson, named, () => compileToJson(catalog, named, named.namespace, false));
  }
  if (Array.isArray(schema)) {
    const nonNull = schema.filter((b) => b !== 'null');
    if (nonNull.length === 1) {
      const only = compileToJson(catalog, nonNull[0], ns, kopecks);
      return (value) => (value === null ? null : only(value));
    }
    const branches = new Map(nonNull.map((b) => [branchName(catalog, b, ns), compileToJson(catalog, b, ns, false)]));
    return (value) => {
      if (value === null) return null;
      const [key] = Object.keys(value as object);
      const branch = branches.get(key);
      if (!branch) throw new JsonFormError('', `value names no branch of the union: ${key}`);
      return { [key]: branch((value as Record<string, unknown>)[key]) };
    };
  }
  const t = schema.type;
  if (typeof t !== 'string') return compileToJson(catalog, t, ns, kopecks);
  const innerNs = schema.name ? (schema.namespace ?? ns) : ns;
  switch (t) {
    case 'record':
    case 'error': {
      const fields = (schema.fields ?? []).map((f) => ({
        name: f.name,
        key: jsonFieldName(f.name),
        convert: compileToJson(catalog, f.type, innerNs, KOPECKS.test(f.name)),
      }));
      return (value) => {
        const out: Record<string, unknown> = {};
        const rec = value as Record<string, unknown>;
        for (const f of fields) out[f.key] = f.convert(rec[f.name]);
        return out;
      };
    }
    case 'enum':
      return (value) => value;
    case 'array': {
      const item = compileToJson(catalog, schema.items!, innerNs, false);
      return (value) => (value as unknown[]).map(item);
    }
    case 'map': {
      const item = compileToJson(catalog, schema.values!, innerNs, false);
      return (value) => Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, item(v)]));
    }
    default:
      return primitiveToJson(t, schema.logicalType, kopecks);
  }
}

function primitiveToJson(type: string, logicalType: string | undefined, kopecks: boolean): ToJson {
  if (type !== 'long' && type !== 'int') return (value) => value;
  const format =
    logicalType === 'timestamp-millis' ? formatTimestamp
    : logicalType === 'timestamp-micros' ? (v: number) => formatTimestamp(Math.floor(v / 1000))
    : logicalType === 'date' ? formatDate
    : kopecks ? kopecksToRub
    : undefined;
  if (!format) return (value) => value;
  return (value) => (typeof value === 'number' ? format(value) : value);
}

// ---- a quick check of decoded values ------------------------------------------------------

type Check = (value: unknown) => boolean;

/**
 * True only if `jsonToAvro(schema, avroToJson(schema, value))` would succeed for this avsc value
 * (ids non-empty, ranges, kopecks, timestamps and dates within what the JSON form writes and
 * reads back), checked on the value itself without building either form. False means "not
 * sure", not "invalid": the caller then runs the full conversion, which gives the exact error.
 * Ingest uses it to skip converting every decoded payload back just to validate it.
 */
export function avroValueSurelyValid(catalog: SchemaCatalog, schema: RawSchema, value: unknown, ns?: string): boolean {
  return cached(catalog, schema, `check:${ns ?? ''}`, () => compileCheck(catalog, schema, ns, PLAIN))(value);
}

/** 9999-12-31T23:59:59.999Z and its day: the last instant and date a 4-digit ISO year writes. */
const MAX_ISO_MS = 253_402_300_799_999;
const MAX_ISO_DAY = 2_932_896;

function compileCheck(catalog: SchemaCatalog, schema: RawSchema, ns: string | undefined, ctx: FieldCtx): Check {
  if (typeof schema === 'string') {
    const named = catalog.resolveName(schema, ns);
    if (!named) return primitiveCheck(schema, undefined, ctx);
    return compileNamed(compiledOf(catalog).check, named, () => compileCheck(catalog, named, named.namespace, PLAIN));
  }
  if (Array.isArray(schema)) {
    const nonNull = schema.filter((b) => b !== 'null');
    const hasNull = nonNull.length < schema.length;
    if (nonNull.length !== 1) return () => false; // wrapped unions: left to the full conversion
    const only = compileCheck(catalog, nonNull[0], ns, ctx);
    return (value) => (value === null ? hasNull : only(value));
  }
  const t = schema.type;
  if (typeof t !== 'string') return compileCheck(catalog, t, ns, ctx);
  const innerNs = schema.name ? (schema.namespace ?? ns) : ns;
  switch (t) {
    case 'record':
    case 'error': {
      const fields = (schema.fields ?? []).map((f) => ({
        name: f.name,
        isId: f.name.endsWith('_id'),
        check: compileCheck(catalog, f.type, innerNs, { kopecks: KOPECKS.test(f.name), range: f.range }),
      }));
      return (value) => {
        if (!isPlainObject(value)) return false;
        for (const f of fields) {
          const v = value[f.name];
          if (v === undefined || (f.isId && v === '') || !f.check(v)) return false;
        }
        return true;
      };
    }
    case 'enum': {
      const symbols = schema.symbols ?? [];
      return (value) => typeof value === 'string' && symbols.includes(value);
    }
    case 'array': {
      const item = compileCheck(catalog, schema.items!, innerNs, PLAIN);
      return (value) => Array.isArray(value) && value.every((v) => item(v));
    }
    case 'map': {
      const item = compileCheck(catalog, schema.values!, innerNs, PLAIN);
      return (value) => isPlainObject(value) && Object.values(value).every((v) => item(v));
    }
    case 'fixed':
      return () => false;
    default:
      return primitiveCheck(t, schema.logicalType, ctx);
  }
}

function primitiveCheck(type: string, logicalType: string | undefined, ctx: FieldCtx): Check {
  switch (type) {
    case 'null':
      return (value) => value === null;
    case 'boolean':
      return (value) => typeof value === 'boolean';
    case 'string':
      return (value) => typeof value === 'string';
    case 'int':
    case 'long': {
      if (logicalType === 'timestamp-millis') return (value) => Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_ISO_MS;
      if (logicalType === 'timestamp-micros') {
        return (value) => Number.isInteger(value) && (value as number) >= 0 && Math.floor((value as number) / 1000) <= MAX_ISO_MS;
      }
      if (logicalType === 'date') return (value) => Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_ISO_DAY;
      const limit = type === 'int' ? 2 ** 31 : Number.MAX_SAFE_INTEGER;
      return (value) => {
        if (typeof value !== 'number' || !Number.isFinite(value)) return false;
        // The JSON form's number (roubles for kopecks), read back as jsonToAvro does.
        const n = ctx.kopecks ? rubToKopecks(kopecksToRub(value)) : Number.isInteger(value) ? value : undefined;
        return n !== undefined && n < limit && n >= -limit && inRange(ctx, n);
      };
    }
    case 'float':
    case 'double':
      return (value) => typeof value === 'number' && Number.isFinite(value) && inRange(ctx, value);
    default:
      return () => false;
  }
}
