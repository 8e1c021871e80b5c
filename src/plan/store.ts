import { RemoteError } from '../errors.js';
import { BALANCE_MODES, DEFAULT_SETTINGS, type HealthMode, IPV6_MODES, ROUTE_MODES, type Settings } from '../settings.js';
import { findSection, getOption, type UciPackage } from '../uci/parse.js';

/**
 * The owrt_ecmp UCI package: section `main` holds the settings, section `restore`
 * the values setup changed in other configs, so teardown can put them back exactly.
 */
export const OWN_CONFIG = 'owrt_ecmp';
export const OWN_TAG = 'owrt_ecmp';

export function settingsToOptions(s: Settings): Record<string, string | string[]> {
  return {
    wan: s.wan,
    prefix: s.prefix,
    dials: String(s.dials),
    weight: s.weights.map(String),
    ipv6: s.ipv6,
    hash_policy: String(s.hashPolicy),
    route_mode: s.routeMode,
    balance: s.balance,
    ecmp_metric: String(s.ecmpMetric),
    metric_base: String(s.metricBase),
    base: String(s.base),
    health: HEALTH_STORED[s.health],
    ...(s.healthTarget ? { health_target: s.healthTarget } : {}),
  };
}

// '1' and '0' are what versions before `redial` stored for on and off: kept, so the init script
// and a router set up by them read alike
const HEALTH_STORED: Record<HealthMode, string> = { off: '0', redial: 'redial', on: '1' };
function healthOf(stored: string | undefined): HealthMode {
  const found = (Object.keys(HEALTH_STORED) as HealthMode[]).find((m) => HEALTH_STORED[m] === stored);
  return found ?? DEFAULT_SETTINGS.health;
}

function str(pkg: UciPackage, key: string): string | undefined {
  const main = findSection(pkg, 'main');
  const v = main ? getOption(main, key) : undefined;
  return typeof v === 'string' ? v : undefined;
}

function int(pkg: UciPackage, key: string, fallback: number): number {
  const v = str(pkg, key);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v)) throw new RemoteError(`owrt_ecmp.main.${key} on the router is not a number: ${JSON.stringify(v)}`);
  return Number(v);
}

/** Settings stored by an earlier setup, or undefined when the router has none. */
export function readSettings(pkg: UciPackage | null): Settings | undefined {
  if (!pkg || !findSection(pkg, 'main')) return undefined;
  const dials = int(pkg, 'dials', 0);
  const main = findSection(pkg, 'main');
  const w = main ? getOption(main, 'weight') : undefined;
  const weights = (Array.isArray(w) ? w : w ? [w] : []).map(Number);
  const ipv6 = str(pkg, 'ipv6') ?? DEFAULT_SETTINGS.ipv6;
  const routeMode = str(pkg, 'route_mode') ?? DEFAULT_SETTINGS.routeMode;
  return {
    wan: str(pkg, 'wan') ?? DEFAULT_SETTINGS.wan,
    prefix: str(pkg, 'prefix') ?? DEFAULT_SETTINGS.prefix,
    dials,
    weights: weights.length === dials && weights.every((n) => n >= 1 && n <= 256) ? weights : Array(dials).fill(1),
    ipv6: (IPV6_MODES as readonly string[]).includes(ipv6) ? (ipv6 as Settings['ipv6']) : DEFAULT_SETTINGS.ipv6,
    hashPolicy: int(pkg, 'hash_policy', 1) === 0 ? 0 : 1,
    routeMode: (ROUTE_MODES as readonly string[]).includes(routeMode)
      ? (routeMode as Settings['routeMode'])
      : DEFAULT_SETTINGS.routeMode,
    balance: (BALANCE_MODES as readonly string[]).includes(str(pkg, 'balance') ?? '') ? (str(pkg, 'balance') as Settings['balance']) : DEFAULT_SETTINGS.balance,
    ecmpMetric: int(pkg, 'ecmp_metric', DEFAULT_SETTINGS.ecmpMetric),
    metricBase: int(pkg, 'metric_base', DEFAULT_SETTINGS.metricBase),
    base: int(pkg, 'base', DEFAULT_SETTINGS.base),
    health: healthOf(str(pkg, 'health')),
    healthTarget: str(pkg, 'health_target') ?? DEFAULT_SETTINGS.healthTarget,
  };
}

/** Originals recorded in owrt_ecmp.restore: key → value, or null when the option was absent. */
export function readRestore(pkg: UciPackage | null): Map<string, string | null> {
  const out = new Map<string, string | null>();
  const sec = pkg ? findSection(pkg, 'restore') : undefined;
  if (!sec) return out;
  for (const [k, v] of sec.options) {
    if (k === 'absent') for (const a of Array.isArray(v) ? v : [v]) out.set(a, null);
    else if (typeof v === 'string') out.set(k, v);
  }
  return out;
}
