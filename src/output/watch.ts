import type { WatchRecord } from '../watch/record.js';
import { table } from './status.js';

/** A byte rate as bits per second (what ISPs sell), SI units. */
export function formatRate(bytesPerSecond: number | null): string {
  if (bytesPerSecond === null) return '-';
  const units = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s'];
  let v = bytesPerSecond * 8;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export const CLEAR_SCREEN = '\x1b[H\x1b[2J';

/** One screen of the terminal view; the caller clears the screen before it. */
export function formatWatch(r: WatchRecord, head: { host: string; interval: number }): string {
  const out = [`owrt-ecmp status --watch  ${head.host}  ${r.time.slice(11, 19)} UTC  every ${head.interval} s, Ctrl-C to stop`, ''];
  if (r.dials.length) {
    const rows = [['DIAL', 'INTERFACE', 'DEVICE', 'STATE', 'IPV4', 'ECMP', 'RX', 'TX']];
    for (const d of r.dials) {
      const ecmp = [d.inIpv4Ecmp ? 'v4' : '', d.inIpv6Ecmp ? 'v6' : ''].filter(Boolean).join(' ') || 'no';
      rows.push([String(d.dial), d.interface, d.device, d.state, d.ipv4 ?? '-', ecmp, formatRate(d.rxRate), formatRate(d.txRate)]);
    }
    out.push(table(rows));
  } else if (r.devices.length) {
    const rows = [['DEVICE', 'RX', 'TX']];
    for (const d of r.devices) rows.push([d.dev, formatRate(d.rxRate), formatRate(d.txRate)]);
    out.push(table(rows));
  } else {
    out.push('no PPPoE devices');
  }
  out.push('', r.healthy ? 'healthy' : `unhealthy:\n${r.problems.map((p) => `  - ${p}`).join('\n')}`);
  out.push('', 'events since the watch began:', ...(r.events.length ? r.events.map((e) => `  ${e}`) : ['  none']));
  return out.join('\n');
}
