import type { RouterFacts } from '../probe/facts.js';
import { ROUTER_FILES, SYSUPGRADE_FILES } from '../paths.js';
import type { Settings } from '../settings.js';
import type { UciOp } from '../uci/batch.js';
import { findSection, getOption, sectionsOfType } from '../uci/parse.js';
import { OWN_TAG, readRestore, readSettings } from './store.js';
import type { Changes } from './setup.js';

export interface TeardownPlan {
  /** Settings of the setup being undone; undefined when the router has none stored. */
  settings: Settings | undefined;
  changes: Changes;
}

/**
 * Undo setup exactly: delete what the tool owns, put back each value it changed
 * (from owrt_ecmp.restore), remove its files, rules and sysctls. Pure.
 */
export function planTeardown(facts: RouterFacts): TeardownPlan {
  const settings = readSettings(facts.config.owrtEcmp);
  const restore = readRestore(facts.config.owrtEcmp);
  const net = facts.config.network;
  const ops: UciOp[] = [];
  const owned = net.sections.filter((s) => !s.anonymous && getOption(s, OWN_TAG) === '1');
  for (const s of owned) ops.push({ op: 'delete', config: 'network', section: s.name });

  const wanName = settings?.wan ?? 'wan';
  if (restore.has('wan_metric') && findSection(net, wanName)) {
    const orig = restore.get('wan_metric');
    if (orig == null) ops.push({ op: 'delete', config: 'network', section: wanName, option: 'metric' });
    else ops.push({ op: 'set', config: 'network', section: wanName, option: 'metric', value: orig });
  }

  const zones = sectionsOfType(facts.config.firewall, 'zone');
  const zone = zones.find((z) => getOption(z, 'name') === 'wan');
  if (zone) {
    const ref = `@zone[${zones.indexOf(zone)}]`;
    const ownedIfaces = new Set(owned.filter((s) => s.type === 'interface').map((s) => s.name));
    const cur = getOption(zone, 'network');
    const origNet = restore.get('zone_network');
    if (typeof origNet === 'string') {
      ops.push({ op: 'set', config: 'firewall', section: ref, option: 'network', value: origNet });
    } else if (Array.isArray(cur)) {
      for (const n of cur) if (ownedIfaces.has(n)) ops.push({ op: 'del_list', config: 'firewall', section: ref, option: 'network', value: n });
    }
    if (restore.has('zone_masq6')) {
      const orig = restore.get('zone_masq6');
      if (orig == null) ops.push({ op: 'delete', config: 'firewall', section: ref, option: 'masq6' });
      else ops.push({ op: 'set', config: 'firewall', section: ref, option: 'masq6', value: orig });
    }
  }

  const sysctls = new Map<string, string>();
  for (const [k, v] of restore) {
    const m = /^sysctl_(ipv[46])_(.+)$/.exec(k);
    if (m && v != null && facts.sysctl.get(`${m[1]}/${m[2]}`) !== v) sysctls.set(`${m[1]}/${m[2]}`, v);
  }

  const present = new Set(facts.sysupgradeConf.map((l) => l.trim()));
  const removeFiles = ROUTER_FILES.filter((p) => facts.files.get(p) != null);
  if (facts.config.owrtEcmp) removeFiles.push('/etc/config/owrt_ecmp');
  return {
    settings,
    changes: {
      uci: ops,
      files: [],
      removeFiles,
      sysctls,
      sysupgradeAdd: [],
      sysupgradeRemove: SYSUPGRADE_FILES.filter((p) => present.has(p)),
      packages: [],
      touchesNetwork: ops.length > 0,
    },
  };
}
