/**
 * --balance conn and --dials auto / probe-dials on the lab router (real pppd sessions to the
 * lab ISP, real nftables and conntrack on the router's kernel).
 *
 * NOT RUN YET: written by the i12-balance helper, which had no lab VM; the integrator runs it
 * (`npx vitest run test/e2e/balance.test.ts`, ~10 min under TCG). Host-side equivalents that
 * did run: test/integration/router-lib-balance.test.ts and test/integration/probe-dials.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devsFor, ecmpDevs, eventually, lab, issue12Enabled, owrt, router } from './lab-cli.js';

const IP = '/usr/libexec/ip-full';
/** A LAN host netns behind the router, masqueraded out of the ppp devices (fw4's wan zone). */
const LAN_UP = `set -e
${IP} netns add i12lan
${IP} link add i12lanh type veth peer name eth0 netns i12lan
${IP} addr add 192.168.79.1/24 dev i12lanh
${IP} link set i12lanh up
${IP} -n i12lan addr add 192.168.79.2/24 dev eth0
${IP} -n i12lan link set eth0 up
${IP} -n i12lan link set lo up
${IP} -n i12lan route add default via 192.168.79.1
${IP} netns exec i12lan sh -c 'echo 0 >/proc/sys/net/core/txrehash'
echo 1 >/proc/sys/net/ipv4/ip_forward
nft -f - <<'NFT'
table ip i12lan {
	chain post { type nat hook postrouting priority 100; policy accept; oifname "pppoe-*" masquerade; }
}
NFT`;
const LAN_DOWN = `${IP} link del i12lanh; ${IP} netns del i12lan; nft delete table ip i12lan; true`;

/** Every PPPoE session attempt the ISP's access concentrator has seen (PADR accepted). */
const ispAttempts = async () => Number((await router("grep -c 'session [0-9]* for' /run/isp/pppoe-server.log || true")).trim());
/** Trial leftovers of a probe: devices or pppd processes. */
const trialLeftovers = async () =>
  (await router("ls /sys/class/net | grep -E '^ecmp[tp]' ; for p in /proc/[0-9]*; do tr '\\0' ' ' <$p/cmdline 2>/dev/null | grep -q 'ifname ecmpp' && echo pid ${p#/proc/}; done; true")).trim();

async function probeJson(args: string[]): Promise<any> {
  const r = owrt(['probe-dials', '--json', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

/** E of F = 4 iperf3 flows from the LAN host: received Mbit/s over 4 capped dials. */
async function efficiency(cap: number): Promise<number> {
  const out = await router(`ip netns exec i12lan iperf3 -c ${lab.IPERF_HOST} -p ${lab.IPERF_PORTS[0]} -P 4 -t 8 -O 2 -J`);
  return JSON.parse(out).end.sum_received.bits_per_second / 1e6 / (4 * cap);
}

describe.skipIf(!issue12Enabled)('balance modes and dial probing on the lab router', () => {
  beforeAll(async () => {
    await lab.reset({ up: true });
    // packages (ip-full, kmod-macvlan) come with a first setup of wan alone
    const r = owrt(['setup', '--dials', '1', '--install-packages', '--yes']);
    expect(r.code, r.stderr).toBe(0);
  }, 900_000);

  afterAll(async () => {
    await lab.fault('isp-limit', 'off');
    await lab.fault('walled-garden', 'off');
    if (process.env.OWRT_ECMP_LAB_KEEP !== '1') await lab.down();
  }, 120_000);

  it('probe-dials finds the ISP limit, reports each session and leaves nothing dialling', async () => {
    await lab.fault('isp-limit', '3');
    const r = await probeJson(['--max', '6']);
    expect(r).toMatchObject({ held: 1, found: 3, stoppedBy: 'refused', leftovers: [] });
    expect(r.trials.map((t: any) => t.result)).toEqual(['ok', 'ok', 'refused']);
    for (const t of r.trials.slice(0, 2)) expect(t.seconds).toBeGreaterThan(0);
    expect(await trialLeftovers()).toBe('');
    await eventually('the ISP holds only wan again', async () => (await lab.ispSessions()).length === 1, 30);
    // nothing retries: no new session attempt reaches the ISP for 20 s
    const before = await ispAttempts();
    await new Promise((res) => setTimeout(res, 20_000));
    expect(await ispAttempts()).toBe(before);
  }, 300_000);

  it('probe-dials stops at a walled-garden address', async () => {
    await lab.fault('isp-limit', 'off');
    await lab.fault('walled-garden', '2');
    const r = await probeJson(['--max', '6']);
    expect(r).toMatchObject({ found: 2, stoppedBy: 'walled-garden', leftovers: [] });
    expect(r.trials.at(-1).address).toMatch(/^172\.30\./);
    expect(await trialLeftovers()).toBe('');
    await lab.fault('walled-garden', 'off');
  }, 300_000);

  it('setup --dials auto uses the largest working N and leaves no dial retrying', async () => {
    await lab.fault('isp-limit', '3');
    const r = owrt(['setup', '--dials', 'auto:6', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/the ISP allows 3 session\(s\)/);
    expect(await router('uci get owrt_ecmp.main.dials')).toMatch(/^3\s*$/);
    await eventually('3 dials in the ECMP route', async () => (await ecmpDevs()).join() === devsFor(3).join(), 60);
    expect(await trialLeftovers()).toBe('');
    const before = await ispAttempts();
    await new Promise((res) => setTimeout(res, 20_000));
    expect(await ispAttempts()).toBe(before);
    await lab.fault('isp-limit', 'off');
  }, 600_000);

  it('conn balance: F = N = 4 flows use all four dials (E ≥ 0.9); hashing for comparison', async () => {
    const cap = lab.info().rateMbit as number;
    expect(typeof cap).toBe('number');
    await router(LAN_UP);
    try {
      const e: Record<string, number[]> = { hash: [], conn: [] };
      for (const mode of ['hash', 'conn'] as const) {
        const r = owrt(['setup', '--dials', '4', '--balance', mode, '--yes']);
        expect(r.code, r.stderr).toBe(0);
        expect(owrt(['status']).stdout).toMatch(new RegExp(`balance ${mode}`));
        for (let i = 0; i < 3; i++) e[mode]!.push(await efficiency(cap));
      }
      console.log(`E at F = N = 4: conn ${e.conn!.map((x) => x.toFixed(3)).join(' ')}, hash ${e.hash!.map((x) => x.toFixed(3)).join(' ')}`);
      for (const x of e.conn!) expect(x).toBeGreaterThanOrEqual(0.9);
    } finally {
      await router(LAN_DOWN);
    }
  }, 600_000);

  it('teardown removes the conn chains with the rest of the nft table', () => {
    expect(owrt(['teardown', '--yes']).code).toBe(0);
    return router('nft list tables').then((t) => expect(t).not.toMatch(/owrt_ecmp/));
  }, 300_000);
});
