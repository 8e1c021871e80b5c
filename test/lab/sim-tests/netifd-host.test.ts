// netifd-sim on the host, in a private netns: resolv.conf.auto, bridges, reload_ip,
// the hotplug queue rules of interface-event.c, pppd teardown and device removal
// (with a pppd stand-in: the host kernel has no PPP).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NetifdLab, must, sleep, waitFor } from './netifd-sim.js';

const BASE = `
config device
	option name 'br-lan'
	option type 'bridge'
	list ports 'lan1'

config interface 'lan'
	option device 'br-lan'
	option proto 'static'
	option ipaddr '192.168.1.1'
	option netmask '255.255.255.0'
	option ip6addr 'fd3c:5b2a:91e0:1::1/64'
	list dns '192.0.2.53'
	option dns_search 'lab.example'

config interface 'up1'
	option device 'v1'
	option proto 'static'
	option ipaddr '10.9.0.2/24'
	option gateway '10.9.0.1'
	option dns '192.0.2.1 192.0.2.2'

config interface 'off1'
	option device 'v2'
	option proto 'static'
	option ipaddr '10.8.0.2/24'
	option auto '0'
	list dns '192.0.2.99'
`;

const PPP = `
config interface 'wan'
	option device 'v3'
	option proto 'pppoe'
	option username 'u'
	option password 'p'
	option peerdns '0'
	list dns '192.0.2.7'

config interface 'wanb'
	option device 'v4'
	option proto 'pppoe'
	option username 'u'
	option password 'p'
`;

let lab: NetifdLab | null = null;
afterEach(async () => {
  await lab?.stop();
  lab = null;
});

async function boot(tag: string, config: string, veths: string[]): Promise<NetifdLab> {
  const l = new NetifdLab(tag);
  lab = l;
  for (const v of veths) {
    must(l.ip(['link', 'add', v, 'type', 'veth', 'peer', 'name', `${v}p`]));
    // pppd brings its pppoe-* device up itself; netifd-sim does not
    if (v.startsWith('pppoe-')) for (const d of [v, `${v}p`]) must(l.ip(['link', 'set', d, 'up']));
  }
  l.writeConfig(config);
  await l.start();
  return l;
}

const up = (l: NetifdLab, name: string) => () => l.status(name).up === true;

describe('netifd-sim resolv.conf.auto', () => {
  it('lists only interfaces that are up, by name, config dns first', async () => {
    const l = await boot('dns', BASE, ['lan1', 'v1', 'v2']);
    await waitFor(up(l, 'up1'));
    await waitFor(() => l.readResolv().includes('up1'));
    expect(l.readResolv()).toBe(
      '# Interface lan\nnameserver 192.0.2.53\nsearch lab.example\n' +
        '# Interface up1\nnameserver 192.0.2.1\nnameserver 192.0.2.2\n',
    );
    must(l.ubus('network.interface.up1', 'down'));
    expect(l.readResolv()).toBe('# Interface lan\nnameserver 192.0.2.53\nsearch lab.example\n');
    must(l.ubus('network.interface.off1', 'up'));
    await waitFor(up(l, 'off1'));
    expect(l.readResolv()).toContain('# Interface off1\nnameserver 192.0.2.99\n');
    expect(l.status('up1')['dns-server']).toBeUndefined();
    expect(l.status('off1')['dns-server']).toEqual(['192.0.2.99']);
  });

  it('peerdns 0 hides the servers pppd reports; list dns stays; usepeerdns is always passed', async () => {
    const l = await boot('pdns', PPP, ['v3', 'v4', 'pppoe-wan', 'pppoe-wanb']);
    await waitFor(() => l.status('wan').pending === true && l.status('wanb').pending === true);
    for (const [iface, dev, addr] of [['wan', 'pppoe-wan', '100.64.0.2'], ['wanb', 'pppoe-wanb', '100.64.0.3']]) {
      must(l.ubus(`network.interface.${iface}`, 'notify_proto', {
        action: 'ppp-up', ifname: dev, local: addr, remote: '100.64.255.1', dns1: '198.51.100.53', dns2: '198.51.100.54',
      }));
    }
    expect(l.readResolv()).toBe(
      '# Interface wan\nnameserver 192.0.2.7\n' +
        '# Interface wanb\nnameserver 198.51.100.53\nnameserver 198.51.100.54\n',
    );
    const wan = l.status('wan') as { 'dns-server': string[]; inactive: { 'dns-server': string[] } };
    expect(wan['dns-server']).toEqual(['192.0.2.7']);
    expect(wan.inactive['dns-server']).toEqual(['198.51.100.53', '198.51.100.54']);
    const argv = readFileSync(join(l.dir, 'pppd-wan.argv'), 'utf8');
    expect(argv).toContain('set PEERDNS=0 nodefaultroute usepeerdns');
  });
});

