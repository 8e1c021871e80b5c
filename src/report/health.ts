/**
 * The dial monitor's view, from its run-time file (/var/run/owrt-ecmp.health, written by
 * openwrt-files/owrt-ecmp-health.sh) and the status script's `monitor` section. Pure.
 *
 * File format: `monitor <pid> <started epoch> <target|peer|none>`, then one line per dial
 * `<iface> <healthy|unhealthy|down|refused> <since epoch> <until epoch|-> <reason|->`.
 */
import type { HealthMode } from '../settings.js';
export type DialHealthState = 'healthy' | 'unhealthy' | 'down' | 'refused' | 'unknown';

export interface DialHealth {
  state: DialHealthState;
  /** Unix time of the last transition. */
  since: number | null;
  /** refused: next ifup (backoff); down: next redial. Unix time, or null. */
  retryAt: number | null;
  /** The ISP's reason for a refusal (netifd error code), e.g. AUTH_TOPEER_FAILED. */
  reason: string | null;
}

export interface MonitorStatus {
  /** Stored setting owrt_ecmp.main.health: off, redial (no probes), on. */
  mode: HealthMode;
  /** The monitor should run (mode redial or on). */
  enabled: boolean;
  /** /etc/rc.d link present (starts at boot). */
  bootEnabled: boolean;
  running: boolean;
  /** IPv4 address, "peer" (each dial's PPP peer), or "none" (redial: no probes). */
  target: string | null;
  startedAt: number | null;
  /** The router's clock when status ran (retryAt is compared to it). */
  routerTime: number | null;
}

const STATES: readonly DialHealthState[] = ['healthy', 'unhealthy', 'down', 'refused'];

function num(s: string | undefined): number | null {
  return s !== undefined && /^\d+$/.test(s) ? Number(s) : null;
}

export function parseHealthFile(text: string): { monitor: { pid: number; startedAt: number | null; target: string } | null; dials: Map<string, DialHealth> } {
  const dials = new Map<string, DialHealth>();
  let monitor: { pid: number; startedAt: number | null; target: string } | null = null;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'monitor' && f.length >= 4) {
      monitor = { pid: Number(f[1]), startedAt: num(f[2]), target: f[3] ?? 'peer' };
    } else if (f.length >= 5 && f[0]) {
      const state = (STATES as readonly string[]).includes(f[1] ?? '') ? (f[1] as DialHealthState) : 'unknown';
      dials.set(f[0], { state, since: num(f[2]), retryAt: num(f[3]), reason: f[4] === '-' ? null : (f[4] ?? null) });
    }
  }
  return { monitor, dials };
}

export function monitorStatus(healthText: string, monitorText: string, mode: HealthMode): MonitorStatus {
  const { monitor } = parseHealthFile(healthText);
  const lines = monitorText.split('\n').map((l) => l.trim());
  const now = lines.find((l) => l.startsWith('now '));
  return {
    mode,
    enabled: mode !== 'off',
    bootEnabled: lines.includes('enabled'),
    running: lines.includes('running'),
    target: monitor?.target ?? null,
    startedAt: monitor?.startedAt ?? null,
    routerTime: now ? num(now.slice(4)) : null,
  };
}

const UNKNOWN: DialHealth = { state: 'unknown', since: null, retryAt: null, reason: null };

export function dialHealth(healthText: string, iface: string): DialHealth {
  return parseHealthFile(healthText).dials.get(iface) ?? UNKNOWN;
}

/** Problems the monitor's view adds to status (the caller already reports down dials). */
export function healthProblems(
  m: MonitorStatus,
  dials: { dial: number; interface: string; state: string; health: DialHealth }[],
): string[] {
  const out: string[] = [];
  if (m.enabled && !m.running) out.push('the dial monitor is not running: run `owrt-ecmp hotplug` (or /etc/init.d/owrt-ecmp start on the router)');
  for (const d of dials) {
    // the file lags ubus by up to a second: a verdict that contradicts the dial's state is stale
    if (d.health.state === 'unhealthy' && d.state === 'up') {
      out.push(`dial ${d.dial} (${d.interface}) is silent (no traffic, no probe answer): kept out of the ECMP set until it passes traffic`);
    } else if (d.health.state === 'refused' && d.state !== 'up') {
      const at = d.health.retryAt ? ` next try ${new Date(d.health.retryAt * 1000).toISOString()}` : ' retrying now';
      out.push(`dial ${d.dial} (${d.interface}) is refused by the ISP (${d.health.reason ?? 'unknown reason'}); backing off,${at}`);
    }
  }
  return out;
}

/**
 * Short text for the status table: healthy, SILENT, refused until 12:00:10 (AUTH_TOPEER_FAILED) …
 * `probed` false (--health redial): an up dial was never judged silent or not, so no "healthy".
 */
export function healthLabel(h: DialHealth, probed = true): string {
  const time = (t: number) => new Date(t * 1000).toISOString().slice(11, 19);
  switch (h.state) {
    case 'unhealthy':
      return 'SILENT';
    case 'refused':
      return `refused${h.retryAt ? ` until ${time(h.retryAt)}` : ''} (${h.reason ?? '?'})`;
    case 'down':
      return h.retryAt ? `down, redial ${time(h.retryAt)}` : 'down';
    case 'unknown':
      return '-';
    case 'healthy':
      return probed ? 'healthy' : '-';
    default:
      return h.state;
  }
}
