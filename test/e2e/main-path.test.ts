/**
 * The main path end to end: the real owrt-ecmp CLI over real SSH against the lab router
 * (a VM whose dials are real pppd sessions to a real PPPoE server), checked against the
 * router's kernel. One VM, one story, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaErrors } from '../helpers/schemas.js';
import { devsFor, diagnoseFailures, ecmpDevs, eventually, exportCmd, lab, labEnabled, lanIperf, owrt, router } from './lab-cli.js';

/**
 * Forwarded flows are what ECMP spreads: they come from the lab's LAN host (netns `lan` behind
 * br-lan), masqueraded by the lab's fw4 ruleset. A socket on the router itself picks its source
 * address, and with it (through the per-dial rules) its dial, once at connect time.
 */
describe.skipIf(!labEnabled)('owrt-ecmp on the lab router', () => {
  diagnoseFailures();
  let original = '';

  beforeAll(async () => {
    await lab.reset({ up: true });
    original = await router(exportCmd);
  }, 600_000);

  afterAll(async () => {
    if (process.env.OWRT_ECMP_LAB_KEEP !== '1') await lab.down();
  }, 120_000);

  it('refuses a stock router without the needed packages and says how to fix it', () => {
    const r = owrt(['setup', '--dials', '4', '--yes']);
    expect(r.stderr).toMatch(/BusyBox ip/);
    expect(r.stderr).toMatch(/opkg update && opkg install ip-full/);
    expect(r.stderr).toMatch(/kmod-macvlan/);
    expect(r.code).toBe(7);
  });

  it('--dry-run prints the plan with the password masked and changes nothing', async () => {
    const r = owrt(['setup', '--dials', '4', '--install-packages', '--dry-run', '--verbose']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\+3 dials \(vwan2 vwan3 vwan4\) · .*firewall: wan zone \+3 networks/m);
    expect(r.stdout).toContain("set network.vwan4.proto='pppoe'");
    expect(r.stdout).toContain('set network.vwan2.password=•••••');
    expect(r.stdout + r.stderr).not.toContain(lab.ISP_ACCOUNT.password);
    expect(await router(exportCmd)).toBe(original);
  });

  it('setup --dials 4: four sessions, an ECMP default over the four ppp devices, status agrees', async () => {
    const r = owrt(['setup', '--dials', '4', '--install-packages', '--yes', '--verbose']);
    expect(r.stderr).toMatch(/confirmed/);
    expect(r.stdout + r.stderr).not.toContain(lab.ISP_ACCOUNT.password);
    expect(r.stderr).toMatch(/3 SSH round trip\(s\)/);
    expect(r.code).toBe(0);
    expect((await lab.ispSessions()).length).toBe(4);
    await eventually('4 nexthops', async () => (await ecmpDevs()).length === 4);
    expect(await ecmpDevs()).toEqual(devsFor(4));
    const st = owrt(['status', '--json']);
    expect(st.code).toBe(0);
    const report = JSON.parse(st.stdout);
    expect(schemaErrors('status', report)).toBe('');
    expect(report.healthy).toBe(true);
    expect(report.ecmp.ipv4.map((n: { dev: string }) => n.dev).sort()).toEqual(await ecmpDevs());
    expect(report.dials.every((d: { state: string; inIpv4Ecmp: boolean }) => d.state === 'up' && d.inIpv4Ecmp)).toBe(true);
    expect(await router('cat /proc/sys/net/ipv4/fib_multipath_hash_policy')).toBe('1\n');
    expect(await router('cat /etc/sysupgrade.conf')).toContain('/etc/hotplug.d/iface/95-owrt-ecmp');
  }, 300_000);

  it('16 parallel flows from a LAN host reach at least 3.5× one session\'s cap', async () => {
    const cap = lab.info().rateMbit as number;
    expect(typeof cap).toBe('number');
    // 16 flows hash onto 4 dials: about 1 run in 25 leaves a dial without a flow, which is
    // ECMP working as designed; a new run draws new source ports
    const runs: string[] = [];
    let best = 0;
    for (let attempt = 1; attempt <= 3 && best < 3.5 * cap; attempt++) {
      // lanIperf retries a run iperf3 itself gave up on (say, the server still busy)
      const { mbit, perDev } = await lanIperf(16, 12);
      const share = Object.entries(perDev).map(([d, mb]) => `${d} ${mb.toFixed(1)} MB`);
      runs.push(`run ${attempt}: ${mbit.toFixed(1)} Mbit/s (${(mbit / cap).toFixed(2)}× the ${cap} Mbit/s cap; ${share.join(', ')})`);
      best = Math.max(best, mbit);
    }
    console.log(`aggregation, 16 flows over 4 dials:\n  ${runs.join('\n  ')}`);
    expect(best, runs.join("\n")).toBeGreaterThanOrEqual(3.5 * cap);
  }, 240_000);

  it('re-running setup reports no changes', () => {
    const r = owrt(['setup', '--yes']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^no changes$/m);
  });

  it('a killed pppd is taken out of the ECMP route and put back when it redials', async () => {
    await lab.fault('kill-pppd', 'vwan3');
    const out = await eventually('vwan3 out of the route', async () => !(await ecmpDevs()).includes('pppoe-vwan3'), 30);
    expect((await ecmpDevs()).length).toBe(3);
    const back = await eventually('vwan3 back in the route', async () => (await ecmpDevs()).length === 4, 90);
    console.log(`kill-pppd: out of the route after ${out.toFixed(1)} s, back after ${back.toFixed(1)} s`);
  }, 180_000);

  it("an ISP hangup is handled the same way, and another user's staged uci edit survives a shrink to 2", async () => {
    await lab.fault('isp-hangup', 'vwan2');
    await eventually('vwan2 out', async () => !(await ecmpDevs()).includes('pppoe-vwan2'), 30);
    await eventually('vwan2 back', async () => (await ecmpDevs()).length === 4, 90);

    await router("uci set network.lan.owrt_ecmp_test_marker='staged by someone else'");
    const r = owrt(['setup', '--dials', '2', '--yes']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/staged uci change\(s\) by someone else/);
    await eventually('2 nexthops', async () => (await ecmpDevs()).length === 2, 60);
    expect(await ecmpDevs()).toEqual(devsFor(2));
    expect(await router('uci changes network')).toContain('owrt_ecmp_test_marker');
    expect(await router('cat /etc/config/network')).not.toContain('owrt_ecmp_test_marker');
    expect(await router('cat /etc/config/network')).not.toContain('vwan3');
    await router('uci revert network.lan.owrt_ecmp_test_marker');
  }, 240_000);

  it('a reboot brings the dials and the ECMP route back without the tool', async () => {
    await lab.reboot();
    await eventually('2 nexthops after reboot', async () => (await ecmpDevs()).length === 2, 120);
    expect(await router('cat /proc/sys/net/ipv4/fib_multipath_hash_policy')).toBe('1\n');
  }, 300_000);

  it('after a simulated sysupgrade, `hotplug --install-packages` restores everything', async () => {
    await lab.sysupgrade();
    // packages are gone: BusyBox ip again, the library keeps one dial routable
    const degraded = owrt(['status']);
    expect(degraded.code).toBe(8);
    const r = owrt(['hotplug', '--yes', '--install-packages']);
    expect(r.code, r.stderr).toBe(0);
    await eventually('2 nexthops after hotplug', async () => (await ecmpDevs()).length === 2, 120);
    expect(owrt(['status']).code).toBe(0);
  }, 600_000);

  it('teardown restores uci export network/firewall byte for byte and removes routes, rules and files', async () => {
    const r = owrt(['teardown', '--yes']);
    expect(r.code).toBe(0);
    expect(await router(exportCmd)).toBe(original);
    expect(await ecmpDevs()).toEqual([]);
    expect(await router('ip rule show | grep -c "lookup 30" || true')).toBe('0\n');
    expect(await router('ls /usr/lib/owrt-ecmp /etc/hotplug.d/iface/95-owrt-ecmp /etc/sysctl.d/60-owrt-ecmp.conf 2>&1 || true')).toMatch(
      /No such file/,
    );
    expect(await router('cat /etc/sysupgrade.conf')).not.toContain('owrt-ecmp');
    expect(await router('cat /proc/sys/net/ipv4/fib_multipath_hash_policy')).toBe('0\n');
  }, 300_000);
});
