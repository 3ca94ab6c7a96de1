import avro from 'avsc';

/**
 * Confluent-compatible schema registry over HTTP (Apicurio's /apis/ccompat/v7 here). Raw fetch
 * rather than @kafkajs/confluent-schema-registry: its register() compares GET /config/{subject}
 * and Apicurio answers that with the global default (INFRA-NOTES), and its getSchema() returns
 * types from its own avsc copy. Registration sets BACKWARD on the subject after the first version.
 */
export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly retriable: boolean,
  ) {
    super(message);
  }
}

export class IncompatibleSchemaError extends RegistryError {}

const JSON_CT = 'application/vnd.schemaregistry.v1+json';

export class SchemaRegistry {
  private readonly types = new Map<number, Promise<avro.Type | undefined>>();

  constructor(readonly baseUrl: string) {}

  private async call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl.replace(/\/$/, '')}${path}`, {
        method,
        headers: { 'content-type': JSON_CT, accept: JSON_CT },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new RegistryError(`schema registry ${method} ${path}: ${(err as Error).message}`, 0, true);
    }
    const text = await res.text();
    let json: any = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = { message: text };
    }
    return { status: res.status, json };
  }

  /** Registers (or finds) `schema` under `subject` with BACKWARD compatibility; returns its id. */
  async register(subject: string, schema: string): Promise<number> {
    const s = encodeURIComponent(subject);
    const res = await this.call('POST', `/subjects/${s}/versions`, { schema, schemaType: 'AVRO' });
    if (res.status === 409 || res.json?.error_code === 409) {
      throw new IncompatibleSchemaError(`schema for ${subject} is not BACKWARD compatible: ${res.json?.message ?? ''}`, 409, false);
    }
    if (res.status >= 300 || typeof res.json?.id !== 'number') {
      throw new RegistryError(`registering ${subject}: HTTP ${res.status} ${JSON.stringify(res.json)}`, res.status, res.status >= 500);
    }
    await this.ensureBackward(subject);
    return res.json.id as number;
  }

  /** Apicurio answers 409 "rule already exists" when the subject has a rule: then read it back. */
  private async ensureBackward(subject: string): Promise<void> {
    const s = encodeURIComponent(subject);
    const cfg = await this.call('PUT', `/config/${s}`, { compatibility: 'BACKWARD' });
    if (cfg.status < 300) return;
    const current = await this.call('GET', `/config/${s}`);
    const level = current.json?.compatibilityLevel ?? current.json?.compatibility;
    if (current.status < 300 && level === 'BACKWARD') return;
    throw new RegistryError(`setting BACKWARD on ${subject}: HTTP ${cfg.status} ${JSON.stringify(cfg.json)} (now ${level ?? 'unknown'})`, cfg.status, false);
  }

  /** Would `schema` be accepted as the next version of `subject`? */
  async isCompatible(subject: string, schema: string): Promise<boolean> {
    const res = await this.call('POST', `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`, { schema, schemaType: 'AVRO' });
    if (res.status === 404) return true;
    if (res.status >= 300) throw new RegistryError(`compatibility check of ${subject}: HTTP ${res.status}`, res.status, res.status >= 500);
    return res.json?.is_compatible === true;
  }

  /** Writer schema by id; undefined when the registry does not know the id, throws when unreachable. */
  lookup = (id: number): Promise<avro.Type | undefined> => {
    let p = this.types.get(id);
    if (!p) {
      p = this.fetchType(id);
      this.types.set(id, p);
      p.catch(() => this.types.delete(id));
    }
    return p;
  };

  private async fetchType(id: number): Promise<avro.Type | undefined> {
    const res = await this.call('GET', `/schemas/ids/${id}`);
    if (res.status === 404) {
      this.types.delete(id); // not cached: it may be registered later
      return undefined;
    }
    if (res.status >= 300 || typeof res.json?.schema !== 'string') {
      throw new RegistryError(`schema id ${id}: HTTP ${res.status}`, res.status, true);
    }
    return avro.Type.forSchema(JSON.parse(res.json.schema), { wrapUnions: 'auto' });
  }
}
