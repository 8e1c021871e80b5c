/**
 * The router-side library against real kernel routes: a private network namespace with
 * veth devices named like netifd's PPP devices, a ubus that answers from a JSON file,
 * and the lab's jsonfilter. Runs under BusyBox ash, like OpenWrt.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openwrtFilesDir } from '../../src/render/env.js';

const NS = `owrtlib${process.pid}`;
const root = join(import.meta.dirname, '..', '..');
const jsonfilter = join(root, 'test/lab/router-root/usr/bin/jsonfilter');
const canRun = process.getuid?.() === 0 && existsSync(jsonfilter);
const dir = mkdtempSync(join(tmpdir(), 'owrt-ecmp-lib-'));
const dumpFile = join(dir, 'dump.json');
const logFile = join(dir, 'log');

interface FakeDial {
  name: string;
  up: boolean;
  dev: string;
  addr?: string;
  gw6?: string;
}

function writeDump(dials: FakeDial[]): void {
  const ifaces: object[] = [];
  for (const d of dials) {
    ifaces.push({
      interface: d.name,
      up: d.up,
      pending: !d.up,
      available: true,
      autostart: true,
      dynamic: false,
      proto: 'pppoe',
      device: `${d.name}mv`,
      data: {},
      ...(d.up
        ? { l3_device: d.dev, uptime: 10, 'ipv4-address': [{ address: d.addr, mask: 32, ptpaddress: '100.64.255.1' }], route: [] }
        : {}),
    });
    if (d.up && d.gw6) {
      ifaces.push({
        interface: `${d.name}_6`,
        up: true,
        pending: false,
        available: true,
        autostart: true,
        dynamic: true,
        proto: 'dhcpv6',
        device: d.dev,
        l3_device: d.dev,
        route: [{ target: '::', mask: 0, nexthop: d.gw6, metric: 512, source: '2001:db8::/64' }],
        data: {},
      });
    }
  }
  writeFileSync(dumpFile, JSON.stringify({ interface: ifaces }));
}

function sh(cmd: string): string {
  return execFileSync('ip', ['netns', 'exec', NS, 'sh', '-c', cmd], { encoding: 'utf8' });
}

function ipJson(args: string): any[] {
  const out = sh(`ip -j ${args}`).trim();
  return out ? JSON.parse(out) : [];
}

interface LibEnv {
  dials?: string;
  mode?: string;
  ipv6?: string;
  busyboxIp?: boolean;
}

function runLib(fn: string, e: LibEnv = {}): void {
  const bin = e.busyboxIp ? `${dir}/bin-bb:${dir}/bin` : `${dir}/bin`;
  const script = [
    `export PATH=${bin}:$PATH OWRT_ECMP_STATE=${dir}/state OWRT_ECMP_LOCK=${dir}/lock`,
    `export OWRT_ECMP_DIALS='${e.dials ?? 'wan:1:2 vwan2:2:1 vwan3:3:1'}' OWRT_ECMP_METRIC=10`,
    `export OWRT_ECMP_IPV6=${e.ipv6 ?? 'single'} OWRT_ECMP_ROUTE_MODE=${e.mode ?? 'multipath'} OWRT_ECMP_BASE=3000`,
    `. ${join(openwrtFilesDir, 'owrt-ecmp.sh')}`,
    fn,
  ].join('\n');
  const r = spawnSync('ip', ['netns', 'exec', NS, 'busybox', 'sh', '-c', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`library ${fn} failed (${r.status}): ${r.stderr}`);
}

function defaultRoute(fam: '-4' | '-6'): any | undefined {
  return ipJson(`${fam} route show default metric 10`)[0];
}

function devs(route: any): string[] {
  if (!route) return [];
  return (route.nexthops ?? [{ dev: route.dev }]).map((n: any) => n.dev).sort();
}

const DIALS: FakeDial[] = [
  { name: 'wan', up: true, dev: 'pppoe-wan', addr: '100.64.0.2', gw6: 'fe80::1' },
  { name: 'vwan2', up: true, dev: 'pppoe-vwan2', addr: '100.64.0.3', gw6: 'fe80::2' },
  { name: 'vwan3', up: true, dev: 'pppoe-vwan3', addr: '100.64.0.4', gw6: 'fe80::3' },
];

function addDev(d: FakeDial): void {
  // the host kernel has no dummy driver: a veth pair stands in for the PPP device
  sh(`ip link add ${d.dev} type veth peer name p-${d.name} && ip link set p-${d.name} up && ip link set ${d.dev} up && ip addr add ${d.addr}/32 dev ${d.dev}`);
}

describe.skipIf(!canRun)('router library on real kernel routes', () => {
  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', NS]);
    execFileSync('mkdir', ['-p', `${dir}/bin`, `${dir}/bin-bb`]);
    const stub = (path: string, body: string) => {
      writeFileSync(path, `#!/bin/sh\n${body}\n`);
      chmodSync(path, 0o755);
    };
    stub(`${dir}/bin/ubus`, `[ "$1 $2 $3" = "call network.interface dump" ] && exec cat ${dumpFile}; exit 4`);
    // serialisation is the lab's and OpenWrt's business; here only the calls are recorded
    stub(`${dir}/bin/lock`, `echo "lock $*" >>${dir}/locklog`);
    stub(`${dir}/bin/logger`, `echo "$*" >>${logFile}`);
    stub(`${dir}/bin/jsonfilter`, `exec ${jsonfilter} "$@"`);
    stub(`${dir}/bin-bb/ip`, 'exec busybox ip "$@"');
    sh('ip link set lo up');
  });

  afterAll(() => {
    spawnSync('ip', ['netns', 'del', NS]);
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    sh('for d in pppoe-wan pppoe-vwan2 pppoe-vwan3; do ip link del $d 2>/dev/null; done; ip nexthop flush 2>/dev/null; true');
    for (const d of DIALS) addDev(d);
    rmSync(`${dir}/state`, { force: true });
    writeFileSync(logFile, '');
    writeDump(DIALS);
  });

  it('multipath: one route over every up dial, with weights; a dropped dial is taken out', () => {
    runLib('owrt_ecmp_rebuild test');
    const r = defaultRoute('-4');
    expect(devs(r)).toEqual(['pppoe-vwan2', 'pppoe-vwan3', 'pppoe-wan']);
    expect(r.nexthops.find((n: any) => n.dev === 'pppoe-wan').weight).toBe(2);
    // the kernel drops the whole IPv4 multipath route when a member device goes away
    sh('ip link del pppoe-vwan2');
    expect(defaultRoute('-4')).toBeUndefined();
    writeDump([DIALS[0]!, { ...DIALS[1]!, up: false }, DIALS[2]!]);
    runLib('owrt_ecmp_rebuild ifdown');
    expect(devs(defaultRoute('-4'))).toEqual(['pppoe-vwan3', 'pppoe-wan']);
    expect(readFileSync(logFile, 'utf8')).toMatch(/rebuilt \(ifdown\): ipv4 2 nexthop/);
  });

  it('source rules send replies from a dial address back out through that dial', () => {
    runLib('owrt_ecmp_rebuild test');
    const rules = ipJson('-4 rule show');
    expect(rules.find((x) => x.priority === 3000)).toMatchObject({ table: 'main', suppress_prefixlen: 0 });
    for (const [k, d] of DIALS.entries()) {
      expect(rules.find((x) => x.priority === 3001 + k)).toMatchObject({ src: d.addr, table: String(3001 + k) });
      expect(ipJson(`-4 route show table ${3001 + k}`)[0]).toMatchObject({ dst: 'default', dev: d.dev });
    }
  });

  it('is idempotent: an unchanged state does not touch the kernel again', () => {
    runLib('owrt_ecmp_rebuild first');
    runLib('owrt_ecmp_rebuild second');
    const log = readFileSync(logFile, 'utf8');
    expect(log).toMatch(/rebuilt \(first\)/);
    expect(log).not.toMatch(/rebuilt \(second\)/);
    // but if the route vanished behind its back, it is rebuilt even though the state is the same
    sh('ip route del default metric 10');
    runLib('owrt_ecmp_rebuild third');
    expect(devs(defaultRoute('-4'))).toHaveLength(3);
  });

  it.each(['group', 'resilient'])('%s: the route survives a member device being deleted', (mode) => {
    runLib('owrt_ecmp_rebuild test', { mode });
    const r = defaultRoute('-4');
    expect(r.nhid).toBe(3000);
    expect(devs(r)).toHaveLength(3);
    const group = ipJson('nexthop show id 3000')[0];
    expect(group.group.map((g: any) => g.id).sort()).toEqual([3001, 3002, 3003]);
    if (mode === 'resilient') expect(group.type).toBe('resilient');
    sh('ip link del pppoe-vwan3');
    expect(devs(defaultRoute('-4'))).toEqual(['pppoe-vwan2', 'pppoe-wan']);
    writeDump([DIALS[0]!, DIALS[1]!, { ...DIALS[2]!, up: false }]);
    runLib('owrt_ecmp_rebuild ifdown', { mode });
    expect(devs(defaultRoute('-4'))).toEqual(['pppoe-vwan2', 'pppoe-wan']);
    addDev(DIALS[2]!);
    writeDump(DIALS);
    runLib('owrt_ecmp_rebuild ifup', { mode });
    expect(devs(defaultRoute('-4'))).toEqual(['pppoe-vwan2', 'pppoe-vwan3', 'pppoe-wan']);
  });

  it('ipv6 ecmp: nexthops via each dial\'s link-local gateway from its _6 interface', () => {
    runLib('owrt_ecmp_rebuild test', { ipv6: 'ecmp' });
    const r = defaultRoute('-6');
    expect(devs(r)).toEqual(['pppoe-vwan2', 'pppoe-vwan3', 'pppoe-wan']);
    expect(r.nexthops.map((n: any) => n.gateway).sort()).toEqual(['fe80::1', 'fe80::2', 'fe80::3']);
    runLib('owrt_ecmp_rebuild test', { ipv6: 'ecmp', mode: 'group' });
    expect(defaultRoute('-6').nhid).toBe(3100);
  });

  it('no dial up: the ECMP routes and rules go away', () => {
    runLib('owrt_ecmp_rebuild test', { mode: 'group' });
    writeDump(DIALS.map((d) => ({ ...d, up: false })));
    runLib('owrt_ecmp_rebuild ifdown', { mode: 'group' });
    expect(defaultRoute('-4')).toBeUndefined();
    expect(ipJson('-4 rule show').filter((x) => x.priority >= 3000 && x.priority <= 3064)).toEqual([]);
  });

  it('BusyBox ip: keeps one dial routable and says how to fix it', () => {
    runLib('owrt_ecmp_rebuild test', { busyboxIp: true });
    expect(devs(defaultRoute('-4'))).toEqual(['pppoe-wan']);
    expect(readFileSync(logFile, 'utf8')).toMatch(/BusyBox ip cannot do multipath.*--install-packages/);
  });

  it('flush removes routes, nexthops and rules', () => {
    runLib('owrt_ecmp_rebuild test', { mode: 'resilient', ipv6: 'ecmp' });
    runLib('owrt_ecmp_flush', { mode: 'resilient', ipv6: 'ecmp' });
    expect(defaultRoute('-4')).toBeUndefined();
    expect(defaultRoute('-6')).toBeUndefined();
    expect(ipJson('nexthop show')).toEqual([]);
    expect(ipJson('-4 rule show').filter((x) => x.priority >= 3000 && x.priority <= 3064)).toEqual([]);
  });

  it('the hotplug entry point ignores mwan3 actions and unmanaged interfaces', () => {
    runLib('ACTION=connected INTERFACE=wan owrt_ecmp_hotplug; ACTION=ifup INTERFACE=lan owrt_ecmp_hotplug');
    expect(defaultRoute('-4')).toBeUndefined();
    // a dial's DHCPv6 sub-interface matters only to the IPv6 ECMP route
    runLib('ACTION=ifup INTERFACE=vwan2_6 owrt_ecmp_hotplug', { ipv6: 'single' });
    expect(defaultRoute('-4')).toBeUndefined();
    runLib('ACTION=ifup INTERFACE=vwan2_6 owrt_ecmp_hotplug', { ipv6: 'ecmp' });
    expect(devs(defaultRoute('-4'))).toHaveLength(3);
    expect(devs(defaultRoute('-6'))).toHaveLength(3);
  });

  it('the hotplug entry point matches whole interface names', () => {
    runLib('ACTION=ifup INTERFACE=vwan owrt_ecmp_hotplug; ACTION=ifup INTERFACE=vwan22 owrt_ecmp_hotplug; ACTION=ifup INTERFACE=lan_6 owrt_ecmp_hotplug', {
      ipv6: 'ecmp',
    });
    expect(defaultRoute('-4')).toBeUndefined();
    runLib('ACTION=ifdown INTERFACE=wan owrt_ecmp_hotplug');
    expect(devs(defaultRoute('-4'))).toHaveLength(3);
  });
});
