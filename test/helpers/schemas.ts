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
