/**
 * The tool's own settings: what `setup` was asked for. They are stored on the router
 * in the UCI package `owrt_ecmp` (kept across sysupgrade) so that `hotplug`, `status`
 * and `teardown` work from the router alone.
 */
export type Ipv6Mode = 'off' | 'single' | 'ecmp';
export type RouteMode = 'auto' | 'resilient' | 'group' | 'multipath';
export const IPV6_MODES: readonly Ipv6Mode[] = ['off', 'single', 'ecmp'];
export const ROUTE_MODES: readonly RouteMode[] = ['auto', 'resilient', 'group', 'multipath'];
/** hash: the kernel's ECMP hash picks the dial; conn: new LAN connections take the dials in turn (nftables). */
export type BalanceMode = 'hash' | 'conn';
export const BALANCE_MODES: readonly BalanceMode[] = ['hash', 'conn'];

export interface Settings {
  /** The existing PPPoE interface; it is dial 1 and keeps its device. */
  wan: string;
  /** Dial k ≥ 2 is interface `${prefix}${k}`. */
  prefix: string;
  dials: number;
  /** One weight per dial, 1..256. */
  weights: number[];
  ipv6: Ipv6Mode;
  /** fib_multipath_hash_policy for both families: 0 = L3, 1 = L4 (5-tuple). */
  hashPolicy: 0 | 1;
  routeMode: RouteMode;
  balance: BalanceMode;
  /** Metric of the ECMP default routes; must be below every dial's metric. */
  ecmpMetric: number;
  /** Dial k gets metric metricBase + k (netifd replaces equal-metric default routes). */
  metricBase: number;
  /** Base of nexthop ids, rule priorities and routing tables owned by the tool. */
  base: number;
  /**
   * The dial monitor (health.sh under procd). `redial` (the default): a dial the ISP refuses is
   * taken down and retried with backoff, a dead one redialled on its own; it reads netifd and
   * /sys only, so it cannot misjudge a dial. `on` adds probes: silent dials leave the ECMP set
   * (the probe target must answer through every dial). `off`: no monitor.
   */
  health: HealthMode;
  /** IPv4 address probed through every dial; '' = each dial's PPP peer. */
  healthTarget: string;
}

export const HEALTH_MODES = ['off', 'redial', 'on'] as const;
export type HealthMode = (typeof HEALTH_MODES)[number];

export const MAX_DIALS = 64;

export const DEFAULT_SETTINGS: Omit<Settings, 'dials' | 'weights'> = {
  wan: 'wan',
  prefix: 'vwan',
  ipv6: 'single',
  hashPolicy: 1,
  routeMode: 'auto',
  balance: 'hash',
  ecmpMetric: 10,
  metricBase: 40,
  base: 3000,
  health: 'redial',
  healthTarget: '',
};

/** Interface name of dial k (1-based). */
export function dialInterface(s: Pick<Settings, 'wan' | 'prefix'>, k: number): string {
  return k === 1 ? s.wan : `${s.prefix}${k}`;
}

/** Kernel device netifd gives a PPPoE interface (OpenWrt's ppp.sh default pppname). */
export function pppDevice(iface: string): string {
  return `pppoe-${iface}`;
}

export function macvlanDevice(s: Pick<Settings, 'prefix'>, k: number): string {
  return `${s.prefix}${k}mv`;
}
