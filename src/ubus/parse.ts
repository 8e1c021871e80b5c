/**
 * Shape-checking parsers for `ubus call network.interface dump` / `… status` JSON, and the lookups
 * /lib/functions/network.sh does on it (network_get_ipaddr, network_get_gateway[6] with the fallback to
 * `inactive.route`).
 */
import { RemoteError } from '../errors.js';
import type { InterfaceError, InterfaceStatus, Ipv4Addr, Route } from './types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(where: string, what: string): never {
  throw new RemoteError(`unexpected ubus network.interface output: ${where}: ${what}`);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new RemoteError(`unexpected ubus network.interface output: ${what} is not JSON`);
  }
}

function checkBool(o: Obj, key: string, where: string, fallback?: boolean): boolean {
  const v = o[key];
  if (typeof v === 'boolean') return v;
  if (v === undefined && fallback !== undefined) return fallback;
  return bad(where, `"${key}" is ${v === undefined ? 'missing' : 'not a boolean'}`);
}

function checkOptional(o: Obj, key: string, type: 'string' | 'number', where: string): void {
  if (o[key] !== undefined && typeof o[key] !== type) bad(where, `"${key}" is not a ${type}`);
}

function checkAddrs(v: unknown, where: string): void {
  if (v === undefined) return;
  if (!Array.isArray(v)) bad(where, 'address list is not an array');
  for (const a of v) {
    if (!isObj(a) || typeof a.address !== 'string' || typeof a.mask !== 'number') {
      bad(where, 'address entry without address/mask');
    }
  }
}

function checkRoutes(v: unknown, where: string): void {
  if (v === undefined) return;
  if (!Array.isArray(v)) bad(where, '"route" is not an array');
  for (const r of v) {
    if (!isObj(r) || typeof r.target !== 'string' || typeof r.mask !== 'number' || typeof r.nexthop !== 'string') {
      bad(where, 'route entry without target/mask/nexthop');
    }
  }
}

/** Check one status object (already JSON-decoded). `name` is used when the object has no "interface". */
export function toInterfaceStatus(value: unknown, name?: string): InterfaceStatus {
  const label = name ?? (isObj(value) && typeof value.interface === 'string' ? value.interface : '?');
  const where = `interface ${label}`;
  if (!isObj(value)) return bad(where, 'not an object');
  const iface = typeof value.interface === 'string' ? value.interface : name;
  if (iface === undefined) return bad(where, '"interface" is missing');
  const st: Obj = { ...value };
  st.interface = iface;
  st.up = checkBool(value, 'up', where);
  st.pending = checkBool(value, 'pending', where);
  st.available = checkBool(value, 'available', where);
  st.autostart = checkBool(value, 'autostart', where);
  st.dynamic = checkBool(value, 'dynamic', where, false);
  if (value.proto !== undefined && typeof value.proto !== 'string') bad(where, '"proto" is not a string');
  st.proto = value.proto ?? '';
  for (const k of ['device', 'l3_device']) checkOptional(value, k, 'string', where);
  for (const k of ['uptime', 'metric', 'dns_metric']) checkOptional(value, k, 'number', where);
  checkAddrs(value['ipv4-address'], where);
  checkAddrs(value['ipv6-address'], where);
  checkRoutes(value.route, where);
  if (value.inactive !== undefined) {
    if (!isObj(value.inactive)) bad(where, '"inactive" is not an object');
    checkAddrs(value.inactive['ipv4-address'], `${where} (inactive)`);
    checkAddrs(value.inactive['ipv6-address'], `${where} (inactive)`);
    checkRoutes(value.inactive.route, `${where} (inactive)`);
  }
  if (value.errors !== undefined) {
    if (!Array.isArray(value.errors)) bad(where, '"errors" is not an array');
    for (const e of value.errors) {
      if (!isObj(e) || typeof e.subsystem !== 'string' || typeof e.code !== 'string') {
        bad(where, 'error entry without subsystem/code');
      }
      if (e.data !== undefined && !(Array.isArray(e.data) && e.data.every((d) => typeof d === 'string'))) {
        bad(where, 'error data is not a list of strings');
      }
    }
  }
  if (value.data !== undefined && !isObj(value.data)) bad(where, '"data" is not an object');
  return st as InterfaceStatus;
}

/** `{ "interface": [ … ] }` (already JSON-decoded) → statuses in netifd's order. */
export function toInterfaceDump(value: unknown): InterfaceStatus[] {
  if (!isObj(value) || !Array.isArray(value.interface)) {
    return bad('dump', 'expected an object with an "interface" array');
  }
  return value.interface.map((v: unknown) => toInterfaceStatus(v));
}

/** `ubus call network.interface dump` stdout. */
export function parseInterfaceDump(text: string): InterfaceStatus[] {
  return toInterfaceDump(parseJson(text, 'the dump'));
}

/** `ubus call network.interface.<name> status` / `ifstatus <name>` stdout. */
export function parseInterfaceStatus(text: string, name: string): InterfaceStatus {
  return toInterfaceStatus(parseJson(text, `the status of ${name}`), name);
}

/** First IPv4 address (network_get_ipaddr). */
export function ipv4Address(st: InterfaceStatus): string | undefined {
  return st['ipv4-address']?.[0]?.address;
}

/** First IPv4 address entry, with mask and PPP peer. */
export function ipv4AddressEntry(st: InterfaceStatus): Ipv4Addr | undefined {
  return st['ipv4-address']?.[0];
}

function findDefault(routes: Route[] | undefined, target: string): Route | undefined {
  return routes?.find((r) => r.target === target && r.mask === 0 && r.table === undefined);
}

function defaultGateway(st: InterfaceStatus, target: string, includeInactive: boolean): string | undefined {
  const r = findDefault(st.route, target) ?? (includeInactive ? findDefault(st.inactive?.route, target) : undefined);
  return r?.nexthop;
}

export interface GatewayOptions {
  /** Also look in `inactive.route` (where netifd keeps the default route of a `defaultroute 0` interface). */
  includeInactive?: boolean;
}

/** network_get_gateway: nexthop of the first `0.0.0.0/0` route outside an extra table. */
export function defaultGateway4(st: InterfaceStatus, opts: GatewayOptions = {}): string | undefined {
  return defaultGateway(st, '0.0.0.0', opts.includeInactive ?? false);
}

/** network_get_gateway6: nexthop of the first `::/0` route outside an extra table. */
export function defaultGateway6(st: InterfaceStatus, opts: GatewayOptions = {}): string | undefined {
  return defaultGateway(st, '::', opts.includeInactive ?? false);
}

/** The most recent netifd error (e.g. `{subsystem: 'pppoe', code: 'AUTH_FAILED'}`). */
export function lastError(st: InterfaceStatus): InterfaceError | undefined {
  return st.errors?.at(-1);
}
