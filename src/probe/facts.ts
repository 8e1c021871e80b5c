import { RemoteError } from '../errors.js';
import { parseUciConfig, type UciPackage } from '../uci/parse.js';
import { parseInterfaceDump } from '../ubus/parse.js';
import type { InterfaceStatus } from '../ubus/types.js';

/** Everything setup, hotplug, status and teardown need to know about the router, read in one round trip. */
export interface RouterFacts {
  /** null when /etc/openwrt_release is missing: not an OpenWrt router. */
  release: { id: string; version: string; description: string } | null;
  kernel: string;
  ip: { kind: 'iproute2' | 'busybox'; multipath: boolean; nexthopObjects: boolean; resilient: boolean; version: string };
  macvlan: { loaded: boolean; available: boolean };
  pppoePlugin: string | null;
  firewall: 'fw4' | 'fw3' | null;
  pkg: 'opkg' | 'apk' | null;
  packages: Set<string>;
  rpcd: boolean;
  /** mwan3: package/init script present, enabled at boot, running (mwan3track or its nft/ipt chains) */
  mwan3: { installed: boolean; enabled: boolean; running: boolean };
  /** `nft` exists (fw4): the library can pin connections to their dial */
  nft: boolean;
  /** key like "ipv4/fib_multipath_hash_policy" → value, or null when the kernel lacks it. */
  sysctl: Map<string, string | null>;
  config: { network: UciPackage; firewall: UciPackage; owrtEcmp: UciPackage | null };
  /** sha256 of the committed network, firewall and owrt_ecmp files, to detect edits between probe and apply. */
  configHash: string;
  /** `uci changes` lines staged by someone else for the configs we commit. */
  pendingChanges: string[];
  interfaces: InterfaceStatus[];
  /** kernel network devices → MAC */
  netdevs: Map<string, string>;
  /** router path → sha256 of the deployed file, or null when absent */
  files: Map<string, string | null>;
  sysupgradeConf: string[];
  /** state of an unfinished earlier apply, if any (rollback armed) */
  rollbackState: string | null;
  /** owner line of the apply lock when another run holds it */
  applyLock: string | null;
}

export const SYSCTL_KEYS = [
  'ipv4/fib_multipath_hash_policy',
  'ipv4/fib_multipath_use_neigh',
  'ipv6/fib_multipath_hash_policy',
] as const;

function need(sections: Map<string, string>, name: string): string {
  const v = sections.get(name);
  if (v === undefined) throw new RemoteError(`the router's probe output has no "${name}" section`);
  return v;
}

function parseRelease(text: string): RouterFacts['release'] {
  if (!text.trim()) return null;
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(['"]?)(.*)\2$/.exec(line.trim());
    if (m?.[1] && m[3] !== undefined) kv.set(m[1], m[3]);
  }
  if (!kv.has('DISTRIB_ID') && !kv.has('DISTRIB_RELEASE')) return null;
  return {
    id: kv.get('DISTRIB_ID') ?? 'OpenWrt',
    version: kv.get('DISTRIB_RELEASE') ?? 'unknown',
    description: kv.get('DISTRIB_DESCRIPTION') ?? '',
  };
}

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter(Boolean);
}

function parseMwan3(text: string): RouterFacts['mwan3'] {
  const words = new Set(lines(text));
  return { installed: words.has('installed'), enabled: words.has('enabled'), running: words.has('running') };
}

export function parseFacts(sections: Map<string, string>): RouterFacts {
  const ipVersion = need(sections, 'ip_version');
  const macvlanLines = lines(need(sections, 'macvlan'));
  const fw = need(sections, 'firewall').trim();
  const pkg = need(sections, 'pkg').trim();
  const sysctl = new Map<string, string | null>();
  for (const l of lines(need(sections, 'sysctl'))) {
    const [k, v] = l.split('=', 2);
    if (k) sysctl.set(k, v === undefined || v === '-' ? null : v);
  }
  const netdevs = new Map<string, string>();
  for (const l of lines(need(sections, 'netdevs'))) {
    const [dev, mac] = l.split(/\s+/, 2);
    if (dev) netdevs.set(dev, mac ?? '');
  }
  const files = new Map<string, string | null>();
  for (const l of lines(sections.get('files') ?? '')) {
    const [path, sum] = l.split(/\s+/, 2);
    if (path) files.set(path, sum ? sum : null);
  }
  const ownText = sections.get('config_owrt_ecmp') ?? '';
  const dump = need(sections, 'ubus_dump');
  let interfaces: InterfaceStatus[] = [];
  if (dump.trim().startsWith('{')) interfaces = parseInterfaceDump(dump);
  const packages = new Set(lines(sections.get('packages') ?? '').map((l) => l.split(/\s+/)[0] ?? ''));
  return {
    release: parseRelease(sections.get('release') ?? ''),
    kernel: need(sections, 'kernel').trim(),
    ip: {
      kind: /iproute2/.test(ipVersion) ? 'iproute2' : 'busybox',
      version: ipVersion.trim(),
      multipath: need(sections, 'ip_multipath').trim() === 'yes',
      nexthopObjects: need(sections, 'ip_nexthop').trim() === 'yes',
      resilient: need(sections, 'ip_resilient').trim() === 'yes',
    },
    macvlan: {
      loaded: macvlanLines.includes('loaded'),
      available: macvlanLines.some((l) => l === 'loaded' || l.startsWith('module ')),
    },
    pppoePlugin: lines(sections.get('pppoe_plugin') ?? '')[0] ?? null,
    firewall: fw === 'fw4' || fw === 'fw3' ? fw : null,
    pkg: pkg === 'opkg' || pkg === 'apk' ? pkg : null,
    packages,
    rpcd: (sections.get('rpcd') ?? '').trim() === 'yes',
    mwan3: parseMwan3(sections.get('mwan3') ?? ''),
    nft: (sections.get('nft') ?? '').trim() === 'yes',
    sysctl,
    config: {
      network: parseUciConfig(need(sections, 'config_network'), 'network'),
      firewall: parseUciConfig(need(sections, 'config_firewall'), 'firewall'),
      owrtEcmp: ownText.trim() ? parseUciConfig(ownText, 'owrt_ecmp') : null,
    },
    configHash: need(sections, 'config_hash').trim(),
    pendingChanges: lines(sections.get('uci_changes') ?? ''),
    interfaces,
    netdevs,
    files,
    sysupgradeConf: (sections.get('sysupgrade_conf') ?? '').split('\n'),
    rollbackState: (sections.get('rollback') ?? '').trim() || null,
    applyLock: (sections.get('apply_lock') ?? '').trim() || null,
  };
}
