/**
 * Parsers for iproute2 JSON (`ip -j [-d] [-6] route show …`, `ip -j nexthop show`, `ip -j rule show`),
 * checked against real iproute2 6.1 output (test/fixtures/ip, see capture.sh there):
 *
 * - `metric` is omitted when 0, `table` when it is main (and the table was not listed explicitly).
 * - A single-path route has top-level `gateway`/`dev` (`via: {family, host}` for a gateway of the other
 *   family); a multipath one has `nexthops: [{gateway?, dev, weight, flags}]`. A route using a nexthop
 *   object has `nhid` and is expanded into `nexthops` (or into top-level gateway/dev once one member is left).
 * - Dead members carry `flags: ["dead", "linkdown"]`; an admin-down device deletes nexthop *objects*
 *   on it outright (they vanish from groups and from `nhid` routes).
 * - Nexthop group members omit `weight` when it is 1. Rules print `suppress_prefixlen`.
 */
import { RemoteError } from '../errors.js';

export interface KernelNexthop {
  dev: string;
  gateway?: string;
  weight: number;
  flags: string[];
}

export interface KernelRoute {
  /** `default`, or a prefix such as `10.0.1.0/24` / `2001:db8::/64` / a bare host address. */
  dst: string;
  /** 0 when absent. */
  metric: number;
  /** Absent for the main table. */
  table?: string;
  protocol?: string;
  /** Route type (`unicast` with -d; `unreachable`, `local`, … always). */
  type?: string;
  scope?: string;
  /** IPv6 source-specific route (`default from 2001:db8::/64 …`). */
  from?: string;
  prefsrc?: string;
  nhid?: number;
  flags: string[];
  /** One entry (weight 1) for a single-path route, one per member for multipath, none for e.g. unreachable. */
  nexthops: KernelNexthop[];
}

export interface NexthopGroupMember {
  id: number;
  weight: number;
}

export interface KernelNexthopObject {
  id: number;
  dev?: string;
  gateway?: string;
  /** Present for groups. */
  group?: NexthopGroupMember[];
  /** `resilient` for resilient groups; absent for plain (hash-threshold) groups and single nexthops. */
  type?: string;
  resilient?: { buckets?: number; idle_timer?: number; unbalanced_timer?: number; unbalanced_time?: number };
  scope?: string;
  protocol?: string;
  blackhole?: boolean;
  flags: string[];
}

export interface KernelRule {
  priority: number;
  /** `all` or an address (prefix length in `srclen`). */
  src?: string;
  srclen?: number;
  dst?: string;
  dstlen?: number;
  /** Table name or number as text (`main`, `3002`). */
  table?: string;
  suppress_prefixlength?: number;
  fwmark?: string;
  iif?: string;
  oif?: string;
  action?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(what: string, detail: string): never {
  throw new RemoteError(`unexpected \`ip -j ${what}\` output: ${detail}`);
}

function parseArray(text: string, what: string): Obj[] {
  if (text.trim() === '') return [];
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return bad(what, 'not JSON');
  }
  if (!Array.isArray(v)) return bad(what, 'not a JSON array');
  return v.map((e, i) => (isObj(e) ? e : bad(what, `entry ${i} is not an object`)));
}

function str(o: Obj, key: string, what: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return bad(what, `"${key}" is not a string`);
}

function num(o: Obj, key: string, what: string): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  return bad(what, `"${key}" is not a number`);
}

function flags(o: Obj, what: string): string[] {
  const v = o.flags;
  if (v === undefined) return [];
  if (Array.isArray(v) && v.every((f) => typeof f === 'string')) return [...v];
  return bad(what, '"flags" is not a list of strings');
}

/** `gateway`, or `via: {family, host}` (e.g. an IPv6 gateway for an IPv4 route). */
function gatewayOf(o: Obj, what: string): string | undefined {
  const gw = str(o, 'gateway', what);
  if (gw !== undefined) return gw;
  const via = o.via;
  if (via === undefined) return undefined;
  if (isObj(via) && typeof via.host === 'string') return via.host;
  return bad(what, '"via" has no host');
}

function assign<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

