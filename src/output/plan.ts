import type { Changes } from '../plan/setup.js';
import { redact } from '../redact.js';
import { describeOp, type UciOp } from '../uci/batch.js';
import { getOption, sectionsOfType, type UciPackage } from '../uci/parse.js';
import { type PlanSummary, summarizePlan, summaryLines } from './plan-summary.js';

export interface PlanView {
  secrets: readonly string[];
  /** the exact uci batch and file contents as well as the summary */
  verbose?: boolean;
  /** the firewall config the plan was made from, to name zones (`@zone[1]` → wan) */
  firewall?: UciPackage;
}

export interface PlanDetails {
  uci: string[];
  files: Array<{ path: string; bytes: number; mode: string; content: string }>;
}

export interface PlanJson {
  summary: PlanSummary;
  details?: PlanDetails;
}

function isSecretOp(secrets: readonly string[]) {
  return (op: UciOp) =>
    ('option' in op && op.option === 'password') || ('value' in op && secrets.includes(op.value));
}

function zoneNamer(firewall: UciPackage | undefined): (ref: string) => string {
  const zones = firewall ? sectionsOfType(firewall, 'zone') : [];
  return (ref) => {
    const m = /^@zone\[(\d+)\]$/.exec(ref);
    const zone = m ? zones[Number(m[1])] : undefined;
    const name = zone ? getOption(zone, 'name') : undefined;
    return typeof name === 'string' ? name : ref;
  };
}

function details(c: Changes, secrets: readonly string[]): PlanDetails {
  return {
    uci: c.uci.map((op) => describeOp(op, isSecretOp(secrets))),
    files: c.files.map((f) => ({ path: f.path, bytes: Buffer.byteLength(f.content), mode: f.mode, content: redact(f.content, secrets) })),
  };
}

/** The plan as JSON-ready data, secrets masked: always the summary, the exact changes with `verbose`. */
export function planJson(c: Changes, v: PlanView): PlanJson {
  const summary = summarizePlan(c, { secrets: v.secrets, zoneName: zoneNamer(v.firewall), isSecret: isSecretOp(v.secrets) });
  return v.verbose ? { summary, details: details(c, v.secrets) } : { summary };
}

/** Human-readable plan, secrets masked: headline, one line per group, the exact batch and files with `verbose`. */
export function formatPlan(c: Changes, v: PlanView): string {
  const { summary, details: d } = planJson(c, v);
  if (summary.empty) return 'no changes';
  const out = [summary.headline, ...summaryLines(summary)];
  if (summary.reloadsNetwork) out.push('then: reload network and firewall (rollback armed until confirmed)');
  if (!d) {
    if (c.uci.length || c.files.length) out.push('(--verbose shows the exact uci batch and file contents)');
    return out.join('\n');
  }
  if (d.uci.length) out.push('', 'uci batch (one transaction, committed together):', ...d.uci.map((l) => `  ${l}`));
  for (const f of d.files) {
    out.push('', `write ${f.path} (${f.bytes} bytes, mode ${f.mode})`);
    out.push(...f.content.replace(/\n$/, '').split('\n').map((l) => `  | ${l}`));
  }
  return out.join('\n');
}