describe('netifd-sim devices and reload', () => {
  it('creates the bridge, enslaves its port and puts the interface on it', async () => {
    const l = await boot('br', BASE, ['lan1', 'v1', 'v2']);
    await waitFor(up(l, 'lan'));
    expect(l.ip(['-o', 'link', 'show', 'master', 'br-lan']).stdout).toContain('lan1');
    expect(l.ip(['-br', 'addr', 'show', 'br-lan']).stdout).toMatch(/192\.168\.1\.1\/24 fd3c:5b2a:91e0:1::1\/64/);
    expect(l.status('lan').l3_device).toBe('br-lan');
    // a port added later is enslaved without restarting the interface
    must(l.ip(['link', 'add', 'lan2', 'type', 'veth', 'peer', 'name', 'lan2p']));
    l.uci(['add_list', 'network.@device[0].ports=lan2']);
    l.uci(['commit', 'network']);
    must(l.ubus('network', 'reload'));
    expect(l.ip(['-o', 'link', 'show', 'master', 'br-lan']).stdout).toMatch(/lan1[^]*lan2/);
    await sleep(300);
    expect(l.readEvents().filter((e) => e.includes('lan'))).toEqual(['ifup lan br-lan']);
  });

  it('a metric change deletes and re-adds the addresses, no hotplug down/up; a gateway change restarts', async () => {
    const l = await boot('met', BASE, ['lan1', 'v1', 'v2']);
    await waitFor(up(l, 'up1'));
    await waitFor(() => l.readEvents().includes('ifup up1 v1'));
    const mon = (await import('node:child_process')).spawn('ip', ['-n', l.ns, 'monitor', 'address']);
    let seen = '';
    mon.stdout.on('data', (d: Buffer) => (seen += d.toString()));
    await sleep(200);
    l.uci(['set', 'network.up1.metric=7']);
    l.uci(['commit', 'network']);
    must(l.ubus('network', 'reload'));
    await waitFor(() => /10\.9\.0\.2\/24[^]*\n[^D]*10\.9\.0\.2\/24/.test(seen));
    mon.kill();
    expect(seen).toMatch(/Deleted \d+: v1 +inet 10\.9\.0\.2\/24/);
    expect(seen.indexOf('Deleted')).toBeLessThan(seen.lastIndexOf('inet 10.9.0.2/24'));
    expect(l.ip(['route', 'show', 'default']).stdout).toContain('via 10.9.0.1 dev v1 proto static metric 7');
    expect(l.ip(['route', 'show', '10.9.0.0/24']).stdout).toContain('metric 7');
    expect(l.readEvents().filter((e) => e.includes('up1'))).toEqual(['ifup up1 v1']);
    l.uci(['set', 'network.up1.owrt_marker=x']); // an option netifd does not know: nothing happens
    l.uci(['set', 'network.up1.dns=192.0.2.3']); //  dns changes in place
    l.uci(['commit', 'network']);
    must(l.ubus('network', 'reload'));
    expect(l.readResolv()).toContain('# Interface up1\nnameserver 192.0.2.3\n');
    await sleep(300);
    expect(l.readEvents().filter((e) => e.includes('up1'))).toEqual(['ifup up1 v1']);
    l.uci(['set', 'network.up1.gateway=10.9.0.254']);
    l.uci(['commit', 'network']);
    must(l.ubus('network', 'reload'));
    await waitFor(() => l.readEvents().filter((e) => e.includes('up1')).length === 3);
    expect(l.readEvents().filter((e) => e.includes('up1'))).toEqual(['ifup up1 v1', 'ifdown up1', 'ifup up1 v1']);
  });
});

