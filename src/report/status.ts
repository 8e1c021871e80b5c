import { type KernelRoute, liveNexthops, parseIpRoutes, parseIpRules } from '../kernel/ip-json.js';
import { resolveRouteMode } from '../plan/capabilities.js';
import { planDials } from '../plan/dials.js';
import { renderHotplug } from '../plan/files.js';
import { readSettings } from '../plan/store.js';
import { dialInterface, pppDevice, type Settings } from '../settings.js';
import { parseInterfaceDump, ipv4Address, defaultGateway6, lastError } from '../ubus/parse.js';
import type { InterfaceStatus } from '../ubus/types.js';
import { type DialHealth, dialHealth, healthProblems, type MonitorStatus, monitorStatus } from './health.js';
import { parseUciConfig } from '../uci/parse.js';

/** Bump when a field changes meaning or disappears; adding fields keeps the version. */
export const STATUS_SCHEMA_VERSION = 1;

export interface DialStatus {
  dial: number;
  interface: string;
  device: string;
  state: 'up' | 'connecting' | 'down';
  uptimeSeconds: number | null;
  ipv4: string | null;
  ipv6Gateway: string | null;
  inIpv4Ecmp: boolean;
  inIpv6Ecmp: boolean;
  weight: number;
  rxBytes: number | null;
  txBytes: number | null;
  lastError: string | null;
  /** The dial monitor's verdict (state 'unknown' when it is not running). */
  health: DialHealth;
}

export interface EcmpNexthop {
  dev: string;
  gateway?: string;
  weight: number;
  flags: string[];
}

export interface StatusReport {
  schemaVersion: number;
  configured: boolean;
  settings: Settings | null;
  kernel: string;
  routeMode: string | null;
  dials: DialStatus[];
  ecmp: { metric: number | null; ipv4: EcmpNexthop[]; ipv6: EcmpNexthop[]; nhid4: number | null; nhid6: number | null };
  sysctl: Record<string, string | null>;
  hotplug: { installed: boolean; matches: boolean };
  libraryInstalled: boolean;
  rollbackPending: string | null;
  monitor: MonitorStatus;
  healthy: boolean;
  problems: string[];
}

function nexthopsOf(route: KernelRoute | undefined): EcmpNexthop[] {
  if (!route) return [];
  return route.nexthops.map((n) => ({ dev: n.dev, ...(n.gateway ? { gateway: n.gateway } : {}), weight: n.weight, flags: n.flags }));
}

function parseSafe(text: string): KernelRoute[] {
  return text.trim().startsWith('[') ? parseIpRoutes(text) : [];
}

/**
 * The ECMP table is reached by rule base+200, and each up dial's address is in the nft
 * map that pins port forwards and masqueraded connections to it (only where nft exists).
 */
function policyProblems(settings: Settings, dials: DialStatus[], rulesJson: string, pinning: string | null): string[] {
  const out: string[] = [];
  const inEcmp = dials.filter((d) => d.inIpv4Ecmp);
  if (!inEcmp.length) return out;
  const rules = rulesJson.trim().startsWith('[') ? parseIpRules(rulesJson) : [];
  const pref = settings.base + 200;
  if (!rules.some((r) => r.priority === pref && r.table === String(settings.base))) {
    out.push(`the policy rule that sends traffic to the ECMP table (pref ${pref} lookup ${settings.base}) is missing: run \`owrt-ecmp hotplug\``);
  }
  if (pinning === null) return out;
  for (const d of inEcmp) {
    if (d.ipv4 && !pinning.includes(`${d.ipv4} : goto dial${d.dial}`)) {
      out.push(`dial ${d.dial} (${d.interface}) is not pinned by address: port forwards to ${d.ipv4} may be answered through another dial; run \`owrt-ecmp hotplug\``);
    }
  }
  return out;
}

