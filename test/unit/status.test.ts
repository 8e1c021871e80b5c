import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/options.js';
import { planDials } from '../../src/plan/dials.js';
import { renderHotplug } from '../../src/plan/files.js';
import { formatStatus } from '../../src/output/status.js';
import { buildStatus } from '../../src/report/status.js';
import { schemaErrors, undocumentedFields } from '../helpers/schemas.js';

const settings = resolveSettings({ dials: '3', weights: '2,1,1' });
const ownConfig = `
config owrt_ecmp 'main'
	option wan 'wan'
	option prefix 'vwan'
	option health '1'
	option dials '3'
	list weight '2'
	list weight '1'
	list weight '1'
	option ipv6 'single'
	option hash_policy '1'
	option route_mode 'auto'
	option ecmp_metric '10'
	option metric_base '40'
	option base '3000'
`;

function iface(name: string, up: boolean, extra: object = {}) {
  return {
    interface: name,
    up,
    pending: !up,
    available: true,
    autostart: true,
    dynamic: false,
    proto: 'pppoe',
    device: name === 'wan' ? 'wan' : `${name}mv`,
    data: {},
    ...(up ? { uptime: 3725, l3_device: `pppoe-${name}`, 'ipv4-address': [{ address: `100.64.0.${name.length}`, mask: 32 }] } : {}),
    ...extra,
  };
}

// `ip -j -d -4 route show default` from a real kernel (6.18, iproute2 6.1) with a resilient group
const ROUTES4 = JSON.stringify([
  {
    type: 'unicast', dst: 'default', nhid: 3000, protocol: 'boot', scope: 'global', metric: 10, flags: [],
    nh_info: { id: 3000, group: [{ id: 3001, weight: 2 }, { id: 3002 }], type: 'resilient', scope: 'global', protocol: 'unspec', flags: [] },
    nexthops: [{ dev: 'pppoe-wan', weight: 2, flags: [] }, { dev: 'pppoe-vwan2', weight: 1, flags: [] }],
  },
  { type: 'unicast', dst: 'default', dev: 'pppoe-vwan2', protocol: 'boot', scope: 'link', metric: 42, flags: [] },
]);

// the monitor's run-time file (openwrt-files/owrt-ecmp-health.sh _hm_write)
const HEALTH = [
  'monitor 4242 1767225000 peer',
  'wan healthy 1767225010 - -',
  'vwan2 healthy 1767225010 - -',
  'vwan3 refused 1767225590 1767225630 AUTH_TOPEER_FAILED',
].join('\n');

function sections(over: Record<string, string> = {}): Map<string, string> {
  const m = new Map<string, string>([
    ['config_owrt_ecmp', ownConfig],
    ['kernel', '6.1.0-27-amd64'],
    ['ip_version', 'ip utility, iproute2-6.1.0, libbpf 1.1.0'],
    ['ip_nexthop', 'yes'],
    ['ip_resilient', 'yes'],
    ['ubus_dump', JSON.stringify({ interface: [
      iface('wan', true),
      iface('vwan2', true),
      iface('vwan3', false, { errors: [{ subsystem: 'pppoe', code: 'AUTH_TOPEER_FAILED' }] }),
    ] })],
    ['routes4', ROUTES4],
    ['routes6', '[]'],
    // `ip -j -4 rule show` (iproute2 6.1) after a rebuild with two dials up
    ['rules', JSON.stringify([
      { priority: 0, src: 'all', table: 'local' },
      { priority: 3000, src: 'all', table: 'main', suppress_prefixlen: 0 },
      { priority: 3001, src: '100.64.0.3', table: '3001' },
      { priority: 3101, src: 'all', fwmark: '0x1000000', fwmask: '0x7f000000', table: '3001' },
      { priority: 3200, src: 'all', table: '3000' },
    ])],
    ['nft', 'yes'],
    // `nft list map inet owrt_ecmp dial4` (nftables 1.0.6)
    ['pinning', 'table inet owrt_ecmp {\n\tmap dial4 {\n\t\ttype ipv4_addr : verdict\n\t\telements = { 100.64.0.3 : goto dial1, 100.64.0.5 : goto dial2,\n\t\t\t     100.64.0.5 : goto dial3 }\n\t}\n}\n'],
    ['sysctl', 'ipv4/fib_multipath_hash_policy=1\nipv4/fib_multipath_use_neigh=1\nipv6/fib_multipath_hash_policy=1'],
    ['hotplug', renderHotplug(settings, planDials(settings, 'wan', 'x'), 'resilient')],
    ['library_sum', 'abc123'],
    ['stats', 'pppoe-wan 1048576 2048\npppoe-vwan2 10 20'],
    ['health', HEALTH],
    ['monitor', 'running\nenabled\nnow 1767225600'],
    ['rollback', ''],
  ]);
  for (const [k, v] of Object.entries(over)) m.set(k, v);
  return m;
}

