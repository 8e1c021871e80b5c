import { createHash } from 'node:crypto';
import { ROUTER_PATHS } from '../paths.js';
import { openwrtFile, render } from '../render/env.js';
import type { Settings } from '../settings.js';
import type { ResolvedRouteMode } from './capabilities.js';
import type { Dial } from './dials.js';

import { TOOL_VERSION } from '../version.js';

export { TOOL_VERSION };

export interface RouterFile {
  path: string;
  content: string;
  mode: '0644' | '0755';
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Values the router-side library reads; one line per dial "iface:k:weight". */
export function hotplugContext(s: Settings, dials: Dial[], routeMode: ResolvedRouteMode) {
  const env = {
    dials: dials.map((d) => `${d.iface}:${d.k}:${d.weight}`).join(' '),
    metric: String(s.ecmpMetric),
    ipv6: s.ipv6,
    routeMode,
    balance: s.balance,
    base: String(s.base),
  };
  return {
    version: TOOL_VERSION,
    library: ROUTER_PATHS.library,
    ...env,
    // names these settings: a rebuild that carries other settings than the installed glue
    // (it waited in netifd's queue while an apply or a rollback replaced them) does nothing
    gen: sha256(JSON.stringify(env)).slice(0, 16),
  };
}

export function renderHotplug(s: Settings, dials: Dial[], routeMode: ResolvedRouteMode): string {
  return render('hotplug', hotplugContext(s, dials, routeMode));
}

export function renderSysctl(s: Settings): string {
  return render('sysctl.conf', { hashPolicy: String(s.hashPolicy) });
}

/** Every file setup deploys, rendered. */
export function desiredFiles(s: Settings, dials: Dial[], routeMode: ResolvedRouteMode): RouterFile[] {
  return [
    { path: ROUTER_PATHS.library, content: openwrtFile('owrt-ecmp.sh'), mode: '0644' },
    { path: ROUTER_PATHS.pinLibrary, content: openwrtFile('owrt-ecmp-pin.sh'), mode: '0644' },
    { path: ROUTER_PATHS.hotplug, content: renderHotplug(s, dials, routeMode), mode: '0644' },
    { path: ROUTER_PATHS.sysctl, content: renderSysctl(s), mode: '0644' },
    { path: ROUTER_PATHS.monitor, content: openwrtFile('owrt-ecmp-health.sh'), mode: '0644' },
    { path: ROUTER_PATHS.service, content: openwrtFile('owrt-ecmp.init'), mode: '0755' },
  ];
}

export function desiredSysctls(s: Settings): Map<string, string> {
  return new Map([
    ['ipv4/fib_multipath_hash_policy', String(s.hashPolicy)],
    ['ipv4/fib_multipath_use_neigh', '1'],
    ['ipv6/fib_multipath_hash_policy', String(s.hashPolicy)],
  ]);
}
