import { createHash } from 'node:crypto';
import { dialInterface, macvlanDevice, pppDevice, type Settings } from '../settings.js';

export interface Dial {
  /** 1-based dial number; dial 1 is the existing wan. */
  k: number;
  iface: string;
  /** PPP device netifd creates for the interface. */
  ppp: string;
  /** L2 device the dial runs on: the wan's own device for dial 1, a macvlan otherwise. */
  l2: string;
  /** Fixed MAC of the macvlan (dials ≥ 2). */
  mac?: string;
  /** netifd metric of the dial's own default route; dial 1 (wan) keeps its own. */
  metric: number;
  weight: number;
}

/**
 * A stable, unicast, locally administered MAC per dial: derived from the parent's MAC
 * so re-runs produce the same address (no "changes" on a re-run, same BRAS session
 * binding after a reboot) and two routers never collide by construction.
 */
export function dialMac(parentMac: string, k: number): string {
  const h = createHash('sha256').update(`${parentMac.toLowerCase()}/${k}`).digest();
  const bytes = [0x02, ...h.subarray(0, 5)];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** `wanMetric`: wan's configured metric (netifd's default 0); dial 1 keeps it. */
export function planDials(s: Settings, wanDevice: string, parentMac: string, wanMetric = 0): Dial[] {
  const dials: Dial[] = [];
  for (let k = 1; k <= s.dials; k++) {
    const iface = dialInterface(s, k);
    const dial: Dial = {
      k,
      iface,
      ppp: pppDevice(iface),
      l2: k === 1 ? wanDevice : macvlanDevice(s, k),
      metric: k === 1 ? wanMetric : s.metricBase + k,
      weight: s.weights[k - 1] ?? 1,
    };
    if (k > 1) dial.mac = dialMac(parentMac, k);
    dials.push(dial);
  }
  return dials;
}
