import { isoUtc } from '../core/iso-time.ts';
import { CANONICAL_TYPES, schemaCatalog, type CanonicalType, type RawSchema, type SchemaCatalog } from '../codec/schemas.ts';

/**
 * The sink's renderer of canonical records as JSON text: `JSON.stringify(toJson(value))` for a
 * decoded canonical record (the engine's shape, epoch-ms timestamps), written straight from the
 * value by code compiled from the record's Avro schema, without toJson's copy of every object
 * and array (toJson and its ISO formatting were a sixth of the sink's CPU). Keys come in schema
 * order after `type`, as toJson keeps them; every `timestamp-millis` field is written as ISO-8601
 * by the core's isoUtc, which is what toJson converts. test/pipeline/canonical-json.test.ts checks byte equality over
 * every output the engine makes; a schema this renderer does not know (enum, bytes, fixed, other
 * unions) gets no renderer, and the caller uses toJson.
 */
export interface CanonicalJsonRenderer {
  /** JSON text of the record. */
  render(value: Record<string, unknown>): string;
  /** Top-level fields written as ISO text (their JSON form is a string, not the epoch ms). */
  timestampFields: ReadonlySet<string>;
}

type Render = (v: unknown) => string;

class Unsupported extends Error {}

// JSON.stringify of anything unexpected keeps the result identical whatever the value is.
const jsonString: Render = (v) => JSON.stringify(v);
const jsonNumber: Render = (v) => (typeof v === 'number' && Number.isFinite(v) ? `${v}` : JSON.stringify(v));
const jsonBoolean: Render = (v) => (v === true ? 'true' : v === false ? 'false' : JSON.stringify(v));
const jsonTimestamp: Render = (v) => (typeof v === 'number' ? `"${isoUtc(v)}"` : JSON.stringify(v));

const isTimestamp = (s: RawSchema) => typeof s === 'object' && !Array.isArray(s) && s.type === 'long' && s.logicalType === 'timestamp-millis';

class Compiler {
  /** Renderers of named records by full name (a later use refers to the first definition). */
  private readonly named = new Map<string, Render>();

  compile(schema: RawSchema, ns?: string): Render {
    if (typeof schema === 'string') {
      switch (schema) {
        case 'string':
          return jsonString;
        case 'int':
        case 'long':
        case 'float':
        case 'double':
          return jsonNumber;
        case 'boolean':
          return jsonBoolean;
        case 'null':
          return () => 'null';
        default: {
          const full = schema.includes('.') || !ns ? schema : `${ns}.${schema}`;
          const named = this.named;
          if (!named.has(full) && !named.has(schema)) throw new Unsupported(`type ${schema}`);
          return (v) => (named.get(full) ?? named.get(schema)!)(v);
        }
      }
    }
    if (Array.isArray(schema)) {
      // Nullable unions only: avsc ('auto') gives the plain value or null.
      const others = schema.filter((s) => s !== 'null');
      if (schema.length !== 2 || others.length !== 1) throw new Unsupported('union');
      const inner = this.compile(others[0]!, ns);
      return (v) => (v === null ? 'null' : inner(v));
    }
    if (isTimestamp(schema)) return jsonTimestamp;
    switch (schema.type) {
      case 'record':
        return this.record(schema.fields ?? [], schema.name ? this.fullName(schema.name, schema.namespace ?? ns) : undefined, schema.namespace ?? ns);
      case 'map': {
        const values = this.compile(schema.values!, ns);
        return (v) => {
          if (v === null || typeof v !== 'object') return JSON.stringify(v);
          const o = v as Record<string, unknown>;
          let out = '{';
          for (const key of Object.keys(o)) {
            const value = o[key];
            if (value === undefined) continue;
            out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${values(value)}`;
          }
          return `${out}}`;
        };
      }
      case 'array': {
        const items = this.compile(schema.items!, ns);
        return (v) => {
          if (!Array.isArray(v)) return JSON.stringify(v);
          let out = '[';
          for (let i = 0; i < v.length; i++) out += `${i === 0 ? '' : ','}${v[i] === undefined ? 'null' : items(v[i])}`;
          return `${out}]`;
        };
      }
      default:
        if (typeof schema.type === 'string' && ['string', 'int', 'long', 'float', 'double', 'boolean', 'null'].includes(schema.type)) return this.compile(schema.type, ns);
        if (typeof schema.type === 'object') return this.compile(schema.type, ns);
        throw new Unsupported(String(schema.type));
    }
  }

  private fullName(name: string, ns?: string): string {
    return name.includes('.') || !ns ? name : `${ns}.${name}`;
  }

  /** A record: `{"field":value,...}` in schema order; a field left undefined is left out, as JSON.stringify does. */
  record(fields: NonNullable<Extract<RawSchema, { fields?: unknown }>['fields']>, fullName: string | undefined, ns: string | undefined, prefix = ''): Render {
    const parts: { name: string; key: string; render: Render }[] = [];
    let self: Render = () => '';
    if (fullName) this.named.set(fullName, (v) => self(v));
    for (const f of fields) parts.push({ name: f.name, key: `${JSON.stringify(f.name)}:`, render: this.compile(f.type, ns) });
    self = (v) => {
      if (v === null || typeof v !== 'object') return JSON.stringify(v);
      const o = v as Record<string, unknown>;
      let out = `{${prefix}`;
      let first = prefix === '';
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!;
        const value = o[p.name];
        if (value === undefined) continue;
        out += first ? p.key : `,${p.key}`;
        out += p.render(value);
        first = false;
      }
      return `${out}}`;
    };
    return self;
  }
}

const renderers = new WeakMap<SchemaCatalog, Map<CanonicalType, CanonicalJsonRenderer | null>>();

/** The renderer of a canonical record type, or undefined when its schema has types it does not know. */
export function canonicalJsonRenderer(type: CanonicalType, catalog: SchemaCatalog = schemaCatalog()): CanonicalJsonRenderer | undefined {
  let byType = renderers.get(catalog);
  if (!byType) renderers.set(catalog, (byType = new Map()));
  let r = byType.get(type);
  if (r === undefined) {
    const def = catalog.selfContained(CANONICAL_TYPES[type]);
    try {
      const compiler = new Compiler();
      const fields = def.fields ?? [];
      // `type` first, as toJson writes it (the record itself has no such field).
      if (fields.some((f) => f.name === 'type')) throw new Unsupported('a field named type');
      const render = compiler.record(fields, undefined, def.namespace, `"type":${JSON.stringify(type)}`);
      r = { render, timestampFields: new Set(fields.filter((f) => isTimestamp(f.type) || (Array.isArray(f.type) && f.type.some(isTimestamp))).map((f) => f.name)) };
    } catch (err) {
      if (!(err instanceof Unsupported)) throw err;
      r = null;
    }
    byType.set(type, r);
  }
  return r ?? undefined;
}