describe('netifd-sim hotplug queue (interface-event.c)', () => {
  it('a queued event is replaced by a newer one and keeps its place in the queue', async () => {
    const l = await boot('q', BASE, ['lan1', 'v1', 'v2']);
    await waitFor(() => l.readEvents().length === 2);
    writeFileSync(join(l.dir, 'sleep-lan'), '3');
    must(l.ubus('network.interface.lan', 'down')); // runs for 3 s
    await sleep(200);
    must(l.ubus('network.interface.up1', 'down')); // queued: ifdown up1
    must(l.ubus('network.interface.up1', 'up')); //   replaced: ifup up1
    must(l.ubus('network.interface.lan', 'up')); //    lan running ifdown, none queued: ifup queued
    must(l.ubus('network.interface.lan', 'down')); //  replaces the queued ifup of lan
    await waitFor(() => l.readEvents().length >= 5, 10000);
    await sleep(3500);
    expect(l.readEvents().slice(2)).toEqual(['ifdown lan', 'ifup up1 v1', 'ifdown lan']);
  });

  it('an interface removed from the config loses its queued ifdown (IFEV_FREE)', async () => {
    const l = await boot('free', BASE, ['lan1', 'v1', 'v2']);
    await waitFor(() => l.readEvents().length === 2);
    writeFileSync(join(l.dir, 'sleep-lan'), '3');
    must(l.ubus('network.interface.lan', 'down'));
    await sleep(200);
    l.uci(['delete', 'network.up1']);
    l.uci(['commit', 'network']);
    must(l.ubus('network', 'reload'));
    expect(l.ubus('network.interface.up1', 'status').code).not.toBe(0);
    await sleep(3500);
    expect(l.readEvents().slice(2)).toEqual(['ifdown lan']);
  });
});