/** Build the report from the status script's sections. Pure. */
export function buildStatus(sec: Map<string, string>): StatusReport {
  const get = (k: string) => sec.get(k) ?? '';
  const ownText = get('config_owrt_ecmp');
  const settings = ownText.trim() ? (readSettings(parseUciConfig(ownText, 'owrt_ecmp')) ?? null) : null;
  const dump = get('ubus_dump');
  const ifaces: InterfaceStatus[] = dump.trim().startsWith('{') ? parseInterfaceDump(dump) : [];
  const byName = new Map(ifaces.map((i) => [i.interface, i]));
  const stats = new Map<string, [number, number]>();
  for (const l of get('stats').split('\n')) {
    const [dev, rx, tx] = l.trim().split(/\s+/);
    if (dev && rx && tx) stats.set(dev, [Number(rx), Number(tx)]);
  }
  const sysctl: Record<string, string | null> = {};
  for (const l of get('sysctl').split('\n')) {
    const [k, v] = l.trim().split('=', 2);
    if (k) sysctl[k] = v === undefined || v === '-' ? null : v;
  }
  const problems: string[] = [];
  const kernel = get('kernel').trim();
  const metric = settings?.ecmpMetric ?? null;
  const r4 = metric === null ? undefined : parseSafe(get('routes4')).find((r) => r.dst === 'default' && r.metric === metric);
  const r6 = metric === null ? undefined : parseSafe(get('routes6')).find((r) => r.dst === 'default' && r.metric === metric);
  const live4 = new Set(r4 ? liveNexthops(r4).map((n) => n.dev) : []);
  const live6 = new Set(r6 ? liveNexthops(r6).map((n) => n.dev) : []);

  const dials: DialStatus[] = [];
  const monitor = monitorStatus(get('health'), get('monitor'), settings?.health ?? 'off');
  let routeMode: string | null = null;
  let hotplugMatches = false;
  const installedHotplug = get('hotplug');
  if (settings) {
    for (let k = 1; k <= settings.dials; k++) {
      const name = dialInterface(settings, k);
      const st = byName.get(name);
      const dev = st?.l3_device ?? pppDevice(name);
      const six = byName.get(`${name}_6`);
      const s = stats.get(dev);
      const err = st ? lastError(st) : undefined;
      dials.push({
        dial: k,
        interface: name,
        device: dev,
        state: st?.up ? 'up' : st?.pending ? 'connecting' : 'down',
        uptimeSeconds: st?.up ? (st.uptime ?? null) : null,
        ipv4: st ? (ipv4Address(st) ?? null) : null,
        ipv6Gateway: six ? (defaultGateway6(six, { includeInactive: true }) ?? null) : null,
        inIpv4Ecmp: live4.has(dev),
        inIpv6Ecmp: live6.has(dev),
        weight: settings.weights[k - 1] ?? 1,
        rxBytes: s ? s[0] : null,
        txBytes: s ? s[1] : null,
        lastError: err ? `${err.subsystem}: ${err.code}` : null,
        health: dialHealth(get('health'), name),
      });
    }
    const mode = resolveRouteMode(settings.routeMode, kernel, {
      nexthopObjects: get('ip_nexthop').trim() === 'yes',
      resilient: get('ip_resilient').trim() === 'yes',
    });
    routeMode = mode;
    // the glue embeds only names, weights and modes: the MAC/parent do not matter here
    const expected = renderHotplug(settings, planDials(settings, 'wan', '00:00:00:00:00:00'), mode);
    hotplugMatches = installedHotplug.trim() === expected.trim();
    for (const d of dials) {
      if (d.state !== 'up') problems.push(`dial ${d.dial} (${d.interface}) is ${d.state}${d.lastError ? `: ${d.lastError}` : ''}`);
      else if (!d.inIpv4Ecmp && d.health.state !== 'unhealthy') problems.push(`dial ${d.dial} (${d.interface}) is up but not in the IPv4 ECMP route`);
      if (settings.ipv6 === 'ecmp' && d.state === 'up' && d.ipv6Gateway && !d.inIpv6Ecmp) {
        problems.push(`dial ${d.dial} (${d.interface}) is up but not in the IPv6 ECMP route`);
      }
    }
    for (const dev of live4) if (!dials.some((d) => d.device === dev)) problems.push(`the IPv4 ECMP route uses ${dev}, which is not a managed dial`);
    problems.push(...healthProblems(monitor, dials));
    problems.push(...policyProblems(settings, dials, get('rules'), get('nft').trim() === 'yes' ? get('pinning') : null));
    if (!installedHotplug.trim()) problems.push('the hotplug script is missing: run `owrt-ecmp hotplug`');
    else if (!hotplugMatches) problems.push('the hotplug script differs from what `owrt-ecmp hotplug --print` renders: run `owrt-ecmp hotplug`');
    if (!get('library_sum').trim()) problems.push('the router-side library is missing: run `owrt-ecmp hotplug`');
    const want = String(settings.hashPolicy);
    if (sysctl['ipv4/fib_multipath_hash_policy'] !== want) problems.push(`net.ipv4.fib_multipath_hash_policy is ${sysctl['ipv4/fib_multipath_hash_policy']}, expected ${want}`);
    if (sysctl['ipv6/fib_multipath_hash_policy'] !== want) problems.push(`net.ipv6.fib_multipath_hash_policy is ${sysctl['ipv6/fib_multipath_hash_policy']}, expected ${want}`);
  } else {
    problems.push('owrt-ecmp is not set up on this router: run `owrt-ecmp setup --dials N`');
  }
  const rollback = get('rollback').trim() || null;
  if (rollback?.startsWith('armed')) problems.push('a change is waiting for confirmation (rollback armed)');
  return {
    schemaVersion: STATUS_SCHEMA_VERSION,
    configured: settings !== null,
    settings,
    kernel,
    routeMode,
    dials,
    ecmp: { metric, ipv4: nexthopsOf(r4), ipv6: nexthopsOf(r6), nhid4: r4?.nhid ?? null, nhid6: r6?.nhid ?? null },
    sysctl,
    hotplug: { installed: installedHotplug.trim().length > 0, matches: hotplugMatches },
    libraryInstalled: get('library_sum').trim().length > 0,
    rollbackPending: rollback,
    monitor,
    healthy: problems.length === 0,
    problems,
  };
}
