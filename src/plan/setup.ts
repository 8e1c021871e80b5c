import type { RouterFacts } from '../probe/facts.js';
import { SYSUPGRADE_FILES } from '../paths.js';
import type { Credentials } from '../options.js';
import type { Settings } from '../settings.js';
import type { UciOp } from '../uci/batch.js';
import { findSection, getOption, sectionsOfType, type UciSection } from '../uci/parse.js';
import { type Capabilities, checkCapabilities } from './capabilities.js';
import { type Dial, planDials } from './dials.js';
import { desiredFiles, desiredSysctls, type RouterFile, sha256 } from './files.js';
import { OWN_CONFIG, OWN_TAG, readRestore, settingsToOptions } from './store.js';
import { diffOwnedSection, type SectionSpec } from './uci-diff.js';

/** What an apply must do; empty lists mean nothing to do. Contains secrets in `uci` values. */
export interface Changes {
  uci: UciOp[];
  files: RouterFile[];
  removeFiles: string[];
  /** sysctl key (e.g. ipv4/fib_multipath_hash_policy) → value to set now */
  sysctls: Map<string, string>;
  sysupgradeAdd: string[];
  sysupgradeRemove: string[];
  packages: string[];
  /** network or firewall config changes: needs a reload and the rollback guard */
  touchesNetwork: boolean;
}

export interface SetupPlan {
  settings: Settings;
  caps: Capabilities;
  dials: Dial[];
  changes: Changes;
  /** Values that must never be shown (passwords); for redaction of any output. */
  secrets: string[];
}

/** PPPoE options a new dial copies from wan (credentials unless given explicitly). */
const COPIED_OPTIONS = ['username', 'password', 'ac', 'service', 'mtu', 'keepalive', 'keepalive_adaptive', 'padi_attempts', 'padi_timeout'] as const;

function wanZone(facts: RouterFacts): UciSection | undefined {
  return sectionsOfType(facts.config.firewall, 'zone').find((z) => getOption(z, 'name') === 'wan');
}

/**
 * Anonymous sections are addressed by type index (`@zone[1]`). The zone is found by
 * its name here, and the apply script refuses to run if the config changed since the
 * probe, so the index stays right.
 */
function zoneRef(facts: RouterFacts, zone: UciSection): string {
  return `@zone[${sectionsOfType(facts.config.firewall, 'zone').indexOf(zone)}]`;
}

/**
 * DNS as wan has it: netifd writes resolv.conf.auto only from interfaces that are up,
 * so with `peerdns 0` on dials 2..N the LAN would lose upstream DNS while wan is down.
 */
const DNS_OPTIONS = ['peerdns', 'dns'] as const;

function dialSections(s: Settings, facts: RouterFacts, dial: Dial, wanDevice: string, creds: Credentials): SectionSpec[] {
  const wan = findSection(facts.config.network, s.wan);
  const iface: Record<string, string | string[]> = { proto: 'pppoe', device: dial.l2 };
  for (const key of COPIED_OPTIONS) {
    const v = wan ? getOption(wan, key) : undefined;
    if (typeof v === 'string') iface[key] = v;
  }
  if (creds.username !== undefined) iface.username = creds.username;
  if (creds.password !== undefined) iface.password = creds.password;
  iface.metric = String(dial.metric);
  iface.ipv6 = s.ipv6 === 'ecmp' ? 'auto' : '0';
  for (const key of DNS_OPTIONS) {
    const v = wan ? getOption(wan, key) : undefined;
    if (v !== undefined) iface[key] = v;
  }
  iface[OWN_TAG] = '1';
  return [
    {
      config: 'network',
      name: `owrt_ecmp_dev${dial.k}`,
      type: 'device',
      options: { name: dial.l2, type: 'macvlan', ifname: wanDevice, macaddr: dial.mac ?? '', mode: 'private', [OWN_TAG]: '1' },
    },
    { config: 'network', name: dial.iface, type: 'interface', options: iface },
  ];
}

/**
 * (settings, facts) → the changes that make the router match. Pure: no I/O.
 * Throws UsageError for requests that contradict the router (names taken etc.);
 * capability problems are returned in caps for the caller to decide (--install-packages).
 */
