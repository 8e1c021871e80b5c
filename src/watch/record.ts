import type { StatusReport } from '../report/status.js';

/**
 * One `status --watch` record: the status report reduced to what changes second by
 * second, plus byte rates from two consecutive samples and the log lines that appeared
 * since the watch began. Pure: samples in, record out.
 */
export const WATCH_SCHEMA_VERSION = 1;

export interface Sample {
  report: StatusReport;
  /** router uptime in seconds (/proc/uptime): deltas from the router's own clock */
  uptime: number;
  /** kernel device → [rx bytes, tx bytes], every pppoe-* device */
  counters: Map<string, [number, number]>;
  /** recent owrt-ecmp / netifd log lines, oldest first */
  log: string[];
}

export interface WatchDial {
  dial: number;
  interface: string;
  device: string;
  state: string;
  ipv4: string | null;
  inIpv4Ecmp: boolean;
  inIpv6Ecmp: boolean;
  /** bytes per second since the previous record; null on the first */
  rxRate: number | null;
  txRate: number | null;
}

export interface WatchDevice {
  dev: string;
  rxBytes: number;
  txBytes: number;
  rxRate: number | null;
  txRate: number | null;
}

export interface WatchRecord {
  schemaVersion: number;
  time: string;
  configured: boolean;
  healthy: boolean;
  dials: WatchDial[];
  devices: WatchDevice[];
  ecmp: { ipv4: string[]; ipv6: string[] };
  problems: string[];
  /** the last few log lines that appeared since the watch began */
  events: string[];
}

/** Parse the extra sections the watch adds to the status script. */
export function parseWatchSections(sec: Map<string, string>): Pick<Sample, 'uptime' | 'counters' | 'log'> {
  const counters = new Map<string, [number, number]>();
  for (const l of (sec.get('stats') ?? '').split('\n')) {
    const [dev, rx, tx] = l.trim().split(/\s+/);
    if (dev && rx && tx && /^\d+$/.test(rx) && /^\d+$/.test(tx)) counters.set(dev, [Number(rx), Number(tx)]);
  }
  const uptime = Number.parseFloat((sec.get('uptime') ?? '').trim());
  const log = (sec.get('events') ?? '').split('\n').filter((l) => l.trim() !== '');
  return { uptime: Number.isFinite(uptime) ? uptime : Number.NaN, counters, log };
}

/** Bytes per second between two counter readings; null when unknown or the counter went back (device re-created). */
export function rate(prev: number | undefined, now: number | undefined, seconds: number): number | null {
  if (prev === undefined || now === undefined || !(seconds > 0) || now < prev) return null;
  return Math.round((now - prev) / seconds);
}

export const EVENTS_KEPT = 5;

/** Lines in `log` that were not there when the watch began, appended to `kept` (last EVENTS_KEPT). */
export function newEvents(baseline: ReadonlySet<string>, kept: string[], log: string[]): string[] {
  const out = [...kept];
  for (const l of log) if (!baseline.has(l) && !out.includes(l)) out.push(l);
  return out.slice(-EVENTS_KEPT);
}

export function buildRecord(cur: Sample, prev: Sample | undefined, events: string[], now: Date): WatchRecord {
  const dt = prev ? cur.uptime - prev.uptime : 0;
  const r = (dev: string, i: 0 | 1): number | null => rate(prev?.counters.get(dev)?.[i], cur.counters.get(dev)?.[i], dt);
  const ecmp4 = cur.report.ecmp.ipv4.map((n) => n.dev);
  const ecmp6 = cur.report.ecmp.ipv6.map((n) => n.dev);
  return {
    schemaVersion: WATCH_SCHEMA_VERSION,
    time: now.toISOString(),
    configured: cur.report.configured,
    healthy: cur.report.healthy,
    dials: cur.report.dials.map((d) => ({
      dial: d.dial,
      interface: d.interface,
      device: d.device,
      state: d.state,
      ipv4: d.ipv4,
      inIpv4Ecmp: d.inIpv4Ecmp,
      inIpv6Ecmp: d.inIpv6Ecmp,
      rxRate: r(d.device, 0),
      txRate: r(d.device, 1),
    })),
    devices: [...cur.counters].map(([dev, [rx, tx]]) => ({ dev, rxBytes: rx, txBytes: tx, rxRate: r(dev, 0), txRate: r(dev, 1) })),
    ecmp: { ipv4: ecmp4, ipv6: ecmp6 },
    problems: cur.report.problems,
    events,
  };
}
