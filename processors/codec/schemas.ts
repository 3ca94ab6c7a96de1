import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { EVENT_TYPES } from '../core/envelope.ts';
import { CodecError } from './errors.ts';

/**
 * The .avsc files under schemas/ are the source of truth. Each file holds one top-level named
 * type and refers to others by full name; this module indexes every named type, inlines the
 * references so each top-level type has a self-contained schema (what the registry gets),
 * and builds avsc Types from those.
 */
export const DEFAULT_SCHEMA_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../schemas');

export const ENVELOPE_TYPE = 'ru.masterdeal.events.DomainEvent';

/** Canonical output `type` (SPEC §6) → Avro record full name. */
export const CANONICAL_TYPES = {
  'masterdeal.stage.changed': 'ru.masterdeal.canonical.StageChanged',
  'masterdeal.sla.updated': 'ru.masterdeal.canonical.SlaUpdated',
  'masterdeal.sla.breached': 'ru.masterdeal.canonical.SlaBreached',
  'masterdeal.closed': 'ru.masterdeal.canonical.DealClosed',
  'masterdeal.snapshot': 'ru.masterdeal.canonical.DealSnapshot',
} as const;
export type CanonicalType = keyof typeof CANONICAL_TYPES;

/** A schema as parsed from JSON: a name, a union (array) or a type object. */
export type RawSchema = string | RawSchema[] | RawObject;
export interface RawObject {
  type: RawSchema;
  name?: string;
  namespace?: string;
  fields?: RawField[];
  symbols?: string[];
  items?: RawSchema;
  values?: RawSchema;
  logicalType?: string;
  [attr: string]: unknown;
}
export interface RawField {
  name: string;
  type: RawSchema;
  doc?: string;
  default?: unknown;
  range?: { min?: number; max?: number };
  [attr: string]: unknown;
}

/** A named type (record/enum/fixed) with its namespace made explicit. */
export interface NamedSchema extends RawObject {
  name: string;
  namespace: string;
}

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);
const NAMED_KINDS = new Set(['record', 'error', 'enum', 'fixed']);

export function fullNameOf(name: string, namespace: string | undefined): string {
  return name.includes('.') || !namespace ? name : `${namespace}.${name}`;
}

function namespaceOf(fullName: string): string {
  const i = fullName.lastIndexOf('.');
  return i < 0 ? '' : fullName.slice(0, i);
}

export class SchemaCatalog {
  /** Full name → definition; nested definitions are replaced by their full names. */
  readonly named = new Map<string, NamedSchema>();
  /** Full name of each file's top-level type → file path relative to the schema dir. */
  readonly files = new Map<string, string>();
  private readonly payloadByEventType = new Map<string, string>();
  private readonly eventTypeByPayload = new Map<string, string>();
  private readonly types = new Map<string, avro.Type>();

