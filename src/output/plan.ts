import type { Changes } from '../plan/setup.js';
import { redact } from '../redact.js';
import { describeOp, type UciOp } from '../uci/batch.js';

function isSecretOp(secrets: readonly string[]) {
  return (op: UciOp) =>
    ('option' in op && op.option === 'password') || ('value' in op && secrets.includes(op.value));
}

/** The plan as JSON-ready data, secrets masked. */
export function planData(c: Changes, secrets: readonly string[]) {
  const secret = isSecretOp(secrets);
  return {
    packages: c.packages,
    uci: c.uci.map((op) => describeOp(op, secret)),
    files: c.files.map((f) => ({ path: f.path, bytes: Buffer.byteLength(f.content), mode: f.mode })),
    removeFiles: c.removeFiles,
    sysctls: Object.fromEntries([...c.sysctls].map(([k, v]) => [`net.${k.replace('/', '.')}`, v])),
    sysupgradeAdd: c.sysupgradeAdd,
    sysupgradeRemove: c.sysupgradeRemove,
    reloadsNetwork: c.touchesNetwork,
  };
}

/** Human-readable plan, secrets masked. `full` prints file contents too. */
export function formatPlan(c: Changes, secrets: readonly string[], full = false): string {
  const d = planData(c, secrets);
  const out: string[] = [];
  if (d.packages.length) out.push(`packages to install: ${d.packages.join(' ')}`);
  if (d.uci.length) {
    out.push('uci batch (one transaction, committed together):');
    for (const l of d.uci) out.push(`  ${l}`);
  }
  for (const f of c.files) {
    out.push(`write ${f.path} (${Buffer.byteLength(f.content)} bytes, mode ${f.mode})`);
    if (full) out.push(...redact(f.content, secrets).replace(/\n$/, '').split('\n').map((l) => `  | ${l}`));
  }
  for (const f of d.removeFiles) out.push(`remove ${f}`);
  for (const [k, v] of Object.entries(d.sysctls)) out.push(`sysctl ${k}=${v}`);
  for (const l of d.sysupgradeAdd) out.push(`/etc/sysupgrade.conf: + ${l}`);
  for (const l of d.sysupgradeRemove) out.push(`/etc/sysupgrade.conf: - ${l}`);
  if (d.reloadsNetwork) out.push('then: reload network and firewall (rollback armed until confirmed)');
  return out.length ? out.join('\n') : 'no changes';
}
