import type { RouterFacts } from '../probe/facts.js';
import type { RouteMode, Settings } from '../settings.js';
import { findSection, getOption, sectionsOfType } from '../uci/parse.js';

export interface Problem {
  /** What is missing or wrong, in one sentence. */
  what: string;
  /** What the user can do about it. */
  fix: string;
  /** Installing this package fixes it (with --install-packages). */
  pkg?: string;
}

export type ResolvedRouteMode = Exclude<RouteMode, 'auto'>;

export interface Capabilities {
  problems: Problem[];
  /** Packages to install before applying (only those with a pkg fix). */
  packages: string[];
  routeMode: ResolvedRouteMode;
  /** The device the wan interface dials on: parent of the macvlans. */
  wanDevice: string | null;
  /** wan's netifd metric as configured (0 when unset); setup never changes it. */
  wanMetric: number;
  /** Things that work, but not as the user may expect; said by setup and doctor. */
  warnings: string[];
}

export function majorMinor(release: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

function atLeast(v: [number, number], major: number, minor: number): boolean {
  return v[0] > major || (v[0] === major && v[1] >= minor);
}

function installCmd(facts: RouterFacts, pkg: string): string {
  return facts.pkg === 'apk' ? `apk add ${pkg}` : `opkg update && opkg install ${pkg}`;
}

/** Everything setup needs from the router, as problems that name their fix. Pure. */
export function checkCapabilities(facts: RouterFacts, s: Settings): Capabilities {
  const problems: Problem[] = [];
  const add = (what: string, fix: string, pkg?: string) => problems.push(pkg ? { what, fix, pkg } : { what, fix });

  if (!facts.release) {
    add('this host is not an OpenWrt router (no /etc/openwrt_release)', 'point --host at an OpenWrt 21.02–24.10 router');
  } else {
    const [maj] = majorMinor(facts.release.version);
    if (maj > 0 && maj < 21 && !/snapshot/i.test(facts.release.version)) {
      add(`OpenWrt ${facts.release.version} is older than 21.02`, 'upgrade the router to OpenWrt 21.02 or newer');
    }
  }

  const wan = findSection(facts.config.network, s.wan);
  let wanDevice: string | null = null;
  if (!wan || wan.type !== 'interface') {
    add(`the router has no interface "${s.wan}" in /etc/config/network`, 'pass --wan <interface> naming your PPPoE uplink');
  } else {
    const proto = getOption(wan, 'proto');
    if (proto !== 'pppoe') {
      add(
        `interface "${s.wan}" uses proto "${String(proto ?? 'none')}", not pppoe`,
        'owrt-ecmp multiplies a PPPoE uplink: configure wan as PPPoE first, or pass --wan',
      );
    }
    if (s.ipv6 === 'ecmp' && getOption(wan, 'ipv6') === '0') {
      add(
        `--ipv6 ecmp, but IPv6 is disabled on "${s.wan}" (network.${s.wan}.ipv6 is '0')`,
        `pass --ipv6 off or --ipv6 single, or enable IPv6 on ${s.wan} first (uci set network.${s.wan}.ipv6=auto)`,
      );
    }
    const dev = getOption(wan, 'device') ?? getOption(wan, 'ifname');
    wanDevice = typeof dev === 'string' && dev ? dev : null;
    if (!wanDevice) add(`interface "${s.wan}" has no device`, `set network.${s.wan}.device to the WAN port`);
  }

  if (!facts.pppoePlugin) {
    add('the PPPoE plugin for pppd is missing', `install it: ${installCmd(facts, 'ppp-mod-pppoe')}`, 'ppp-mod-pppoe');
  }

  const needsIpFull =
    facts.ip.kind === 'busybox' ||
    !facts.ip.multipath ||
    ((s.routeMode === 'group' || s.routeMode === 'resilient') && !facts.ip.nexthopObjects);
  if (needsIpFull) {
    add(
      facts.ip.kind === 'busybox'
        ? 'the router\'s ip is BusyBox ip, which cannot install multipath routes'
        : 'the router\'s ip lacks the multipath or nexthop support needed',
      `install the full ip: ${installCmd(facts, 'ip-full')}, or re-run with --install-packages`,
      'ip-full',
    );
  }

  if (s.dials > 1 && !facts.macvlan.available) {
    add(
      'the kernel has no macvlan support (kmod-macvlan)',
      `install it: ${installCmd(facts, 'kmod-macvlan')}, or re-run with --install-packages`,
      'kmod-macvlan',
    );
  }

  for (const key of ['ipv4/fib_multipath_hash_policy', 'ipv6/fib_multipath_hash_policy'] as const) {
    if (facts.sysctl.get(key) == null) add(`the kernel has no net.${key.replace('/', '.')}`, 'a kernel with multipath routing is needed (every OpenWrt 21.02+ kernel has it)');
  }

  if (s.ipv6 === 'ecmp' && facts.firewall !== 'fw4') {
    add('--ipv6 ecmp needs firewall4 (masq6), this router runs ' + (facts.firewall ?? 'no known firewall'), 'use --ipv6 single, or upgrade to OpenWrt 22.03+');
  }

  const zone = sectionsOfType(facts.config.firewall, 'zone').find((z) => getOption(z, 'name') === 'wan');
  if (!zone) add('/etc/config/firewall has no zone named "wan"', 'create the wan zone (OpenWrt default) so the dials get NAT');

  // the ECMP routes live in tables base…base+64, where netifd writes only for ip4table/ip6table
  for (const sec of sectionsOfType(facts.config.network, 'interface')) {
    for (const key of ['ip4table', 'ip6table']) {
      const t = Number(getOption(sec, key));
      if (Number.isInteger(t) && t >= s.base && t <= s.base + 64) {
        add(`interface "${sec.name}" routes into table ${t} (${key}), one of owrt-ecmp's tables ${s.base}…${s.base + 64}`, 'netifd would overwrite the ECMP routes: change that interface\'s table');
      }
    }
  }
  for (let k = 2; k <= s.dials; k++) {
    const sec = findSection(facts.config.network, `${s.prefix}${k}`);
    if (sec && getOption(sec, 'owrt_ecmp') !== '1') {
      add(`interface "${sec.name}" exists and was not made by owrt-ecmp`, 'pass another --prefix, or rename that interface');
    }
  }

  const wanMetric = checkMetrics(facts, s, add);
  checkMwan3(facts, add);
  checkBalance(facts, s, add);

  const installingIp = problems.some((x) => x.pkg === 'ip-full');
  const routeMode = resolveRouteMode(s.routeMode, facts.kernel, {
    nexthopObjects: facts.ip.nexthopObjects || installingIp,
    resilient: facts.ip.resilient || installingIp,
  });
  const kv = majorMinor(facts.kernel);
  if (routeMode === 'resilient' && !atLeast(kv, 5, 13)) {
    add(`resilient nexthop groups need Linux 5.13+, the router runs ${facts.kernel}`, 'use --route-mode group or auto');
  } else if (routeMode === 'group' && !atLeast(kv, 5, 3)) {
    add(`nexthop objects need Linux 5.3+, the router runs ${facts.kernel}`, 'use --route-mode multipath or auto');
  }

  const packages = [...new Set(problems.flatMap((p) => (p.pkg ? [p.pkg] : [])))];
  return { problems, packages, routeMode, wanDevice, wanMetric, warnings: warningsFor(facts, s) };
}

type AddProblem = (what: string, fix: string, pkg?: string) => void;

/**
 * Dials 2..N get metric base+k for their own netifd default routes (the fallback while
 * the ECMP table is empty); netifd replaces an equal-metric default route, so none may
 * equal wan's, which setup leaves as it is.
 */
function checkMetrics(facts: RouterFacts, s: Settings, add: AddProblem): number {
  const wan = findSection(facts.config.network, s.wan);
  const raw = wan ? getOption(wan, 'metric') : undefined;
  const wanMetric = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : 0;
  const k = wanMetric - s.metricBase;
  if (s.dials >= 2 && k >= 2 && k <= s.dials) {
    add(
      `interface "${s.wan}" uses metric ${wanMetric}, the metric dial ${k} would get (--metric-base ${s.metricBase} + ${k})`,
      `netifd would replace one default route with the other: pass --metric-base ${Math.max(wanMetric, s.metricBase + s.dials)} (or any base whose base+2…base+${s.dials} avoids ${wanMetric})`,
    );
  }
  return wanMetric;
}

/** mwan3 steers traffic with its own marks and rules around the ECMP route: one balancer at a time. */
function checkMwan3(facts: RouterFacts, add: AddProblem): void {
  const m = facts.mwan3;
  if (!m.enabled && !m.running) return;
  add(
    `mwan3 is ${m.running ? 'running' : 'enabled'} on this router: its fwmark rules and marks would steer traffic around the ECMP route`,
    `use one balancer: stop and disable mwan3 first (/etc/init.d/mwan3 stop && /etc/init.d/mwan3 disable), or keep mwan3 and do not run owrt-ecmp`,
  );
}

/** conn balancing is an nftables chain (numgen + conntrack mark); fw3 routers have no nft. */
function checkBalance(facts: RouterFacts, s: Settings, add: AddProblem): void {
  if (s.balance !== 'conn' || (facts.firewall === 'fw4' && facts.nft)) return;
  add(
    `--balance conn needs nftables (firewall4), this router runs ${facts.firewall ?? 'no known firewall'}${facts.nft ? '' : ' without nft'}`,
    'use --balance hash (the default), or upgrade to OpenWrt 22.03+ (firewall4)',
  );
}

function warningsFor(facts: RouterFacts, s: Settings): string[] {
  const out: string[] = [];
  const defaults = sectionsOfType(facts.config.firewall, 'defaults')[0];
  if (defaults && getOption(defaults, 'flow_offloading_hw') === '1' && s.dials > 1) {
    out.push(
      'flow_offloading_hw is on: with macvlan dials in the wan zone fw4 cannot offload in hardware and falls back to software offloading for all traffic (expect a higher CPU load at high rates)',
    );
  }
  if (facts.firewall === 'fw3' && s.dials > 1) {
    out.push('this router runs fw3 (no nftables): port forwards on dials 2…N are not pinned to their dial, so their replies may leave by another dial; only wan\'s address forwards reliably (OpenWrt 22.03+ fixes this)');
  }
  if (facts.mwan3.installed && !facts.mwan3.enabled && !facts.mwan3.running) {
    out.push('mwan3 is installed but disabled: leave it disabled while owrt-ecmp balances');
  }
  return out;
}

/**
 * `auto` → the best the router can do: resilient groups (Linux 5.13+) keep surviving
 * flows on their dial when one drops; plain groups (5.3+) at least keep the route;
 * multipath routes are the fallback. Needs the full ip for the first two.
 */
export function resolveRouteMode(
  mode: RouteMode,
  kernel: string,
  ip: { nexthopObjects: boolean; resilient: boolean },
): ResolvedRouteMode {
  if (mode !== 'auto') return mode;
  const kv = majorMinor(kernel);
  if (ip.nexthopObjects && ip.resilient && atLeast(kv, 5, 13)) return 'resilient';
  if (ip.nexthopObjects && atLeast(kv, 5, 3)) return 'group';
  return 'multipath';
}
