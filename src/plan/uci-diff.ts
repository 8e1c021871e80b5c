import type { UciOp } from '../uci/batch.js';
import { getOption, type UciSection } from '../uci/parse.js';

export type OptionValue = string | string[];

export interface SectionSpec {
  config: string;
  name: string;
  type: string;
  options: Record<string, OptionValue>;
}

function same(a: OptionValue | undefined, b: OptionValue): boolean {
  if (a === undefined) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => v === b[i]);
  return a === b;
}

function setOps(config: string, section: string, option: string, value: OptionValue): UciOp[] {
  if (!Array.isArray(value)) return [{ op: 'set', config, section, option, value }];
  // a list is replaced whole: delete, then add its items in order
  return [
    { op: 'delete', config, section, option },
    ...value.map((v): UciOp => ({ op: 'add_list', config, section, option, value: v })),
  ];
}

/**
 * Ops that turn `current` into exactly `spec` (a section the tool owns). Compare
 * before set: an option already right produces nothing, so a re-run is a no-op.
 */
export function diffOwnedSection(current: UciSection | undefined, spec: SectionSpec): UciOp[] {
  const { config, name } = spec;
  const ops: UciOp[] = [];
  if (current && current.type !== spec.type) {
    ops.push({ op: 'delete', config, section: name });
    current = undefined;
  }
  if (!current) {
    ops.push({ op: 'set', config, section: name, value: spec.type });
    for (const [k, v] of Object.entries(spec.options)) {
      ops.push(...(Array.isArray(v) ? setOps(config, name, k, v).slice(1) : setOps(config, name, k, v)));
    }
    return ops;
  }
  for (const [k, v] of Object.entries(spec.options)) {
    if (!same(getOption(current, k), v)) {
      ops.push(...(Array.isArray(v) && getOption(current, k) === undefined ? setOps(config, name, k, v).slice(1) : setOps(config, name, k, v)));
    }
  }
  for (const k of current.options.keys()) {
    if (!(k in spec.options)) ops.push({ op: 'delete', config, section: name, option: k });
  }
  return ops;
}
