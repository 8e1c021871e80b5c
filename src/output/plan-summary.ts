/**
 * A plan a person reads: the changes grouped by what they mean on the router (dials,
 * firewall, files, sysctls, packages) instead of the raw `uci batch`. Pure; values that
 * could be secrets never appear (dial options are named, not shown).
 */
import { type Changes, isEmpty } from '../plan/setup.js';
import { redact } from '../redact.js';
import type { UciOp } from '../uci/batch.js';

/** The macvlan device of dial k: it comes and goes with its dial, so it is not listed on its own. */
const DIAL_DEVICE = /^owrt_ecmp_dev\d+$/;

export interface ZoneChange {
  zone: string;
  networksAdded: string[];
  networksRemoved: string[];
  /** option → new value (a secret value is masked) */
  set: Record<string, string>;
  deleted: string[];
}

export interface PlanSummary {
  /** One line: `+3 dials (vwan2 vwan3 vwan4) · firewall: wan zone +3 networks · files: 3 · …`, or `no changes`. */
  headline: string;
  empty: boolean;
  dials: { added: string[]; removed: string[]; changed: Array<{ name: string; options: string[] }> };
  firewall: ZoneChange[];
  /** the tool's own settings in /etc/config/owrt_ecmp are written */
  settingsStored: boolean;
  files: { write: Array<{ path: string; bytes: number; mode: string }>; remove: string[] };
  sysctls: Record<string, string>;
  packages: string[];
  sysupgrade: { add: string[]; remove: string[] };
  reloadsNetwork: boolean;
}

interface SectionOps {
  created: boolean;
  deleted: boolean;
  options: Set<string>;
}

function byNetworkSection(ops: readonly UciOp[]): Map<string, SectionOps> {
  const out = new Map<string, SectionOps>();
  for (const op of ops.filter((o) => o.config === 'network')) {
    const s = out.get(op.section) ?? { created: false, deleted: false, options: new Set<string>() };
    out.set(op.section, s);
    if (op.option !== undefined) s.options.add(op.option);
    else if (op.op === 'delete') s.deleted = true;
    else s.created = true;
  }
  return out;
}

function dialChanges(ops: readonly UciOp[]): PlanSummary['dials'] {
  const dials: PlanSummary['dials'] = { added: [], removed: [], changed: [] };
  for (const [name, s] of byNetworkSection(ops)) {
    // a section deleted and created again (its type changed) is a changed dial
    if (s.created !== s.deleted) {
      if (!DIAL_DEVICE.test(name)) (s.created ? dials.added : dials.removed).push(name);
    } else if (s.options.size || s.created) dials.changed.push({ name, options: [...s.options] });
  }
  return dials;
}

