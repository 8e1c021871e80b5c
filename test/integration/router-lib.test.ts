/**
 * The router-side library against real kernel routes: a private network namespace with
 * veth devices named like netifd's PPP devices, a ubus that answers from a JSON file,
 * and the lab's jsonfilter. Runs under BusyBox ash, like OpenWrt.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/options.js';
import { hotplugContext, renderHotplug } from '../../src/plan/files.js';
import { planSetup } from '../../src/plan/setup.js';
import { factsFrom } from '../helpers/facts.js';
import { canRunNetns, devsOf as devs, dumpOf, type FakeDial, LibHarness } from '../helpers/router-lib.js';

const h = new LibHarness(`owrtlib${process.pid}`);
const { dir, logFile } = h;
const sh = (cmd: string) => h.sh(cmd);
const ipJson = (args: string) => h.ipJson(args);
const writeDump = (dials: FakeDial[], pad = 0) => h.writeDump(dials, pad);
const runLib = (fn: string, e: Parameters<LibHarness['runLib']>[1] = {}) => h.runLib(fn, e);
const defaultRoute = (fam: '-4' | '-6') => h.ecmpRoute(fam);
/** Rules in the library's priority range (base 3000 … 3200). */
const ownRules = (fam = '-4') => ipJson(`${fam} rule show`).filter((x) => x.priority >= 3000 && x.priority <= 3264);

const facts = factsFrom('stock-2305.txt');

const DIALS: FakeDial[] = [
  { name: 'wan', up: true, dev: 'pppoe-wan', addr: '100.64.0.2', gw6: 'fe80::1' },
  { name: 'vwan2', up: true, dev: 'pppoe-vwan2', addr: '100.64.0.3', gw6: 'fe80::2' },
  { name: 'vwan3', up: true, dev: 'pppoe-vwan3', addr: '100.64.0.4', gw6: 'fe80::3' },
];

function addDev(d: FakeDial): void {
  // the host kernel has no dummy driver: a veth pair stands in for the PPP device
  sh(`ip link add ${d.dev} type veth peer name p-${d.name} && ip link set p-${d.name} up && ip link set ${d.dev} up && ip addr add ${d.addr}/32 dev ${d.dev}`);
}

