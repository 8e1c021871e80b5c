/**
 * The main path end to end: the real owrt-ecmp CLI over real SSH against the lab router
 * (a VM whose dials are real pppd sessions to a real PPPoE server), checked against the
 * router's kernel. One VM, one story, in order.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error the lab is plain JavaScript with no type declarations
import * as lab from '../lab/lab-api.mjs';

const enabled = process.env.OWRT_ECMP_LAB !== '0';
const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function owrt(args: string[], env: Record<string, string> = {}): Run {
  const i = lab.info();
  const [command, ...rest] = args;
  const r = spawnSync(
    process.execPath,
    [cli, command ?? '', '--host', `${i.user}@${i.host}:${i.port}`, '--identity', i.identityFile, '--known-hosts', i.knownHostsFile, ...rest],
    { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 300_000 },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function router(cmd: string): Promise<string> {
  return lab.sshOk(cmd);
}

async function ecmpDevs(fam: '-4' | '-6' = '-4'): Promise<string[]> {
  const out = (await router(`ip -j ${fam} route show default metric 10`)).trim();
  const routes = out ? JSON.parse(out) : [];
  const r = routes[0];
  if (!r) return [];
  return (r.nexthops ?? [{ dev: r.dev }])
    .filter((n: { flags?: string[] }) => !(n.flags ?? []).includes('dead'))
    .map((n: { dev: string }) => n.dev)
    .sort();
}

/** Poll until `check` passes; returns the seconds it took. */
async function eventually(what: string, check: () => Promise<boolean>, timeoutS = 90): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > timeoutS * 1000) throw new Error(`timed out after ${timeoutS} s waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const devsFor = (n: number) => ['pppoe-wan', ...Array.from({ length: n - 1 }, (_, i) => `pppoe-vwan${i + 2}`)].sort();
const exportCmd = 'uci export network; uci export firewall';

describe.skipIf(!enabled)('owrt-ecmp on the lab router', () => {
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
    const r = owrt(['setup', '--dials', '4', '--install-packages', '--dry-run']);
    expect(r.code).toBe(0);
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
    expect(report.healthy).toBe(true);
    expect(report.ecmp.ipv4.map((n: { dev: string }) => n.dev).sort()).toEqual(await ecmpDevs());
    expect(report.dials.every((d: { state: string; inIpv4Ecmp: boolean }) => d.state === 'up' && d.inIpv4Ecmp)).toBe(true);
    expect(await router('cat /proc/sys/net/ipv4/fib_multipath_hash_policy')).toBe('1\n');
    expect(await router('cat /etc/sysupgrade.conf')).toContain('/etc/hotplug.d/iface/95-owrt-ecmp');
  }, 300_000);

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
    const r = owrt(['hotplug', '--install-packages']);
    expect(r.code).toBe(0);
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