export function parseIpRoutes(text: string): KernelRoute[] {
  const what = 'route show';
  return parseArray(text, what).map((o) => {
    const dst = str(o, 'dst', what);
    if (dst === undefined) return bad(what, 'route without "dst"');
    const route: KernelRoute = { dst, metric: num(o, 'metric', what) ?? 0, flags: flags(o, what), nexthops: [] };
    assign(route, 'table', str(o, 'table', what));
    assign(route, 'protocol', str(o, 'protocol', what));
    assign(route, 'type', str(o, 'type', what));
    assign(route, 'scope', str(o, 'scope', what));
    assign(route, 'from', str(o, 'from', what));
    assign(route, 'prefsrc', str(o, 'prefsrc', what));
    assign(route, 'nhid', num(o, 'nhid', what));
    if (o.nexthops !== undefined) {
      if (!Array.isArray(o.nexthops)) return bad(what, '"nexthops" is not an array');
      route.nexthops = o.nexthops.map((n: unknown) => {
        if (!isObj(n)) return bad(what, 'nexthop entry is not an object');
        const dev = str(n, 'dev', what);
        if (dev === undefined) return bad(what, 'nexthop without "dev"');
        const hop: KernelNexthop = { dev, weight: num(n, 'weight', what) ?? 1, flags: flags(n, what) };
        assign(hop, 'gateway', gatewayOf(n, what));
        return hop;
      });
    } else {
      const dev = str(o, 'dev', what);
      if (dev !== undefined) {
        const hop: KernelNexthop = { dev, weight: 1, flags: [...route.flags] };
        assign(hop, 'gateway', gatewayOf(o, what));
        route.nexthops = [hop];
      }
    }
    return route;
  });
}

const isDefaultDst = (dst: string): boolean => dst === 'default' || dst === '0.0.0.0/0' || dst === '::/0';

/** The main-table default route with this metric and no source prefix. */
export function defaultRoute(routes: readonly KernelRoute[], metric: number): KernelRoute | undefined {
  return routes.find(
    (r) =>
      isDefaultDst(r.dst) &&
      r.metric === metric &&
      (r.table === undefined || r.table === 'main') &&
      (r.from === undefined || r.from === '::/0') &&
      (r.type === undefined || r.type === 'unicast'),
  );
}

/** Members the kernel would use: without `dead` or `linkdown`. */
export function liveNexthops(route: KernelRoute): KernelNexthop[] {
  return route.nexthops.filter((n) => !n.flags.includes('dead') && !n.flags.includes('linkdown'));
}

export function parseIpNexthops(text: string): KernelNexthopObject[] {
  const what = 'nexthop show';
  return parseArray(text, what).map((o) => {
    const id = num(o, 'id', what);
    if (id === undefined) return bad(what, 'nexthop without "id"');
    const nh: KernelNexthopObject = { id, flags: flags(o, what) };
    assign(nh, 'dev', str(o, 'dev', what));
    assign(nh, 'gateway', gatewayOf(o, what));
    assign(nh, 'type', str(o, 'type', what));
    assign(nh, 'scope', str(o, 'scope', what));
    assign(nh, 'protocol', str(o, 'protocol', what));
    if (o.blackhole !== undefined) nh.blackhole = o.blackhole !== false;
    if (o.group !== undefined) {
      if (!Array.isArray(o.group)) return bad(what, '"group" is not an array');
      nh.group = o.group.map((m: unknown) => {
        if (!isObj(m)) return bad(what, 'group member is not an object');
        const mid = num(m, 'id', what);
        if (mid === undefined) return bad(what, 'group member without "id"');
        return { id: mid, weight: num(m, 'weight', what) ?? 1 };
      });
    }
    if (o.resilient_args !== undefined) {
      const r = o.resilient_args;
      if (!isObj(r)) return bad(what, '"resilient_args" is not an object');
      const res: NonNullable<KernelNexthopObject['resilient']> = {};
      assign(res, 'buckets', num(r, 'buckets', what));
      assign(res, 'idle_timer', num(r, 'idle_timer', what));
      assign(res, 'unbalanced_timer', num(r, 'unbalanced_timer', what));
      assign(res, 'unbalanced_time', num(r, 'unbalanced_time', what));
      nh.resilient = res;
    }
    return nh;
  });
}

export function parseIpRules(text: string): KernelRule[] {
  const what = 'rule show';
  return parseArray(text, what).map((o) => {
    const priority = num(o, 'priority', what);
    if (priority === undefined) return bad(what, 'rule without "priority"');
    const rule: KernelRule = { priority };
    assign(rule, 'src', str(o, 'src', what));
    assign(rule, 'srclen', num(o, 'srclen', what));
    assign(rule, 'dst', str(o, 'dst', what));
    assign(rule, 'dstlen', num(o, 'dstlen', what));
    assign(rule, 'table', str(o, 'table', what));
    assign(rule, 'suppress_prefixlength', num(o, 'suppress_prefixlen', what) ?? num(o, 'suppress_prefixlength', what));
    assign(rule, 'fwmark', str(o, 'fwmark', what));
    assign(rule, 'iif', str(o, 'iif', what));
    assign(rule, 'oif', str(o, 'oif', what));
    assign(rule, 'action', str(o, 'action', what));
    return rule;
  });
}
