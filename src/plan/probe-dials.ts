import type { Credentials } from '../options.js';
import { UsageError } from '../errors.js';
import { openwrtFile, render } from '../render/env.js';
import { dialInterface, MAX_DIALS, type Settings } from '../settings.js';
import { dialMac } from './dials.js';

/**
 * Walled-garden ranges by default: private (RFC 1918), link-local and "this network"
 * space. An ISP over its session limit that still completes IPCP hands out an address a
 * captive page can answer but the internet cannot reach; those come from private space.
 * CGNAT space (100.64.0.0/10) is not in the list: many ISPs number real sessions there.
 * A range holding wan's own address is skipped at run time (that ISP numbers real sessions there).
 */
export const DEFAULT_BOGUS_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '0.0.0.0/8'];
export const DEFAULT_PROBE_MAX = 8;

export interface ProbeOptions {
  max: number;
  /** seconds one trial session may take to get an address */
  timeout: number;
  bogus: string[];
}

export type TrialResult = 'ok' | 'walled-garden' | 'refused' | 'no-offer' | 'failed' | 'timeout';
export type StopReason = TrialResult | 'max' | 'busy';

export interface ProbeReport {
  /** live sessions that already existed (wan and dials set up earlier) */
  held: number;
  wanAddress: string | null;
  /** the largest total number of sessions that worked */
  found: number;
  stoppedBy: StopReason;
  trials: { session: number; result: TrialResult; seconds: number; address: string | null; detail: string }[];
  skippedRanges: string[];
  /** trial devices still present after the cleanup (should be none) */
  leftovers: string[];
}

function checkCidr(c: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(c);
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) {
    throw new UsageError(`--bogus-ranges: ${JSON.stringify(c)} is not an IPv4 CIDR like 172.30.0.0/16`);
  }
  return c;
}

export function parseBogusRanges(raw: string | undefined): string[] {
  if (raw === undefined) return DEFAULT_BOGUS_RANGES;
  if (raw.trim() === 'none') return [];
  return raw.split(',').map((c) => checkCidr(c.trim()));
}

/** `--dials auto` or `auto:MAX` → MAX; a number → undefined (no probe). */
export function autoDials(raw: string | undefined): number | undefined {
  if (raw === undefined || !raw.startsWith('auto')) return undefined;
  const m = /^auto(?::(\d+))?$/.exec(raw);
  const max = m ? Number(m[1] ?? DEFAULT_PROBE_MAX) : NaN;
  if (!(max >= 1 && max <= MAX_DIALS)) {
    throw new UsageError(`--dials ${JSON.stringify(raw)}: use auto or auto:MAX with MAX from 1 to ${MAX_DIALS}`);
  }
  return max;
}

/**
 * The router-side probe for these settings. `held` are the interfaces whose live
 * sessions already count (wan and dials an earlier setup made); trial n dials on a
 * macvlan with the MAC setup would give dial n, so the ISP sees the same stations later.
 */
export function renderProbe(
  s: Settings,
  parent: string,
  parentMac: string,
  o: ProbeOptions,
  creds: Credentials,
  install: { packages: string[]; pkg: 'opkg' | 'apk' | null } = { packages: [], pkg: null },
): string {
  const held = Array.from({ length: Math.max(1, s.dials) }, (_, i) => dialInterface(s, i + 1));
  const macs = Array.from({ length: o.max }, (_, i) => `${i + 1}=${dialMac(parentMac, i + 1)}`).join(' ');
  return render('probe-dials.sh', {
    held: held.join(' '),
    wan: s.wan,
    parent,
    max: String(o.max),
    timeout: String(o.timeout),
    bogus: o.bogus.join(' '),
    macs,
    username: creds.username ?? '',
    password: creds.password ?? '',
    lib: openwrtFile('owrt-ecmp-probe.sh'),
    packages: install.packages,
    pkg: install.pkg ?? 'opkg',
  });
}

const RESULTS: readonly string[] = ['ok', 'walled-garden', 'refused', 'no-offer', 'failed', 'timeout'];

/** Parse the probe's output lines (see owrt-ecmp-probe.sh). Pure. */
export function parseProbe(text: string): ProbeReport {
  const r: ProbeReport = { held: 0, wanAddress: null, found: 0, stoppedBy: 'max', trials: [], skippedRanges: [], leftovers: [] };
  for (const line of text.split('\n')) {
    const [kind, ...w] = line.trim().split(' ');
    if (kind === 'held') {
      r.held = Number(w[0]);
      r.wanAddress = w[1] && w[1] !== '-' ? w[1] : null;
    } else if (kind === 'skip-range' && w[0]) r.skippedRanges.push(w[0]);
    else if (kind === 'trial' && RESULTS.includes(w[1] ?? '')) {
      r.trials.push({
        session: Number(w[0]),
        result: w[1] as TrialResult,
        seconds: Math.round(Number(w[2]) / 100) / 10,
        address: w[3] && w[3] !== '-' ? w[3] : null,
        detail: w.slice(4).join(' '),
      });
    } else if (kind === 'stop' && w[0]) r.stoppedBy = w[0] as StopReason;
    else if (kind === 'found') r.found = Number(w[0]);
    else if (kind === 'leftover' && w[0]) r.leftovers.push(w[0]);
  }
  return r;
}

export function formatProbe(r: ProbeReport, max: number): string {
  const out = [`sessions already up: ${r.held}${r.wanAddress ? ` (wan ${r.wanAddress})` : ''}`];
  for (const t of r.trials) {
    out.push(`  session ${t.session}: ${t.result} after ${t.seconds} s${t.address ? `, ${t.address}` : ''}${t.detail ? ` (${t.detail})` : ''}`);
  }
  for (const c of r.skippedRanges) out.push(`  walled-garden range ${c} ignored: wan's own address is in it`);
  const why: Record<StopReason, string> = {
    ok: '', max: `reached the maximum tried (${max})`, 'walled-garden': 'the ISP gave the next session a walled-garden address',
    refused: 'the ISP refused the next session', 'no-offer': 'the ISP did not answer the next session', failed: 'the next session failed',
    timeout: 'the next session got no address in time', busy: 'another probe is running on this router',
  };
  out.push(`the ISP allows ${r.found} session(s): ${why[r.stoppedBy]}; every trial session was hung up`);
  if (r.leftovers.length) out.push(`WARNING: trial devices left behind: ${r.leftovers.join(', ')}`);
  return out.join('\n');
}
