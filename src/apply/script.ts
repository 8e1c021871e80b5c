import { posix } from 'node:path';
import { HEALTH_FILE, ROUTER_PATHS, SERVICE_LINK } from '../paths.js';
import type { ResolvedRouteMode } from '../plan/capabilities.js';
import type { Dial } from '../plan/dials.js';
import { hotplugContext } from '../plan/files.js';
import type { Changes } from '../plan/setup.js';
import { SYSCTL_KEYS } from '../probe/facts.js';
import { render } from '../render/env.js';
import type { Settings } from '../settings.js';
import { renderBatch } from '../uci/batch.js';

export type RoutesAction = 'rebuild' | 'flush' | 'glue' | 'none';

/** The router-side snippet that rebuilds or removes the routes with the given settings. */
export function routesSnippet(action: RoutesAction, s: Settings, dials: Dial[], mode: ResolvedRouteMode, why = 'apply'): string {
  if (action === 'none') return '';
  return render('routes.sh', {
    ...hotplugContext(s, dials, mode),
    action,
    why,
    hotplug: ROUTER_PATHS.hotplug,
    wan: s.wan,
  });
}

export interface ApplyInput {
  changes: Changes;
  settings: Settings;
  dials: Dial[];
  routeMode: ResolvedRouteMode;
  configHash: string;
  pkg: 'opkg' | 'apk' | null;
  rollbackTimeout: number;
  /** what to do with routes once files and config are in place */
  after: 'rebuild' | 'none';
  /** what to do with routes before files change (teardown flushes with the old library) */
  before: 'flush' | 'none';
  owner: string;
  /** dials to bring up again if their macvlan is missing (after packages were installed) */
  retry?: Dial[];
}

/** Render the whole apply transaction (see templates/apply.sh.hbs). Pure. */
export function renderApply(a: ApplyInput): string {
  const c = a.changes;
  return render('apply.sh', {
    owner: a.owner.replace(/[^\w .:@-]/g, '_'),
    configHash: a.configHash,
    rollbackTimeout: String(a.rollbackTimeout),
    guard: c.touchesNetwork,
    guardFiles: [...Object.values(ROUTER_PATHS)],
    sysctlKeys: [...SYSCTL_KEYS],
    packages: c.packages,
    pkg: a.pkg ?? 'opkg',
    uci: c.uci,
    batch: renderBatch(c.uci),
    files: c.files.map((f) => ({
      ...f,
      dir: posix.dirname(f.path),
      tmp: `${f.path}.owrt-ecmp-new`,
    })),
    removeFiles: c.removeFiles,
    sysupgradeAdd: c.sysupgradeAdd,
    sysupgradeRemove: c.sysupgradeRemove,
    sysctls: [...c.sysctls].map(([k, value]) => ({ proc: `/proc/sys/net/${k}`, value })),
    touchesNetwork: c.touchesNetwork,
    retry: (a.retry ?? []).map((d) => ({ iface: d.iface, l2: d.l2 })),
    service: ROUTER_PATHS.service,
    serviceLink: SERVICE_LINK,
    hotplug: ROUTER_PATHS.hotplug,
    // the monitor runs whenever the routes are rebuilt by an apply, and goes with a teardown
    serviceStart: a.after === 'rebuild',
    // the status read right after the apply must not find the monitor still starting
    monitorWait: a.after === 'rebuild' && a.settings.health !== 'off',
    healthFile: HEALTH_FILE,
    serviceStop: a.before === 'flush',
    routesBefore: routesSnippet(a.before, a.settings, a.dials, a.routeMode),
    routesNow: routesSnippet(a.after, a.settings, a.dials, a.routeMode),
    routesFlush: routesSnippet('flush', a.settings, a.dials, a.routeMode),
    routesFromGlue: routesSnippet('glue', a.settings, a.dials, a.routeMode),
  });
}

/** Where the ECMP route is: its metric in routing table `base`. */
export interface EcmpRouteRef {
  metric: number;
  base: number;
}

/** Read-only: wait up to `waitSeconds` for the dials; prints a `waited` section "<seconds> <up>". */
export function renderWait(dials: Dial[], waitSeconds: number, ecmp?: EcmpRouteRef): string {
  return render('wait.sh', {
    dials: dials.map((d) => d.iface),
    dialList: dials.map((d) => d.iface).join(' '),
    wait: String(waitSeconds),
    metric: ecmp ? String(ecmp.metric) : '',
    base: ecmp ? String(ecmp.base) : '',
  });
}

/** `ecmp`: also wait for the ECMP route to hold every up dial (not for teardown). */
export function renderConfirm(dials: Dial[], waitSeconds: number, ecmp?: EcmpRouteRef): string {
  return render('confirm.sh', { waitLoop: renderWait(dials, waitSeconds, ecmp) });
}