describe.skipIf(!canRunNetns)('router library on real kernel routes', () => {
  beforeAll(() => h.setup());
  afterAll(() => h.teardown());

  beforeEach(() => {
    sh('for d in pppoe-wan pppoe-vwan2 pppoe-vwan3; do ip link del $d 2>/dev/null; done; ip nexthop flush 2>/dev/null; nft flush ruleset; true');
    for (const fam of ['-4', '-6']) sh(`ip ${fam} rule flush; ip ${fam} rule add pref 32766 lookup main; ip ${fam} rule add pref 32767 lookup default`);
    for (const d of DIALS) addDev(d);
    rmSync(`${dir}/state`, { force: true });
    rmSync(`${dir}/ifstate`, { force: true });
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

  it("the dial monitor's rebuild (reuse) takes netifd's state from the last read; any other reads ubus", () => {
    const health = `${dir}/health`;
    const withHealth = (call: string) => `OWRT_ECMP_HEALTH=${health}; ${call}`;
    runLib('owrt_ecmp_rebuild test');
    expect(devs(defaultRoute('-4'))).toEqual(['pppoe-vwan2', 'pppoe-vwan3', 'pppoe-wan']);
    // ubus now says vwan3 is down (its ifdown event not handled yet); the monitor marks vwan2 silent
    writeDump([DIALS[0]!, DIALS[1]!, { ...DIALS[2]!, up: false }]);
    writeFileSync(health, 'monitor 1 - peer\nwan healthy - - -\nvwan2 unhealthy - - -\nvwan3 healthy - - -\n');
    runLib(withHealth('owrt_ecmp_rebuild "health: vwan2" reuse'));
    expect(devs(defaultRoute('-4'))).toEqual(['pppoe-vwan3', 'pppoe-wan']);
    // vwan3's queued ifdown event then reads ubus again
    runLib(withHealth('owrt_ecmp_rebuild "ifdown vwan3"'));
    expect(devs(defaultRoute('-4'))).toEqual(['pppoe-wan']);
    // other dial settings than the last read's: reuse falls back to a full read
    writeDump(DIALS);
    runLib(withHealth('owrt_ecmp_rebuild "health: vwan2" reuse'), { dials: 'wan:1:2 vwan3:3:1' });
    expect(devs(defaultRoute('-4'))).toEqual(['pppoe-vwan3', 'pppoe-wan']);
    // flush leaves no read behind
    runLib('owrt_ecmp_flush');
    expect(existsSync(`${dir}/ifstate`)).toBe(false);
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
    sh('ip route del default table 3000 metric 10');
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

  it.each(['multipath', 'group'])("ipv6 ecmp, %s: the monitor's rebuild (reuse) keeps each dial's IPv6 nexthop, the first where netifd lists several", (mode) => {
    const health = `${dir}/health`;
    // two routers on vwan2's link advertised a default route: its _6 lists both
    const dump = dumpOf(DIALS) as { interface: { interface: string; route?: object[] }[] };
    const v2 = dump.interface.find((i) => i.interface === 'vwan2_6')!;
    v2.route = [...(v2.route ?? []), { target: '::', mask: 0, nexthop: 'fe80::22', metric: 1024, source: '2001:db8::/64' }];
    writeFileSync(h.dumpFile, JSON.stringify(dump));
    const gateways = () => Object.fromEntries(h.ecmpRoute('-6').nexthops.map((n: { dev: string; gateway: string }) => [n.dev, n.gateway]));
    runLib('owrt_ecmp_rebuild test', { ipv6: 'ecmp', mode });
    expect(gateways()).toEqual({ 'pppoe-wan': 'fe80::1', 'pppoe-vwan2': 'fe80::2', 'pppoe-vwan3': 'fe80::3' });
    // netifd now says vwan2 is down (its event not handled yet): a reuse must not read that
    writeDump([DIALS[0]!, { ...DIALS[1]!, up: false }, DIALS[2]!]);
    writeFileSync(health, 'monitor 1 - peer\nwan healthy - - -\nvwan2 healthy - - -\nvwan3 unhealthy - - -\n');
    runLib(`OWRT_ECMP_HEALTH=${health}; owrt_ecmp_rebuild "health: vwan3" reuse`, { ipv6: 'ecmp', mode });
    expect(gateways()).toEqual({ 'pppoe-wan': 'fe80::1', 'pppoe-vwan2': 'fe80::2' });
    expect(devs(defaultRoute('-4'))).toEqual(['pppoe-vwan2', 'pppoe-wan']);
    if (mode === 'group') expect(defaultRoute('-6').nhid).toBe(3100);
    rmSync(health);
  });

  it('no dial up: the ECMP routes and rules go away', () => {
    runLib('owrt_ecmp_rebuild test', { mode: 'group' });
    writeDump(DIALS.map((d) => ({ ...d, up: false })));
    runLib('owrt_ecmp_rebuild ifdown', { mode: 'group' });
    expect(defaultRoute('-4')).toBeUndefined();
    expect(ipJson('-4 rule show').filter((x) => x.priority >= 3000 && x.priority <= 3264)).toEqual([]);
  });

  it('BusyBox ip: leaves netifd\'s routes in main in charge and says how to fix it', () => {
    sh('ip route add default dev pppoe-wan');
    runLib('owrt_ecmp_rebuild test', { busyboxIp: true });
    expect(defaultRoute('-4')).toBeUndefined();
    expect(devs(ipJson('-4 route show default')[0])).toEqual(['pppoe-wan']);
    expect(readFileSync(logFile, 'utf8')).toMatch(/BusyBox ip cannot do multipath.*--install-packages/);
  });

  it('flush removes routes, nexthops and rules', () => {
    runLib('owrt_ecmp_rebuild test', { mode: 'resilient', ipv6: 'ecmp' });
    runLib('owrt_ecmp_flush', { mode: 'resilient', ipv6: 'ecmp' });
    expect(defaultRoute('-4')).toBeUndefined();
    expect(defaultRoute('-6')).toBeUndefined();
    expect(ipJson('nexthop show')).toEqual([]);
    expect(ownRules()).toEqual([]);
    expect(ipJson('-4 route show table 3002')).toEqual([]);
    expect(spawnNft()).toBe(false);
  });

  // CI, safety e2e: an ifup event queued behind a slow firewall reload ran after the rollback
  // of an unconfirmed setup and built its (undone) rules back on a router without owrt-ecmp
  it('a rebuild carrying settings that are no longer installed (replaced or removed) writes nothing', () => {
    const glue = `${dir}/glue`;
    const mine = resolveSettings({ dials: '3' });
    const ctx = hotplugContext(mine, planSetup(mine, facts, {}).dials, 'multipath');
    rmSync(glue, { force: true });
    runLib('owrt_ecmp_rebuild queued', { gen: ctx.gen });
    expect(defaultRoute('-4')).toBeUndefined();
    expect(ownRules()).toEqual([]);
    const other = resolveSettings({ dials: '2' });
    writeFileSync(glue, renderHotplug(other, planSetup(other, facts, {}).dials, 'multipath'));
    runLib('owrt_ecmp_rebuild queued', { gen: ctx.gen });
    expect(defaultRoute('-4')).toBeUndefined();
    expect(readFileSync(logFile, 'utf8')).toMatch(/not rebuilt \(queued\): its settings are no longer the installed ones/);
    writeFileSync(glue, renderHotplug(mine, planSetup(mine, facts, {}).dials, 'multipath'));
    runLib('owrt_ecmp_rebuild queued', { gen: ctx.gen });
    expect(devs(defaultRoute('-4'))).toEqual(['pppoe-vwan2', 'pppoe-vwan3', 'pppoe-wan']);
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

  it('pin-rules: ECMP in table 3000 behind the suppress rule, fwmark rules and the nft map per dial', () => {
    runLib('owrt_ecmp_rebuild test', { mode: 'group' });
    expect(ipJson('-4 route show default')).toEqual([]);
    const rules = ownRules();
    expect(rules.find((x) => x.priority === 3200)).toMatchObject({ table: '3000' });
    for (const [i, d] of DIALS.entries()) {
      const k = i + 1;
      expect(rules.find((x) => x.priority === 3100 + k)).toMatchObject({ fwmark: `0x${(k << 24).toString(16)}`, fwmask: '0x7f000000', table: String(3000 + k) });
      expect(sh('nft list map inet owrt_ecmp dial4')).toContain(`${d.addr} : goto dial${k}`);
    }
    expect(sh('nft list chain inet owrt_ecmp dial2')).toMatch(/meta mark set meta mark & 0x8[0-9a-f]ffffff \| 0x02000000/);
    // the pinning table went away behind the library's back: the next rebuild restores it
    sh('nft delete table inet owrt_ecmp');
    runLib('owrt_ecmp_rebuild again', { mode: 'group' });
    expect(sh('nft list map inet owrt_ecmp dial4')).toContain(`${DIALS[1]!.addr} : goto dial2`);
    // so does a rule someone deleted (the state file alone would say "nothing to do")
    sh('ip rule del pref 3102 table 3002');
    runLib('owrt_ecmp_rebuild third', { mode: 'group' });
    expect(ownRules().find((x) => x.priority === 3102)).toMatchObject({ table: '3002' });
    expect(readFileSync(logFile, 'utf8')).toMatch(/rebuilt \(third\)/);
  });

  it.each(['group', 'resilient', 'multipath'])('pin-redial (%s): a dial back with the same device and address is put back', (mode) => {
    runLib('owrt_ecmp_rebuild test', { mode });
    // pppd exits and redials: the kernel deletes the device with its nexthop and routes;
    // netifd merged ifdown+ifup, so the library sees the same state as last time
    sh('ip link del pppoe-vwan2');
    addDev(DIALS[1]!);
    runLib('owrt_ecmp_rebuild ifup', { mode });
    expect(devs(defaultRoute('-4'))).toEqual(['pppoe-vwan2', 'pppoe-vwan3', 'pppoe-wan']);
    expect(ipJson('-4 route show table 3002')[0]).toMatchObject({ dst: 'default', dev: 'pppoe-vwan2' });
  });

  it('pin-foreign: rules of mwan3 and others at 1001/2001/3001 survive a rebuild and a flush', () => {
    sh('ip rule add pref 1001 iif pppoe-wan lookup 1 && ip rule add pref 2001 fwmark 0x100/0x3f00 lookup 1 && ip rule add pref 3001 fwmark 0x100/0x3f00 unreachable');
    sh('ip rule add pref 3002 from 10.9.9.9 lookup 77');
    const foreign = () => ipJson('-4 rule show').filter((x) => [1001, 2001, 3001, 3002].includes(x.priority) && x.table !== '3001' && x.table !== '3002');
    expect(foreign()).toHaveLength(4);
    runLib('owrt_ecmp_rebuild test');
    writeDump([DIALS[0]!, { ...DIALS[1]!, up: false }, DIALS[2]!]);
    runLib('owrt_ecmp_rebuild ifdown');
    expect(foreign()).toHaveLength(4);
    runLib('owrt_ecmp_flush');
    expect(foreign()).toHaveLength(4);
    expect(ownRules().filter((x) => x.table !== '1' && x.table !== '77' && x.action !== 'unreachable')).toEqual([]);
  });

  it('pin-shrink: a dial removed from the settings leaves no rule or table behind', () => {
    runLib('owrt_ecmp_rebuild test');
    expect(ownRules().filter((x) => x.table === '3003')).toHaveLength(2);
    runLib('owrt_ecmp_rebuild shrink', { dials: 'wan:1:2 vwan2:2:1' });
    expect(ownRules().filter((x) => x.table === '3003')).toEqual([]);
    expect(ipJson('-4 route show table 3003')).toEqual([]);
    expect(devs(defaultRoute('-4'))).toEqual(['pppoe-vwan2', 'pppoe-wan']);
    runLib('owrt_ecmp_flush', { dials: 'wan:1:2' });
    expect(ownRules()).toEqual([]);
  });

  it('pin-dump64: 64 dials with their _6 interfaces (a dump over 128 KiB) still read right', () => {
    const many: FakeDial[] = DIALS.map((d) => ({ ...d }));
    for (let k = 4; k <= 64; k++) many.push({ name: `vwan${k}`, up: true, dev: `pppoe-vwan${k}`, addr: `100.64.1.${k}`, gw6: `fe80::${k}` });
    writeDump(many, 1200);
    expect(readFileSync(h.dumpFile).length).toBeGreaterThan(160 * 1024);
    const spec = many.map((d, i) => `${d.name}:${i + 1}:1`).join(' ');
    // only the first three have a device: the rest are skipped as "no device yet"
    runLib('owrt_ecmp_rebuild big', { dials: spec, ipv6: 'ecmp' });
    expect(devs(defaultRoute('-4'))).toEqual(['pppoe-vwan2', 'pppoe-vwan3', 'pppoe-wan']);
    expect(devs(defaultRoute('-6'))).toEqual(['pppoe-vwan2', 'pppoe-vwan3', 'pppoe-wan']);
  });

  it('pin-ipv6: ecmp mode adds the IPv6 suppress and ECMP-table rules; flush removes them', () => {
    runLib('owrt_ecmp_rebuild test', { ipv6: 'ecmp' });
    const r6 = ownRules('-6');
    expect(r6.find((x) => x.priority === 3000)).toMatchObject({ table: 'main', suppress_prefixlen: 0 });
    expect(r6.find((x) => x.priority === 3200)).toMatchObject({ table: '3000' });
    // unchanged state and kernel: the second run is a no-op (the kernel check reads real rules)
    runLib('owrt_ecmp_rebuild same', { ipv6: 'ecmp', mode: 'group' });
    runLib('owrt_ecmp_rebuild same-again', { ipv6: 'ecmp', mode: 'group' });
    expect(readFileSync(logFile, 'utf8')).not.toMatch(/rebuilt \(same-again\)/);
    runLib('owrt_ecmp_flush', { ipv6: 'ecmp' });
    expect(ownRules('-6')).toEqual([]);
    expect(spawnNft()).toBe(false);
  });
});

function spawnNft(): boolean {
  try {
    sh('nft list table inet owrt_ecmp >/dev/null 2>&1');
    return true;
  } catch {
    return false;
  }
}
