import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';
import {
  BALANCE_MODES,
  HEALTH_MODES,
  type BalanceMode,
  DEFAULT_SETTINGS,
  IPV6_MODES,
  type Ipv6Mode,
  MAX_DIALS,
  ROUTE_MODES,
  type RouteMode,
  type Settings,
} from './settings.js';

/** Raw option values as commander hands them over (strings, flags). */
export interface RawSetupOptions {
  dials?: string;
  wan?: string;
  prefix?: string;
  weights?: string;
  ipv6?: string;
  hashPolicy?: string;
  routeMode?: string;
  balance?: string;
  ecmpMetric?: string;
  metricBase?: string;
  health?: string;
  healthTarget?: string;
  username?: string;
  passwordFile?: string;
}

/** Credentials are kept apart from settings so they can never be printed with them. */
export interface Credentials {
  username?: string;
  password?: string;
}

export function parseIntOption(flag: string, raw: string, min: number, max: number): number {
  const text = raw.trim();
  if (!/^[0-9]+$/.test(text)) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  const n = Number(text);
  if (n < min || n > max) {
    throw new UsageError(`${flag} must be from ${min} to ${max}, got ${n}`);
  }
  return n;
}

function parseChoice<T extends string>(flag: string, raw: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(raw)) return raw as T;
  throw new UsageError(`${flag} must be one of ${choices.join(', ')}, got ${JSON.stringify(raw)}`);
}

/** Interface names become `pppoe-<name>`, cut by the kernel at 15 characters. */
export function checkInterfaceName(flag: string, name: string): string {
  if (!/^[A-Za-z0-9_]+$/.test(name)) {
    throw new UsageError(
      `${flag} ${JSON.stringify(name)} is not a valid interface name`,
      'use letters, digits and underscores only',
    );
  }
  if (name.length > 9) {
    throw new UsageError(
      `${flag} ${JSON.stringify(name)} is longer than 9 characters`,
      'the PPPoE device pppoe-<name> would exceed the kernel limit of 15 characters',
    );
  }
  return name;
}

function parseWeights(raw: string, dials: number): number[] {
  const parts = raw.split(',').map((p) => p.trim());
  if (parts.length !== dials) {
    throw new UsageError(`--weights needs ${dials} comma-separated values (one per dial), got ${parts.length}`);
  }
  return parts.map((p) => parseIntOption('--weights', p, 1, 256));
}

/**
 * Settings for setup: explicit flags win, then what the router has stored from an
 * earlier setup (`stored`), then defaults.
 */
export function resolveSettings(raw: RawSetupOptions, stored?: Settings): Settings {
  const base = stored ?? { ...DEFAULT_SETTINGS, dials: 0, weights: [] };
  const dials = raw.dials !== undefined ? parseIntOption('--dials', raw.dials, 1, MAX_DIALS) : base.dials;
  if (dials === 0) {
    throw new UsageError('--dials is required for the first setup', 'for example: owrt-ecmp setup --dials 4');
  }
  const wan = checkInterfaceName('--wan', raw.wan ?? base.wan);
  const prefix = raw.prefix ?? base.prefix;
  if (!/^[a-z][a-z0-9]*$/.test(prefix)) {
    throw new UsageError(`--prefix ${JSON.stringify(prefix)} must start with a lowercase letter and hold only lowercase letters and digits`);
  }
  checkInterfaceName('--prefix', `${prefix}${dials}`);
  if (prefix === wan || `${prefix}1` === wan) {
    throw new UsageError(`--prefix ${JSON.stringify(prefix)} would clash with the wan interface ${JSON.stringify(wan)}`);
  }
  let weights: number[];
  if (raw.weights !== undefined) weights = parseWeights(raw.weights, dials);
  else if (base.weights.length === dials) weights = base.weights;
  else weights = Array.from({ length: dials }, (_, i) => base.weights[i] ?? 1);
  const ipv6: Ipv6Mode = raw.ipv6 !== undefined ? parseChoice('--ipv6', raw.ipv6, IPV6_MODES) : base.ipv6;
  let hashPolicy = base.hashPolicy;
  if (raw.hashPolicy !== undefined) {
    const p = parseChoice('--hash-policy', raw.hashPolicy, ['l3', 'l4', '0', '1'] as const);
    hashPolicy = p === 'l3' || p === '0' ? 0 : 1;
  }
  const routeMode: RouteMode =
    raw.routeMode !== undefined ? parseChoice('--route-mode', raw.routeMode, ROUTE_MODES) : base.routeMode;
  const balance: BalanceMode = raw.balance !== undefined ? parseChoice('--balance', raw.balance, BALANCE_MODES) : base.balance;
  const ecmpMetric =
    raw.ecmpMetric !== undefined ? parseIntOption('--ecmp-metric', raw.ecmpMetric, 1, 10_000) : base.ecmpMetric;
  const metricBase =
    raw.metricBase !== undefined ? parseIntOption('--metric-base', raw.metricBase, 1, 100_000) : base.metricBase;
  if (ecmpMetric > metricBase) {
    throw new UsageError(
      `--ecmp-metric ${ecmpMetric} must be lower than every dial metric (from --metric-base ${metricBase} + 1)`,
    );
  }
  const health = raw.health !== undefined ? parseChoice('--health', raw.health, HEALTH_MODES) : base.health;
  const healthTarget = raw.healthTarget !== undefined ? parseHealthTarget(raw.healthTarget) : base.healthTarget;
  return { ...base, wan, prefix, dials, weights, ipv6, hashPolicy, routeMode, balance, ecmpMetric, metricBase, health, healthTarget };
}

/** `peer` (the default: each dial's PPP peer) or one IPv4 address, probed with BusyBox ping -I <dev>. */
export function parseHealthTarget(raw: string): string {
  const t = raw.trim();
  if (t === 'peer') return '';
  const parts = t.split('.');
  if (parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) return t;
  throw new UsageError(`--health-target must be "peer" or an IPv4 address, got ${JSON.stringify(raw)}`);
}

/** A secret or name typed by a person: one line, no control characters that UCI cannot hold. */
export function checkCredential(what: string, value: string): string {
  if (value.length === 0) throw new UsageError(`the ${what} is empty`);
  if (/[\n\r\0]/.test(value)) {
    throw new UsageError(`the ${what} contains a line break or NUL byte, which a UCI value cannot hold`);
  }
  return value;
}

export function resolveCredentials(raw: RawSetupOptions, env: NodeJS.ProcessEnv): Credentials {
  const creds: Credentials = {};
  const username = raw.username ?? env.OWRT_ECMP_PPPOE_USERNAME;
  if (username !== undefined) creds.username = checkCredential('PPPoE username', username);
  if (raw.passwordFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(raw.passwordFile, 'utf8');
    } catch (e) {
      throw new UsageError(
        `cannot read --password-file ${JSON.stringify(raw.passwordFile)}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    // one trailing line break is what editors and `echo` add; it is not part of the password
    creds.password = checkCredential('PPPoE password (from --password-file)', text.replace(/\r?\n$/, ''));
  } else if (env.OWRT_ECMP_PPPOE_PASSWORD !== undefined) {
    creds.password = checkCredential('PPPoE password (from OWRT_ECMP_PPPOE_PASSWORD)', env.OWRT_ECMP_PPPOE_PASSWORD);
  }
  return creds;
}
