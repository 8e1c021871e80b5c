/**
 * The dial monitor's decisions against real kernel routes, nft and ICMP: veth "dials" into
 * an ISP netns that answers pings on the PPP peer address (test/helpers/health-monitor.ts).
 * Silence is an nft drop on the ISP's end; detection is measured from that moment to the
 * dial leaving the ECMP route, polled every 50 ms.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { canRunNetns } from '../helpers/router-lib.js';
import { median, type MonDial, MonitorHarness, waitFor } from '../helpers/health-monitor.js';

const h = new MonitorHarness(`i12h${process.pid}`);

const DIALS: MonDial[] = [
  { k: 1, name: 'wan', up: true, dev: 'pppoe-wan', addr: '100.64.0.2' },
  { k: 2, name: 'vwan2', up: true, dev: 'pppoe-vwan2', addr: '100.64.0.3' },
  { k: 3, name: 'vwan3', up: true, dev: 'pppoe-vwan3', addr: '100.64.0.4' },
];
const ALL = ['pppoe-vwan2', 'pppoe-vwan3', 'pppoe-wan'];
const ifCalls = () => h.callLog().filter(([, c]) => c === 'ifup' || c === 'ifdown');

describe.skipIf(!canRunNetns)('dial monitor (health.sh) on real routes', () => {
  beforeAll(() => {
    h.setup();
    for (const d of DIALS) h.addLink(d);
  });
  afterAll(() => h.teardown());
  beforeEach(() => {
    for (const d of DIALS) h.silence(d.k, false);
    h.writeMonDump(DIALS);
    h.sh(`: >${h.calls}; : >${h.logFile}; rm -f ${h.health} ${h.dir}/state`);
  });
  afterEach(() => h.stop());

  // the 3 s median is a benchmark target (bench/issue12.mjs on the lab); here each trial must be out within
  // the 8 s wait (pppd alone would never notice) and the figures are printed
  it('silence: a silent dial leaves the ECMP route and pin map and comes back with traffic; others untouched', async () => {
    h.start(DIALS, { OWRT_ECMP_HEALTH_DUMP_EVERY: '2' });
    await waitFor('all dials healthy in the route', () => h.ecmpDevs().join() === ALL.join() && h.healthLines().get('vwan2')?.[0] === 'healthy', 10_000);
    await new Promise((r) => setTimeout(r, 2500)); // idle dials settle into probe-every-other-second
    const out: number[] = [];
    const back: number[] = [];
    for (let trial = 0; trial < 5; trial++) {
      h.silence(2, true);
      out.push(await waitFor('vwan2 out of the route', () => !h.ecmpDevs().includes('pppoe-vwan2'), 8000));
      expect(h.ecmpDevs()).toEqual(['pppoe-vwan3', 'pppoe-wan']);
      // the same rebuild replaces the nft table a moment after the route
      await waitFor('vwan2 out of the pin map', () => !h.pinMap().includes('100.64.0.3'), 1000);
      expect(h.pinMap()).toContain('100.64.0.2');
      expect(h.healthLines().get('vwan2')?.[0]).toBe('unhealthy');
      // the session is not torn down: the device and its address stay
      expect(h.sh('ip -4 -o addr show dev pppoe-vwan2')).toContain('100.64.0.3');
      h.silence(2, false);
      back.push(await waitFor('vwan2 back in the route', () => h.ecmpDevs().join() === ALL.join(), 8000));
      await waitFor('vwan2 back in the pin map', () => h.pinMap().includes('100.64.0.3'), 1000);
      await new Promise((r) => setTimeout(r, 1500 + trial * 370)); // vary the phase against the 0.5 s tick
    }
    const f = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
    console.log(`silence → out of ECMP (s): ${f(out)}; median ${median(out).toFixed(2)}, max ${Math.max(...out).toFixed(2)}`);
    console.log(`traffic again → back (s): ${f(back)}; median ${median(back).toFixed(2)}, max ${Math.max(...back).toFixed(2)}`);
    expect(ifCalls()).toEqual([]); // up dials are never ifup'ed/ifdown'ed
    const log = h.sh(`cat ${h.logFile}`);
    expect(log).toMatch(/dial vwan2 \(pppoe-vwan2\) is silent/);
    expect(log).toMatch(/dial vwan2 \(pppoe-vwan2\) passes traffic again/);
  }, 90_000);

  it('passive: a dial that receives traffic is not probed; every up dial silent keeps them all in the route', async () => {
    // the ISP side sends to wan's address 5 times a second: rx grows without probes
    const flood = h.ispSh(`(busybox ping -q -i 0.2 -w 8 100.64.0.2 >/dev/null 2>&1 &) ; echo started`);
    expect(flood).toContain('started');
    h.start(DIALS, { OWRT_ECMP_HEALTH_DUMP_EVERY: '1' });
    await new Promise((r) => setTimeout(r, 6000));
    const pings = h.callLog().filter(([, c]) => c === 'ping');
    expect(pings.some(([, , a]) => a.includes('-I pppoe-vwan2'))).toBe(true);
    expect(pings.filter(([, , a]) => a.includes('-I pppoe-wan ')).length).toBeLessThanOrEqual(1);
    for (const d of DIALS) h.silence(d.k, true);
    await new Promise((r) => setTimeout(r, 5000));
    expect([...h.healthLines().values()].filter((v) => v[0] === 'unhealthy').length).toBe(3);
    expect(h.ecmpDevs()).toEqual(ALL);
  });

  it('refused: ifdown, then ifup after a backoff that doubles up to its cap; healthy dials never touched', async () => {
    const dials = [DIALS[0]!, DIALS[1]!, { ...DIALS[2]!, up: false, errors: ['AUTH_TOPEER_FAILED'] }];
    h.writeMonDump(dials);
    h.start(dials, { OWRT_ECMP_HEALTH_DUMP_EVERY: '1', OWRT_ECMP_HEALTH_BACKOFF: '1', OWRT_ECMP_HEALTH_BACKOFF_MAX: '4' });
    await waitFor('four retries', () => ifCalls().filter(([, c]) => c === 'ifup').length >= 4, 30_000, 200);
    const calls = ifCalls();
    expect(calls.every(([, , a]) => a === 'vwan3')).toBe(true);
    expect(calls.slice(0, 8).map(([, c]) => c)).toEqual(['ifdown', 'ifup', 'ifdown', 'ifup', 'ifdown', 'ifup', 'ifdown', 'ifup']);
    const waits = [1, 3, 5, 7].map((i) => calls[i]![0] - calls[i - 1]![0]);
    console.log(`refused backoff (s, set 1..4): ${waits.map((w) => w.toFixed(2)).join(' ')}`);
    [1, 2, 4, 4].forEach((want, i) => {
      expect(waits[i]).toBeGreaterThanOrEqual(want - 0.3); // the ifdown is recorded later in its tick than the backoff starts
      expect(waits[i]).toBeLessThan(want + 1.6);
    });
    const line = h.healthLines().get('vwan3') ?? [];
    expect(line[0]).toBe('refused');
    expect(line[3]).toBe('AUTH_TOPEER_FAILED');
    expect(h.sh(`cat ${h.logFile}`)).toMatch(/dial vwan3 refused by the ISP \(AUTH_TOPEER_FAILED\): ifdown, next try in 4 s/);
    // it comes up: the backoff is forgotten and the dial is healthy
    h.writeMonDump(DIALS);
    await waitFor('vwan3 healthy', () => h.healthLines().get('vwan3')?.[0] === 'healthy', 5000);
  });

  // the default (--health redial): no probe, so an ISP that drops ICMP cannot make a dial look
  // silent; a refused dial is still taken down and retried with backoff
  it('redial mode: a silent dial is never probed nor taken out; a refused one still backs off', async () => {
    const dials = [DIALS[0]!, DIALS[1]!, { ...DIALS[2]!, up: false, errors: ['AUTH_TOPEER_FAILED'] }];
    h.writeMonDump(dials);
    h.silence(2, true);
    h.start(dials, { OWRT_ECMP_HEALTH_MODE: 'redial', OWRT_ECMP_HEALTH_DUMP_EVERY: '1', OWRT_ECMP_HEALTH_BACKOFF: '1', OWRT_ECMP_HEALTH_BACKOFF_MAX: '2' });
    await waitFor('two retries of vwan3', () => ifCalls().filter(([, c]) => c === 'ifup').length >= 2, 20_000, 200);
    expect(ifCalls().every(([, , a]) => a === 'vwan3')).toBe(true);
    expect(h.healthLines().get('vwan3')?.[0]).toBe('refused');
    // vwan2 has been silent all along: still healthy, still in the route, never pinged
    expect(h.healthLines().get('vwan2')?.[0]).toBe('healthy');
    expect(h.ecmpDevs()).toEqual(['pppoe-vwan2', 'pppoe-wan']);
    expect(h.callLog().filter(([, c]) => c === 'ping')).toEqual([]);
    expect(h.sh(`head -n 1 ${h.health}`)).toMatch(/^monitor \d+ \d+ none$/m);
    expect(h.sh(`cat ${h.logFile}`)).toMatch(/monitor: started \(redial only: refused and dead dials, no probes\)/);
  });

  it('dead: only the dial down past the bound is ifup-ed, with doubling waits; an admin-down one and a total outage are left alone', async () => {
    const dials = [DIALS[0]!, { ...DIALS[1]!, up: false }, { ...DIALS[2]!, up: false, autostart: false }];
    h.writeMonDump(dials);
    h.start(dials, { OWRT_ECMP_HEALTH_DUMP_EVERY: '1', OWRT_ECMP_HEALTH_DOWN: '2', OWRT_ECMP_HEALTH_BACKOFF_MAX: '4' });
    await waitFor('three redials', () => ifCalls().length >= 3, 20_000, 200);
    const calls = ifCalls();
    expect(calls.map(([, c, a]) => `${c} ${a}`)).toEqual(['ifup vwan2', 'ifup vwan2', 'ifup vwan2']);
    const waits = [1, 2].map((i) => calls[i]![0] - calls[i - 1]![0]);
    console.log(`dead-dial redial waits (s, bound 2, cap 4): ${waits.map((w) => w.toFixed(2)).join(' ')}`);
    expect(waits[0]).toBeGreaterThanOrEqual(3.7); // 2 × bound, then capped
    expect(waits[1]).toBeGreaterThanOrEqual(3.7);
    expect(waits[1]).toBeLessThan(5.6);
    // every dial down: no redial storms, netifd's own retries are enough
    h.stop();
    h.sh(`: >${h.calls}`);
    h.writeMonDump(dials.map((d) => ({ ...d, up: false })));
    h.start(dials, { OWRT_ECMP_HEALTH_DUMP_EVERY: '1', OWRT_ECMP_HEALTH_DOWN: '1' });
    await new Promise((r) => setTimeout(r, 4000));
    expect(ifCalls()).toEqual([]);
  });

  it('netifd is read once while every dial is up, at once when a ppp device is made anew, every DUMP_EVERY s while one is down', async () => {
    const reads = () => h.callLog().filter(([, c]) => c === 'ubus').length;
    h.start(DIALS, { OWRT_ECMP_HEALTH_DUMP_EVERY: '1' });
    await waitFor('all healthy', () => DIALS.every((d) => h.healthLines().get(d.name)?.[0] === 'healthy'), 10_000);
    await new Promise((r) => setTimeout(r, 1000)); // the first tick's rebuild reads too
    const settled = reads();
    await new Promise((r) => setTimeout(r, 4000));
    expect(reads()).toBe(settled); // every dial up: nothing to read (the idle re-read is 30 s)
    // a redial between two looks: same name, a new device (new ifindex)
    h.sh('ip link del pppoe-vwan3');
    h.addLink(DIALS[2]!);
    await waitFor('a read after the device was made anew', () => reads() > settled, 2000);
    // a dial down (pppd gone, device with it): netifd is read every second until it is back
    h.writeMonDump([DIALS[0]!, DIALS[1]!, { ...DIALS[2]!, up: false }]);
    h.sh('ip link del pppoe-vwan3');
    await waitFor('vwan3 down', () => h.healthLines().get('vwan3')?.[0] === 'down', 3000);
    const down = reads();
    await new Promise((r) => setTimeout(r, 3200));
    expect(reads() - down).toBeGreaterThanOrEqual(2);
    expect(reads() - down).toBeLessThanOrEqual(4);
    h.addLink(DIALS[2]!);
    h.writeMonDump(DIALS);
    await waitFor('vwan3 healthy again', () => h.healthLines().get('vwan3')?.[0] === 'healthy', 5000);
    expect(ifCalls()).toEqual([]); // down for 3 s is under the 20 s bound: no ifup
  });

  it('stopping the monitor (TERM) puts every dial back and removes its file', async () => {
    h.start(DIALS, { OWRT_ECMP_HEALTH_DUMP_EVERY: '1' });
    await waitFor('healthy', () => h.healthLines().get('wan')?.[0] === 'healthy', 10_000);
    h.silence(1, true);
    await waitFor('wan out', () => !h.ecmpDevs().includes('pppoe-wan'), 8000);
    h.stop();
    expect(h.ecmpDevs()).toEqual(ALL);
    expect(h.healthLines().size).toBe(0);
    expect(h.sh(`cat ${h.logFile}`)).toMatch(/monitor: stopped/);
  });
});