  constructor(readonly dir: string) {
    for (const file of listAvsc(dir)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new CodecError('SCHEMA_LOAD_FAILED', `${file}: not valid JSON`, { cause: err });
      }
      const top = this.index(parsed as RawSchema, undefined, file);
      if (typeof top !== 'string') throw new CodecError('SCHEMA_LOAD_FAILED', `${file}: top level must be a named type`);
      this.files.set(top, relative(dir, file));
    }
    for (const [fullName, def] of this.named) {
      const eventType = def.event_type;
      if (typeof eventType !== 'string') continue;
      if (this.payloadByEventType.has(eventType)) {
        throw new CodecError('SCHEMA_LOAD_FAILED', `two payload records declare event_type ${eventType}`);
      }
      this.payloadByEventType.set(eventType, fullName);
      this.eventTypeByPayload.set(fullName, eventType);
    }
    // Compile everything once so a broken reference fails at start-up, not on the first record.
    for (const name of this.files.keys()) this.type(name);
  }

  /** Registers named types found in `schema`; returns the schema with named definitions replaced by full names. */
  private index(schema: RawSchema, ns: string | undefined, file: string): RawSchema {
    if (typeof schema === 'string') return schema;
    if (Array.isArray(schema)) return schema.map((s) => this.index(s, ns, file));
    if (typeof schema.type === 'string' && NAMED_KINDS.has(schema.type)) {
      if (typeof schema.name !== 'string') throw new CodecError('SCHEMA_LOAD_FAILED', `${file}: named type without a name`);
      const fullName = fullNameOf(schema.name, schema.namespace ?? ns);
      const innerNs = namespaceOf(fullName);
      const def: NamedSchema = { ...schema, name: fullName.slice(fullName.lastIndexOf('.') + 1), namespace: innerNs };
      if (schema.fields) def.fields = schema.fields.map((f) => ({ ...f, type: this.index(f.type, innerNs, file) }));
      if (this.named.has(fullName)) throw new CodecError('SCHEMA_LOAD_FAILED', `${file}: ${fullName} is defined twice`);
      this.named.set(fullName, def);
      return fullName;
    }
    const out: RawObject = { ...schema, type: this.index(schema.type, ns, file) };
    if (schema.items !== undefined) out.items = this.index(schema.items, ns, file);
    if (schema.values !== undefined) out.values = this.index(schema.values, ns, file);
    return out;
  }

  /** Resolves a reference written in namespace `ns` to a named definition, if it is one. */
  resolveName(ref: string, ns: string | undefined): NamedSchema | undefined {
    if (PRIMITIVES.has(ref)) return undefined;
    return this.named.get(fullNameOf(ref, ns)) ?? this.named.get(ref);
  }

  /** Self-contained schema of a named type: each named type is defined at its first use. */
  selfContained(fullName: string): NamedSchema {
    const defined = new Set<string>();
    const inline = (schema: RawSchema, ns: string | undefined): RawSchema => {
      if (typeof schema === 'string') {
        const def = this.resolveName(schema, ns);
        if (!def) {
          if (PRIMITIVES.has(schema)) return schema;
          throw new CodecError('SCHEMA_UNKNOWN_TYPE', `unknown type ${schema} referenced from ${fullName}`);
        }
        const full = fullNameOf(def.name, def.namespace);
        if (defined.has(full)) return full;
        defined.add(full);
        const copy: NamedSchema = { ...def };
        if (def.fields) copy.fields = def.fields.map((f) => ({ ...f, type: inline(f.type, def.namespace) }));
        return copy;
      }
      if (Array.isArray(schema)) return schema.map((s) => inline(s, ns));
      const out: RawObject = { ...schema, type: isKeyword(schema.type) ? schema.type : inline(schema.type, ns) };
      if (schema.items !== undefined) out.items = inline(schema.items, ns);
      if (schema.values !== undefined) out.values = inline(schema.values, ns);
      return out;
    };
    const result = inline(fullName, undefined);
    if (typeof result === 'string' || Array.isArray(result)) {
      throw new CodecError('SCHEMA_UNKNOWN_TYPE', `unknown named type ${fullName}`);
    }
    return result as NamedSchema;
  }

  /** The schema text to register for a subject (self-contained, with docs and attributes). */
  registrationSchema(fullName: string): string {
    return JSON.stringify(this.selfContained(fullName));
  }

  /** avsc Type of a named type (records of unions are wrapped, nullable unions are not). */
  type(fullName: string): avro.Type {
    let t = this.types.get(fullName);
    if (!t) {
      try {
        t = avro.Type.forSchema(this.selfContained(fullName) as avro.Schema, { wrapUnions: 'auto' });
      } catch (err) {
        if (err instanceof CodecError) throw err;
        throw new CodecError('SCHEMA_LOAD_FAILED', `${fullName}: ${(err as Error).message}`, { cause: err });
      }
      this.types.set(fullName, t);
    }
    return t;
  }

  definition(fullName: string): NamedSchema {
    const def = this.named.get(fullName);
    if (!def) throw new CodecError('SCHEMA_UNKNOWN_TYPE', `unknown named type ${fullName}`);
    return def;
  }

  /** Full name of the payload record of an event type (from the records' `event_type` attribute). */
  payloadTypeOf(eventType: string): string | undefined {
    return this.payloadByEventType.get(eventType);
  }

  eventTypeOfPayload(fullName: string): string | undefined {
    return this.eventTypeByPayload.get(fullName);
  }

  eventTypes(): string[] {
    return [...this.payloadByEventType.keys()];
  }
}

/** `type` of a schema object: a complex-type keyword or primitive, not a reference. */
function isKeyword(t: RawSchema): boolean {
  return typeof t === 'string' && (PRIMITIVES.has(t) || t === 'array' || t === 'map' || NAMED_KINDS.has(t));
}

function listAvsc(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d).sort()) {
      const p = join(d, entry);
      if (statSync(p).isDirectory()) walk(p);
      else if (entry.endsWith('.avsc')) out.push(p);
    }
  };
  try {
    walk(dir);
  } catch (err) {
    throw new CodecError('SCHEMA_LOAD_FAILED', `cannot read schema directory ${dir}`, { cause: err });
  }
  return out;
}

/** Loads and checks a schema directory: every SPEC event type has exactly one payload record in the envelope union. */
export function loadSchemas(dir: string = DEFAULT_SCHEMA_DIR): SchemaCatalog {
  const catalog = new SchemaCatalog(dir);
  if (catalog.files.has(ENVELOPE_TYPE)) {
    const union = catalog.definition(ENVELOPE_TYPE).fields?.find((f) => f.name === 'payload')?.type;
    const branches = new Set(Array.isArray(union) ? union.map((b) => (typeof b === 'string' ? fullNameOf(b, 'ru.masterdeal.events') : '')) : []);
    for (const eventType of EVENT_TYPES) {
      const payload = catalog.payloadTypeOf(eventType);
      if (!payload) throw new CodecError('SCHEMA_LOAD_FAILED', `no payload record declares event_type ${eventType}`);
      if (!branches.has(payload)) throw new CodecError('SCHEMA_LOAD_FAILED', `${payload} is missing from the DomainEvent payload union`);
    }
  }
  return catalog;
}

let cached: SchemaCatalog | undefined;

/** The catalog of the repository's schemas/ directory, loaded once. */
export function schemaCatalog(): SchemaCatalog {
  cached ??= loadSchemas();
  return cached;
}
