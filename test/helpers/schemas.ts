/**
 * The published JSON Schemas (schemas/*.schema.json) loaded into ajv, so tests validate
 * what the CLI really prints against what users are told it prints.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
// the named export: under NodeNext the default import of this CommonJS module is not a constructor
import { Ajv2020 } from 'ajv/dist/2020.js';

export const schemasDir = join(import.meta.dirname, '..', '..', 'schemas');

export type SchemaName = 'status' | 'doctor' | 'plan' | 'change' | 'error';

export function loadSchema(name: SchemaName): Record<string, unknown> {
  return JSON.parse(readFileSync(join(schemasDir, `${name}.schema.json`), 'utf8')) as Record<string, unknown>;
}

let ajv: Ajv2020 | undefined;

function instance(): Ajv2020 {
  if (ajv) return ajv;
  ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  for (const f of readdirSync(schemasDir).filter((n) => n.endsWith('.schema.json'))) {
    ajv.addSchema(JSON.parse(readFileSync(join(schemasDir, f), 'utf8')) as object);
  }
  return ajv;
}

/** The validation errors of `doc` against schemas/<name>.schema.json, as one readable string ('' when valid). */
export function schemaErrors(name: SchemaName, doc: unknown): string {
  const id = loadSchema(name).$id as string;
  const validate = instance().getSchema(id);
  if (!validate) throw new Error(`schema ${id} did not compile`);
  if (validate(doc)) return '';
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`).join('\n');
}

interface Scoped {
  s: Record<string, unknown>;
  /** the schema file `s` belongs to, for its `#/...` references */
  root: Record<string, unknown>;
}

/** `s` and every schema it stands for: its $ref target and its allOf/anyOf/oneOf branches. */
function expand(x: Scoped): Scoped[] {
  const out: Scoped[] = [x];
  const ref = x.s.$ref;
  if (typeof ref === 'string') {
    if (ref.startsWith('#/')) {
      const target = ref.slice(2).split('/').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], x.root) as Record<string, unknown>;
      out.push(...expand({ s: target, root: x.root }));
    } else {
      const file = loadSchema(ref.replace(/\.schema\.json$/, '') as SchemaName);
      out.push(...expand({ s: file, root: file }));
    }
  }
  for (const k of ['allOf', 'anyOf', 'oneOf']) {
    for (const b of (x.s[k] as Array<Record<string, unknown>> | undefined) ?? []) out.push(...expand({ s: b, root: x.root }));
  }
  return out;
}

function walk(value: unknown, schemas: Scoped[], path: string, out: string[]): void {
  const all = schemas.flatMap(expand);
  if (Array.isArray(value)) {
    const items = all.flatMap((x) => (x.s.items && typeof x.s.items === 'object' ? [{ s: x.s.items as Record<string, unknown>, root: x.root }] : []));
    value.forEach((v, i) => walk(v, items, `${path}/${i}`, out));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    const subs = all.flatMap((x) => {
      const p = (x.s.properties as Record<string, unknown> | undefined)?.[k] ?? x.s.additionalProperties;
      return p && typeof p === 'object' ? [{ s: p as Record<string, unknown>, root: x.root }] : [];
    });
    if (subs.length) walk(v, subs, `${path}/${k}`, out);
    else if (!all.some((x) => x.s.additionalProperties === true)) out.push(`${path}/${k}`);
  }
}

/**
 * Fields of `doc` that schemas/<name>.schema.json does not describe (JSON pointers). The
 * schemas allow added fields (a new field keeps schemaVersion), so a field the CLI prints
 * but the published schema never mentions still validates: this is what catches it.
 */
export function undocumentedFields(name: SchemaName, doc: unknown): string[] {
  const root = loadSchema(name);
  const out: string[] = [];
  walk(doc, [{ s: root, root }], '', out);
  return out;
}
