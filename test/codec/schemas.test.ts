import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../processors/core/envelope.ts';
import { CANONICAL_TYPES, DEFAULT_SCHEMA_DIR, ENVELOPE_TYPE, schemaCatalog, type RawSchema } from '../../processors/codec/schemas.ts';

const files: string[] = [];
const walk = (d: string) => {
  for (const e of readdirSync(d)) {
    const p = join(d, e);
    if (statSync(p).isDirectory()) walk(p);
    else if (e.endsWith('.avsc')) files.push(p);
  }
};
walk(DEFAULT_SCHEMA_DIR);
const catalog = schemaCatalog();

describe('schemas/', () => {
  it.each(files.map((f) => [f.slice(DEFAULT_SCHEMA_DIR.length + 1), f]))('%s parses with avsc (self-contained form)', (_, file) => {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { name: string; namespace: string };
    const fullName = `${raw.namespace}.${raw.name}`;
    expect(catalog.files.get(fullName)).toBeDefined();
    const type = avro.Type.forSchema(JSON.parse(catalog.registrationSchema(fullName)) as avro.Schema, { wrapUnions: 'auto' });
    expect(type.name).toBe(fullName);
  });

  it('uses the ru.masterdeal.events / canonical / state namespaces and documents every record and field', () => {
    const missing: string[] = [];
    for (const [name, def] of catalog.named) {
      expect(name).toMatch(/^ru\.masterdeal\.(events|canonical|state)\./);
      if (!def.doc) missing.push(name);
      for (const f of def.fields ?? []) if (!f.doc) missing.push(`${name}.${f.name}`);
    }
    expect(missing).toEqual([]);
  });

  it('has one payload record per SPEC event type, all in the envelope union', () => {
    expect(catalog.eventTypes().sort()).toEqual([...EVENT_TYPES].sort());
    const union = catalog.definition(ENVELOPE_TYPE).fields!.find((f) => f.name === 'payload')!.type as RawSchema[];
    expect(union).toHaveLength(EVENT_TYPES.length);
  });

  it('registers the envelope as one self-contained schema text', () => {
    const text = catalog.registrationSchema(ENVELOPE_TYPE);
    expect(text).toContain('"event_type":"crm.brief.submitted"');
    expect(text).toContain('"logicalType":"timestamp-millis"');
    expect(Object.keys(CANONICAL_TYPES)).toHaveLength(5);
  });
});