describe('buildStatus', () => {
  it('joins ubus state, kernel nexthops and counters per dial', () => {
    const r = buildStatus(sections());
    expect(r.schemaVersion).toBe(1);
    expect(r.routeMode).toBe('resilient');
    expect(r.ecmp.nhid4).toBe(3000);
    expect(r.dials.map((d) => [d.interface, d.state, d.inIpv4Ecmp, d.weight])).toEqual([
      ['wan', 'up', true, 2],
      ['vwan2', 'up', true, 1],
      ['vwan3', 'connecting', false, 1],
    ]);
    expect(r.dials[0]).toMatchObject({ device: 'pppoe-wan', uptimeSeconds: 3725, rxBytes: 1048576, txBytes: 2048, ipv4: '100.64.0.3' });
    expect(r.dials[2]?.lastError).toBe('pppoe: AUTH_TOPEER_FAILED');
    expect(r.hotplug).toEqual({ installed: true, matches: true });
    expect(r.healthy).toBe(false);
    expect(r.problems).toEqual([
      'dial 3 (vwan3) is connecting: pppoe: AUTH_TOPEER_FAILED',
      'dial 3 (vwan3) is refused by the ISP (AUTH_TOPEER_FAILED); backing off, next try 2026-01-01T00:00:30.000Z',
    ]);
    const text = formatStatus(r);
    expect(text).toMatch(/wan\s+pppoe-wan\s+up\s+1h02m\s+100\.64\.0\.3\s+yes/);
    expect(text).toContain('IPv4 ECMP nexthops: pppoe-wan w2, pppoe-vwan2 w1 (group 3000)');
  });

  it('is healthy when every dial is up and in the route', () => {
    const all = JSON.stringify({ interface: [iface('wan', true), iface('vwan2', true), iface('vwan3', true)] });
    const routes = JSON.parse(ROUTES4);
    routes[0].nexthops.push({ dev: 'pppoe-vwan3', weight: 1, flags: [] });
    const r = buildStatus(sections({ ubus_dump: all, routes4: JSON.stringify(routes) }));
    expect(r.problems).toEqual([]);
    expect(r.healthy).toBe(true);
  });

  it('flags a stale hotplug script, a wrong hash policy and dead nexthops', () => {
    const routes = JSON.parse(ROUTES4);
    routes[0].nexthops[1].flags = ['dead', 'linkdown'];
    const r = buildStatus(
      sections({ hotplug: '# old\n', sysctl: 'ipv4/fib_multipath_hash_policy=0\nipv6/fib_multipath_hash_policy=1', routes4: JSON.stringify(routes) }),
    );
    expect(r.problems).toContain('dial 2 (vwan2) is up but not in the IPv4 ECMP route');
    expect(r.problems.join('\n')).toMatch(/hotplug script differs/);
    expect(r.problems.join('\n')).toMatch(/fib_multipath_hash_policy is 0, expected 1/);
  });

  it('status --json documents are valid against schemas/status.schema.json (set up, unhealthy, not set up)', () => {
    for (const r of [buildStatus(sections()), buildStatus(sections({ config_owrt_ecmp: '' }))]) expect(schemaErrors('status', r)).toBe('');
    const bad = { ...buildStatus(sections()), dials: [{ dial: 1, state: 'sideways' }] };
    expect(schemaErrors('status', bad)).toMatch(/dials\/0/);
  });

  it('schemas/status.schema.json describes every field a status document has (monitor and per-dial health included)', () => {
    for (const r of [buildStatus(sections()), buildStatus(sections({ config_owrt_ecmp: '' }))]) expect(undocumentedFields('status', r)).toEqual([]);
    // control: a field the schema does not mention is found
    expect(undocumentedFields('status', { ...buildStatus(sections()), extra: 1 })).toEqual(['/extra']);
  });

  it('pin-status: names a missing ECMP-table rule and a dial whose address is not pinned', () => {
    const r = buildStatus(sections({ rules: '[]', pinning: 'table inet owrt_ecmp {\n\tmap dial4 {\n\t\telements = { 100.64.0.3 : goto dial1 }\n\t}\n}' }));
    expect(r.problems).toContain('the policy rule that sends traffic to the ECMP table (pref 3200 lookup 3000) is missing: run `owrt-ecmp hotplug`');
    expect(r.problems.join('\n')).toMatch(/dial 2 \(vwan2\) is not pinned by address: port forwards to 100\.64\.0\.5/);
    expect(r.problems.join('\n')).not.toMatch(/dial 1 \(wan\) is not pinned/);
    // fw3 routers have no nft: nothing to check there
    expect(buildStatus(sections({ nft: 'no', pinning: '' })).problems.filter((p) => !p.includes('refused'))).toEqual([
      'dial 3 (vwan3) is connecting: pppoe: AUTH_TOPEER_FAILED',
    ]);
  });

  it('health: a silent dial, a refused one with its backoff, and the monitor state', () => {
    const all = JSON.stringify({ interface: [iface('wan', true), iface('vwan2', true), iface('vwan3', false)] });
    const silent = HEALTH.replace('vwan2 healthy', 'vwan2 unhealthy');
    // the library took vwan2 out: only wan in the route
    const routes = JSON.parse(ROUTES4);
    routes[0].nexthops = [routes[0].nexthops[0]];
    const r = buildStatus(sections({ ubus_dump: all, health: silent, routes4: JSON.stringify(routes) }));
    expect(r.dials.map((d) => d.health.state)).toEqual(['healthy', 'unhealthy', 'refused']);
    expect(r.dials[2]?.health).toEqual({ state: 'refused', since: 1767225590, retryAt: 1767225630, reason: 'AUTH_TOPEER_FAILED' });
    expect(r.monitor).toEqual({ mode: 'on', enabled: true, bootEnabled: true, running: true, target: 'peer', startedAt: 1767225000, routerTime: 1767225600 });
    const p = r.problems.join('\n');
    expect(p).toMatch(/dial 2 \(vwan2\) is silent/);
    expect(p).not.toMatch(/vwan2\) is up but not in the IPv4 ECMP route/);
    const text = formatStatus(r);
    expect(text).toMatch(/vwan2 .* SILENT/);
    expect(text).toMatch(/refused until 00:00:30 \(AUTH_TOPEER_FAILED\)/);
    expect(text).toContain('dial monitor: running, probe target peer');
  });

  it('health: a monitor that should run but does not is a problem; --health off is not', () => {
    const stopped = buildStatus(sections({ monitor: 'stopped\nenabled\nnow 1' }));
    expect(stopped.problems.join('\n')).toMatch(/dial monitor is not running/);
    const off = buildStatus(sections({ monitor: 'stopped\nenabled\nnow 1', health: '', config_owrt_ecmp: `${ownConfig}\toption health '0'\n` }));
    expect(off.monitor.enabled).toBe(false);
    expect(off.problems.join('\n')).not.toMatch(/monitor/);
    expect(off.dials[0]?.health.state).toBe('unknown');
    expect(formatStatus(off)).toContain('dial monitor: off (--health off)');
  });

  it('health: the default monitor (redial) probes nothing and says so', () => {
    const health = HEALTH.replace(/^monitor (\d+) (\d+) peer$/m, 'monitor $1 $2 none');
    expect(health).not.toBe(HEALTH);
    const r = buildStatus(sections({ health, config_owrt_ecmp: `${ownConfig}\toption health 'redial'\n` }));
    expect(r.monitor).toMatchObject({ mode: 'redial', enabled: true, running: true, target: 'none' });
    expect(r.problems.join('\n')).not.toMatch(/monitor/);
    const text = formatStatus(r);
    expect(text).toContain('dial monitor: running, redial only (refused and dead dials; --health on adds silence probes)');
    // nothing judged an up dial healthy: its HEALTH column says nothing; the refused one is shown
    expect(text).not.toMatch(/\bhealthy\b.*\n[\s\S]*IPv4 ECMP/);
    expect(text).toMatch(/refused until 00:00:30 \(AUTH_TOPEER_FAILED\)/);
  });

  it('says when the router is not set up', () => {
    const r = buildStatus(sections({ config_owrt_ecmp: '' }));
    expect(r.configured).toBe(false);
    expect(r.healthy).toBe(false);
    expect(r.problems[0]).toMatch(/not set up/);
  });
});