export function planSetup(s: Settings, facts: RouterFacts, creds: Credentials): SetupPlan {
  const caps = checkCapabilities(facts, s);
  const wanDevice = caps.wanDevice ?? 'wan';
  const parentMac = facts.netdevs.get(wanDevice) ?? wanDevice;
  const dials = planDials(s, wanDevice, parentMac, caps.wanMetric);
  const ops: UciOp[] = [];
  const net = facts.config.network;
  const restore = readRestore(facts.config.owrtEcmp);
  const newRestore = new Map(restore);
  const remember = (key: string, value: string | undefined) => {
    if (!newRestore.has(key)) newRestore.set(key, value ?? null);
  };

  // dials ≥ 2: macvlan device + PPPoE interface, owned and tagged
  const wanting = new Set<string>();
  for (const dial of dials.slice(1)) {
    for (const spec of dialSections(s, facts, dial, wanDevice, creds)) {
      wanting.add(spec.name);
      ops.push(...diffOwnedSection(findSection(net, spec.name), spec));
    }
  }
  const ownedNow = net.sections.filter((sec) => !sec.anonymous && getOption(sec, OWN_TAG) === '1');
  for (const sec of ownedNow) {
    if (!wanting.has(sec.name)) ops.push({ op: 'delete', config: 'network', section: sec.name });
  }

  // dial 1 is left exactly as it is: changing wan's metric makes netifd re-add its
  // addresses (reload_ip), and masquerade then drops every LAN connection through wan.
  // The ECMP route lives in its own table, so wan's metric no longer matters to it. A
  // router set up by an earlier version keeps the metric it got (restore.wan_metric)
  // until teardown puts the original back.
  const wan = findSection(net, s.wan);

  // firewall: every dial in the zone named wan (NAT, and the _6 sub-interface needs a zone)
  const zone = wanZone(facts);
  if (zone) {
    const ref = zoneRef(facts, zone);
    const dialNames = dials.slice(1).map((d) => d.iface);
    const ownedNames = new Set(ownedNow.filter((x) => x.type === 'interface').map((x) => x.name));
    const cur = getOption(zone, 'network');
    if (Array.isArray(cur) || cur === undefined) {
      const items = cur ?? [];
      for (const n of dialNames) if (!items.includes(n)) ops.push({ op: 'add_list', config: 'firewall', section: ref, option: 'network', value: n });
      for (const n of items) {
        if (ownedNames.has(n) && !dialNames.includes(n)) ops.push({ op: 'del_list', config: 'firewall', section: ref, option: 'network', value: n });
      }
    } else {
      // `option network 'wan wan6'`: keep it an option; add_list would turn it into a list
      remember('zone_network', cur);
      const original = newRestore.get('zone_network') ?? cur;
      const words = original.split(/\s+/).filter(Boolean).filter((w) => !ownedNames.has(w) || dialNames.includes(w));
      const want = [...words, ...dialNames.filter((n) => !words.includes(n))].join(' ');
      if (want !== cur) ops.push({ op: 'set', config: 'firewall', section: ref, option: 'network', value: want });
    }
    if (s.ipv6 === 'ecmp') {
      const masq6 = getOption(zone, 'masq6');
      remember('zone_masq6', typeof masq6 === 'string' ? masq6 : undefined);
      if (masq6 !== '1') ops.push({ op: 'set', config: 'firewall', section: ref, option: 'masq6', value: '1' });
    }
  }

  for (const key of desiredSysctls(s).keys()) remember(`sysctl_${key.replace(/[/]/g, '_')}`, facts.sysctl.get(key) ?? undefined);

  // the tool's own package: settings + originals
  const own = facts.config.owrtEcmp;
  ops.push(
    ...diffOwnedSection(own ? findSection(own, 'main') : undefined, {
      config: OWN_CONFIG,
      name: 'main',
      type: 'owrt_ecmp',
      options: settingsToOptions(s),
    }),
  );
  const restoreOpts: Record<string, string | string[]> = {};
  const absent: string[] = [];
  for (const [k, v] of [...newRestore].sort(([a], [b]) => a.localeCompare(b))) {
    if (v === null) absent.push(k);
    else restoreOpts[k] = v;
  }
  if (absent.length) restoreOpts.absent = absent;
  ops.push(...diffOwnedSection(own ? findSection(own, 'restore') : undefined, { config: OWN_CONFIG, name: 'restore', type: 'restore', options: restoreOpts }));

  const files = desiredFiles(s, dials, caps.routeMode).filter((f) => facts.files.get(f.path) !== sha256(f.content));
  const sysctls = new Map([...desiredSysctls(s)].filter(([k, v]) => facts.sysctl.get(k) !== v));
  const present = new Set(facts.sysupgradeConf.map((l) => l.trim()));
  const sysupgradeAdd = SYSUPGRADE_FILES.filter((p) => !present.has(p));
  const touchesNetwork = ops.some((o) => o.config === 'network' || o.config === 'firewall');
  const secrets = [creds.password, wan ? getOption(wan, 'password') : undefined].filter(
    (x): x is string => typeof x === 'string' && x.length > 0,
  );
  return {
    settings: s,
    caps,
    dials,
    changes: {
      uci: ops,
      files,
      removeFiles: [],
      sysctls,
      sysupgradeAdd,
      sysupgradeRemove: [],
      packages: caps.packages,
      touchesNetwork,
    },
    secrets,
  };
}

export function isEmpty(c: Changes): boolean {
  return (
    c.uci.length === 0 &&
    c.files.length === 0 &&
    c.removeFiles.length === 0 &&
    c.sysctls.size === 0 &&
    c.sysupgradeAdd.length === 0 &&
    c.sysupgradeRemove.length === 0 &&
    c.packages.length === 0
  );
}
