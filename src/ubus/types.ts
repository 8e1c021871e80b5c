/**
 * `network.interface` status as netifd prints it (netifd ubus.c `netifd_dump_status`; shared/reference
 * openwrt-facts §5). Fields marked "only while up" are absent, not empty, when the interface is down.
 */

export interface Ipv4Addr {
  address: string;
  mask: number;
  /** PPP peer. */
  ptpaddress?: string;
  preferred?: number;
  valid?: number;
  class?: string;
  [key: string]: unknown;
}

export interface Ipv6Addr {
  address: string;
  mask: number;
  preferred?: number;
  valid?: number;
  class?: string;
  [key: string]: unknown;
}

export interface Route {
  target: string;
  mask: number;
  nexthop: string;
  type?: string;
  proto?: string;
  mtu?: number;
  /** Only when the route carries its own metric. */
  metric?: number;
  table?: number | string;
  valid?: number;
  /** "addr/len" (source-specific routes, e.g. IPv6 defaults from dhcpv6). */
  source?: string;
  [key: string]: unknown;
}

export interface InterfaceError {
  subsystem: string;
  code: string;
  /** netifd sends an array of strings when present. */
  data?: string[];
}

/** The `inactive` table: what netifd holds but has not installed (e.g. the default route with `defaultroute 0`). */
export interface InactiveState {
  'ipv4-address'?: Ipv4Addr[];
  'ipv6-address'?: Ipv6Addr[];
  route?: Route[];
  'dns-server'?: string[];
  'dns-search'?: string[];
  [key: string]: unknown;
}

export interface InterfaceStatus {
  /** From the dump; for a single `status` call, the name that was asked for. */
  interface: string;
  up: boolean;
  /** State SETUP: dialing. */
  pending: boolean;
  available: boolean;
  autostart: boolean;
  /** false when netifd did not send it (old releases). */
  dynamic: boolean;
  /** '' when netifd did not send it (no protocol handler). */
  proto: string;
  device?: string;
  /** Only while up, e.g. `pppoe-vwan2`. */
  l3_device?: string;
  uptime?: number;
  metric?: number;
  dns_metric?: number;
  updated?: string[];
  'ipv4-address'?: Ipv4Addr[];
  'ipv6-address'?: Ipv6Addr[];
  'ipv6-prefix'?: unknown[];
  'ipv6-prefix-assignment'?: unknown[];
  route?: Route[];
  'dns-server'?: string[];
  'dns-search'?: string[];
  inactive?: InactiveState;
  errors?: InterfaceError[];
  data?: Record<string, unknown>;
  [key: string]: unknown;
}