function firewallChanges(ops: readonly UciOp[], zoneName: (ref: string) => string, secret: (op: UciOp) => boolean): ZoneChange[] {
  const zones = new Map<string, ZoneChange>();
  for (const op of ops.filter((o) => o.config === 'firewall')) {
    const zone = zoneName(op.section);
    const z = zones.get(zone) ?? { zone, networksAdded: [], networksRemoved: [], set: {}, deleted: [] };
    zones.set(zone, z);
    const option = op.option ?? '(section)';
    if (op.op === 'add_list' && op.option === 'network') z.networksAdded.push(op.value);
    else if (op.op === 'del_list' && op.option === 'network') z.networksRemoved.push(op.value);
    else if (op.op === 'delete') z.deleted.push(option);
    else z.set[option] = secret(op) ? '•••••' : op.value;
  }
  return [...zones.values()];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function zoneWords(z: ZoneChange): string[] {
  return [
    ...(z.networksAdded.length ? [`+${plural(z.networksAdded.length, 'network')}`] : []),
    ...(z.networksRemoved.length ? [`-${plural(z.networksRemoved.length, 'network')}`] : []),
    ...Object.keys(z.set),
    ...z.deleted.map((o) => `-${o}`),
  ];
}

function headline(s: Omit<PlanSummary, 'headline' | 'empty'>): string {
  const d = s.dials;
  const parts: string[] = [];
  if (d.added.length) parts.push(`+${plural(d.added.length, 'dial')} (${d.added.join(' ')})`);
  if (d.removed.length) parts.push(`-${plural(d.removed.length, 'dial')} (${d.removed.join(' ')})`);
  if (d.changed.length) parts.push(`~${plural(d.changed.length, 'dial')} (${d.changed.map((c) => c.name).join(' ')})`);
  for (const z of s.firewall) parts.push(`firewall: ${z.zone} zone ${zoneWords(z).join(' ')}`);
  if (s.files.write.length) parts.push(`files: ${s.files.write.length}`);
  if (s.files.remove.length) parts.push(`files removed: ${s.files.remove.length}`);
  const sysctls = Object.keys(s.sysctls).length;
  if (sysctls) parts.push(`sysctls: ${sysctls}`);
  if (s.packages.length) parts.push(`packages: ${s.packages.join(' ')}`);
  if (!parts.length && (s.settingsStored || s.sysupgrade.add.length || s.sysupgrade.remove.length)) parts.push('stored settings only');
  return parts.join(' · ');
}

export interface SummaryContext {
  secrets: readonly string[];
  /** `@zone[1]` → `wan`; the ref itself when unknown */
  zoneName?: (ref: string) => string;
  isSecret: (op: UciOp) => boolean;
}

export function summarizePlan(c: Changes, ctx: SummaryContext): PlanSummary {
  const body = {
    dials: dialChanges(c.uci),
    firewall: firewallChanges(c.uci, ctx.zoneName ?? ((r) => r), ctx.isSecret),
    settingsStored: c.uci.some((op) => op.config === 'owrt_ecmp'),
    files: { write: c.files.map((f) => ({ path: f.path, bytes: Buffer.byteLength(f.content), mode: f.mode })), remove: [...c.removeFiles] },
    sysctls: Object.fromEntries([...c.sysctls].map(([k, v]) => [`net.${k.replace(/\//g, '.')}`, v])),
    packages: [...c.packages],
    sysupgrade: { add: [...c.sysupgradeAdd], remove: [...c.sysupgradeRemove] },
    reloadsNetwork: c.touchesNetwork,
  };
  const empty = isEmpty(c);
  const line = headline(body) || (empty ? 'no changes' : plural(c.uci.length, 'uci change'));
  return { headline: redact(line, ctx.secrets), empty, ...body };
}

/** One short line per group, under the headline. */
export function summaryLines(s: PlanSummary): string[] {
  const out: string[] = [];
  const row = (label: string, text: string) => out.push(`  ${label.padEnd(10)} ${text}`);
  const d = s.dials;
  if (d.added.length) row('dials', `+ ${d.added.join(' ')} (PPPoE, each on its own macvlan device)`);
  if (d.removed.length) row(d.added.length ? '' : 'dials', `- ${d.removed.join(' ')} (and their macvlan devices)`);
  for (const c of d.changed) row(d.added.length || d.removed.length ? '' : 'dials', `~ ${c.name}: ${c.options.join(', ') || 'recreated'}`);
  for (const z of s.firewall) {
    const words = [
      ...(z.networksAdded.length ? [`+ ${z.networksAdded.join(' ')}`] : []),
      ...(z.networksRemoved.length ? [`- ${z.networksRemoved.join(' ')}`] : []),
      ...Object.entries(z.set).map(([k, v]) => `${k}='${v}'`),
      ...z.deleted.map((o) => `${o} removed`),
    ];
    row('firewall', `zone ${z.zone}: ${words.join('; ')}`);
  }
  if (s.files.write.length) row('files', s.files.write.map((f) => f.path).join(' '));
  if (s.files.remove.length) row(s.files.write.length ? '' : 'files', `remove ${s.files.remove.join(' ')}`);
  const sysctls = Object.entries(s.sysctls);
  if (sysctls.length) row('sysctls', sysctls.map(([k, v]) => `${k}=${v}`).join(' '));
  if (s.packages.length) row('packages', s.packages.join(' '));
  if (s.settingsStored) row('settings', 'stored in /etc/config/owrt_ecmp (with the values to restore on teardown)');
  if (s.sysupgrade.add.length) row('upgrades', `/etc/sysupgrade.conf keeps ${plural(s.sysupgrade.add.length, 'more path')}`);
  if (s.sysupgrade.remove.length) row('upgrades', `/etc/sysupgrade.conf drops ${plural(s.sysupgrade.remove.length, 'path')}`);
  return out;
}