describe('netifd-sim pppd teardown and device removal', () => {
  it('waits for pppd to exit before the interface is down; SIGKILL after 5 s', async () => {
    const l = await boot('td', PPP, ['v3', 'v4', 'pppoe-wan', 'pppoe-wanb']);
    await waitFor(() => l.status('wan').pending === true);
    writeFileSync(join(l.dir, 'term-delay'), '1.5');
    must(l.ubus('network.interface.wan', 'notify_proto', { action: 'ppp-up', ifname: 'pppoe-wan', local: '100.64.0.2', remote: '100.64.255.1' }));
    l.uci(['delete', 'network.wan']);
    l.uci(['commit', 'network']);
    const t0 = Date.now();
    must(l.ubus('network', 'reload'));
    expect(l.ubus('network.interface.wan', 'status').code).toBe(0); // still tearing down
    await waitFor(() => l.ubus('network.interface.wan', 'status').code !== 0, 4000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1200);
    writeFileSync(join(l.dir, 'term-delay'), 'never');
    await waitFor(() => l.status('wanb').pending === true);
    await sleep(300); // the new pppd read term-delay
    const pid = Number(readFileSync(join(l.dir, 'pppd-wanb.pid'), 'utf8'));
    const alive = () => { try { process.kill(pid, 0); return true; } catch { return false; } };
    must(l.ubus('network.interface.wanb', 'down'));
    const t1 = Date.now();
    await sleep(3000);
    expect(alive()).toBe(true); // ignored SIGTERM: still waited for
    await waitFor(() => !alive(), 4000);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(4500);
  }, 20000);

  it('creates no route on a device the kernel removed, and keeps no stale state', async () => {
    const l = await boot('gone', PPP, ['v3', 'v4', 'pppoe-wan', 'pppoe-wanb']);
    await waitFor(() => l.status('wanb').pending === true);
    must(l.ubus('network.interface.wanb', 'notify_proto', { action: 'ppp-up', ifname: 'pppoe-wanb', local: '100.64.0.3', remote: '100.64.255.1' }));
    expect(l.ip(['route', 'show', 'default']).stdout).toContain('dev pppoe-wanb');
    must(l.ip(['link', 'del', 'pppoe-wanb'])); // what the kernel does when pppd exits
    l.uci(['set', 'network.wanb.metric=5']);
    l.uci(['commit', 'network']);
    must(l.ubus('network', 'reload'));
    expect(l.ip(['route', 'show', 'default']).stdout).toBe('');
    const pid = Number(readFileSync(join(l.dir, 'pppd-wanb.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL'); // pppd gone
    await waitFor(() => l.status('wanb').up === false);
    const st = l.status('wanb');
    expect(st.route).toBeUndefined();
    expect(st.l3_device).toBeUndefined();
    expect(l.ip(['route', 'show', 'default']).stdout).toBe('');
  });
});

const MGMT = `
config interface 'mgmt'
	option device 'eth0'
	option proto 'static'
	option ipaddr '10.0.2.15'
	option netmask '255.255.255.0'
	option gateway '10.0.2.2'
`;

describe('netifd-sim management NIC', () => {
  it('never removes the eth0 address nor routes over it', async () => {
    const l = new NetifdLab('mgmt');
    lab = l;
    must(l.ip(['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']));
    must(l.ip(['addr', 'add', '10.0.2.15/24', 'dev', 'eth0']));
    l.writeConfig(MGMT);
    await l.start();
    await waitFor(up(l, 'mgmt'));
    expect(l.ip(['route', 'show', 'default']).stdout).toBe('');
    l.uci(['set', 'network.mgmt.metric=3']);
    l.uci(['commit', 'network']);
    must(l.ubus('network', 'reload'));
    must(l.ubus('network.interface.mgmt', 'down'));
    expect(l.ip(['-br', 'addr', 'show', 'eth0']).stdout).toContain('10.0.2.15/24');
    expect(l.ip(['route', 'show', 'default']).stdout).toBe('');
  });
});

/** What OpenWrt's ppp-up and ppp6-up scripts report for a dial with IPv6, then its `_6` sub-interface. */
function dialUp(l: NetifdLab, iface: string, local: string): void {
  const ifname = `pppoe-${iface}`;
  must(l.ubus(`network.interface.${iface}`, 'notify_proto', { action: 'ppp-up', ifname, local, remote: '100.64.255.1' }));
  must(l.ubus(`network.interface.${iface}`, 'notify_proto', { action: 'ppp6-up', ifname, local: 'fe80::2', remote: 'fe80::1' }));
  must(l.ubus('network', 'add_dynamic', { name: `${iface}_6`, proto: 'dhcpv6', device: `@${iface}`, zone: 'wan' }));
}

describe('netifd-sim <if>_6 on a dial (dhcpv6.script routes)', () => {
  it('adds one ::/0 route per prefix, restricted to that source, metric 512', async () => {
    const l = await boot('v6', PPP, ['v3', 'v4', 'pppoe-wan', 'pppoe-wanb']);
    writeFileSync(join(l.dir, 'fw4.state'), JSON.stringify({ zones: [{ name: 'wan', network: ['wanb'] }] }));
    await waitFor(() => l.status('wanb').pending === true);
    dialUp(l, 'wanb', '100.64.0.3');
    await sleep(1500);
    expect(l.status('wanb_6').up).toBe(false); // no prefix yet: no route to restrict, not up
    for (const a of ['2001:db8:100:3::2/64', '2001:db8:200:3::2/64']) must(l.ip(['-6', 'addr', 'add', a, 'dev', 'pppoe-wanb', 'nodad']));
    await waitFor(up(l, 'wanb_6'), 5000);
    const st = l.status('wanb_6') as { route: object[]; l3_device: string; data: object };
    expect(st.l3_device).toBe('pppoe-wanb');
    expect(st.data).toEqual({ zone: 'wan' });
    expect(st.route).toEqual([
      { target: '::', mask: 0, nexthop: 'fe80::1', metric: 512, source: '2001:db8:100:3::/64' },
      { target: '::', mask: 0, nexthop: 'fe80::1', metric: 512, source: '2001:db8:200:3::/64' },
    ]);
    const routes = l.ip(['-6', 'route', 'show', 'default']).stdout;
    expect(routes).toContain('default from 2001:db8:100:3::/64 via fe80::1 dev pppoe-wanb proto static metric 512');
    expect(routes).toContain('default from 2001:db8:200:3::/64 via fe80::1 dev pppoe-wanb proto static metric 512');
    must(l.ubus('network.interface.wanb', 'notify_proto', { action: 'ppp-down' }));
    expect(l.ubus('network.interface.wanb_6', 'status').code).not.toBe(0); // freed with the parent
    expect(l.ip(['-6', 'route', 'show', 'default']).stdout).toBe('');
  });
});

const PD = `
config interface 'lan'
	option device 'v5'
	option proto 'static'
	option ip6addr 'fd3c:5b2a:91e0:1::1/64'
	option ip6assign '60'

config interface 'wan'
	option device 'v3'
	option proto 'pppoe'
	option username 'u'
	option password 'p'
`;

describe('netifd-sim prefix delegation stand-in (wan → lan)', () => {
  it("wan's dhcpv6 interface holds the ISP's /56 with its own ::/0 from route; lan takes a /60 of it until wan drops", async () => {
    const l = await boot('pd', PD, ['v3', 'v5', 'pppoe-wan']);
    writeFileSync(join(l.dir, 'fw4.state'), JSON.stringify({ zones: [{ name: 'wan', network: ['wan'] }] }));
    await waitFor(() => l.status('wan').pending === true);
    await waitFor(up(l, 'lan'));
    dialUp(l, 'wan', '100.64.0.10');
    must(l.ip(['-6', 'addr', 'add', '2001:db8:100:10::2/64', 'dev', 'pppoe-wan', 'nodad']));
    await waitFor(up(l, 'wan_6'), 5000);
    // the ISP's rule: the session with IPv4 .10 gets 2001:db8:200:a00::/56
    const st = l.status('wan_6') as { route: object[]; 'ipv6-prefix': object[] };
    expect(st['ipv6-prefix']).toEqual([{ address: '2001:db8:200:a00::', mask: 56 }]);
    expect(st.route).toContainEqual({ target: '::', mask: 0, nexthop: 'fe80::1', metric: 512, source: '2001:db8:200:a00::/56' });
    expect(l.ip(['-6', 'route', 'show', 'default']).stdout).toContain('default from 2001:db8:200:a00::/56 via fe80::1 dev pppoe-wan proto static metric 512');
    await waitFor(() => ((l.status('lan') as { 'ipv6-prefix-assignment': object[] })['ipv6-prefix-assignment'] ?? []).length === 1, 5000);
    expect((l.status('lan') as { 'ipv6-prefix-assignment': object[] })['ipv6-prefix-assignment']).toEqual([
      { address: '2001:db8:200:a00::', mask: 60, 'local-address': { address: '2001:db8:200:a00::1', mask: 60 } },
    ]);
    expect(l.ip(['-6', 'addr', 'show', 'dev', 'v5']).stdout).toContain('inet6 2001:db8:200:a00::1/60 scope global');
    expect(l.ip(['-6', 'route', 'show', 'type', 'unreachable']).stdout).toContain('unreachable 2001:db8:200:a00::/56');
    must(l.ubus('network.interface.wan', 'notify_proto', { action: 'ppp-down' }));
    expect((l.status('lan') as { 'ipv6-prefix-assignment': object[] })['ipv6-prefix-assignment']).toEqual([]);
    expect(l.ip(['-6', 'addr', 'show', 'dev', 'v5']).stdout).not.toContain('2001:db8:200:');
    expect(l.ip(['-6', 'route', 'show', 'type', 'unreachable']).stdout).not.toContain('2001:db8:200:');
  });
});
