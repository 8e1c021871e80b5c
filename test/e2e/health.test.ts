/**
 * The dial monitor on the lab router (issue 12): a silent session (the ISP stops passing IP,
 * no hangup, LCP still answered: `labctl silence`) leaves the ECMP set within 3 s and comes
 * back when it passes traffic again; a dial the ISP refuses is taken down and retried with
 * backoff while every other dial keeps its session. The default mode (redial) sends no probe
 * and still backs a refused dial off. Timings are taken on the router (from
 * the fault to the route change, seen by `ip monitor`: lab.routeChangeScript), not across SSH.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devsFor, diagnoseFailures, ecmpDevs, eventually, issue12Enabled, lab, owrt, router } from './lab-cli.js';

const LABCTL = '/usr/lib/lab-vm/labctl';
// three trials show the behaviour; the timing figures are bench/issue12.mjs's (20 trials)
const TRIALS = Number(process.env.HEALTH_TRIALS ?? 3);

/** Runs `fault` on the router, then waits for `dev` to leave / join the ECMP route; prints seconds. */
const timedOnRouter = (fault: string, dev: string, present: boolean): string => lab.routeChangeScript(fault, dev, present, 15);

interface IspSession {
  ip: string;
  pid: number;
}
const sessions = async (): Promise<IspSession[]> => lab.ispSessions();
const status = () => {
  const r = owrt(['status', '--json']);
  return JSON.parse(r.stdout) as {
    dials: { interface: string; state: string; ipv4: string | null; health: { state: string; retryAt: number | null; reason: string | null } }[];
    monitor: { running: boolean; bootEnabled: boolean; target: string; routerTime: number | null };
  };
};
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] ?? NaN;

describe.skipIf(!issue12Enabled)('dial health on the lab router', () => {
  diagnoseFailures();
  beforeAll(async () => {
    await lab.reset({ up: true });
    // a long rollback deadline: a busy TCG host can take more than 90 s from arming to the confirmation
    const r = owrt(['setup', '--dials', '4', '--health', 'on', '--install-packages', '--rollback-timeout', '300', '--wait', '120', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    await eventually('4 dials in the ECMP route', async () => (await ecmpDevs()).join() === devsFor(4).join(), 120);
  }, 900_000);

  afterAll(async () => {
    await router(`${LABCTL} silence all off; ${LABCTL} isp-limit off`).catch(() => '');
    if (process.env.OWRT_ECMP_LAB_KEEP !== '1') await lab.down();
  }, 120_000);

  it('the monitor runs under the procd stand-in, enabled at boot, every dial healthy', async () => {
    expect((await router('/etc/init.d/owrt-ecmp running && echo yes')).trim()).toBe('yes');
    await eventually('all healthy', async () => status().dials.every((d) => d.health.state === 'healthy'), 30);
    const s = status();
    expect(s.monitor).toMatchObject({ running: true, bootEnabled: true, target: 'peer' });
  }, 120_000);

  // the 3 s median is the benchmark's target (bench/issue12.mjs); here: out and back every time, within the
  // 15 s watch (pppd alone never notices this fault), the session kept
  it(`silence: out of the ECMP set (${TRIALS} trials, figures printed), back after, the session never torn down`, async () => {
    const before = await sessions();
    const out: number[] = [];
    const back: number[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const t = (await router(timedOnRouter(`${LABCTL} silence vwan3 on`, 'pppoe-vwan3', false))).trim();
      expect(t, 'vwan3 still in the ECMP route 15 s after it fell silent').not.toBe('never');
      out.push(Number(t));
      expect(await ecmpDevs()).toEqual(devsFor(4).filter((d) => d !== 'pppoe-vwan3'));
      const s = status();
      expect(s.dials.find((d) => d.interface === 'vwan3')).toMatchObject({ state: 'up', health: { state: 'unhealthy' } });
      const b = (await router(timedOnRouter(`${LABCTL} silence vwan3 off`, 'pppoe-vwan3', true))).trim();
      expect(b, 'vwan3 not back in the ECMP route 15 s after traffic passed again').not.toBe('never');
      back.push(Number(b));
      await eventually('all 4 back', async () => (await ecmpDevs()).join() === devsFor(4).join(), 30);
      await new Promise((r) => setTimeout(r, 2000 + 300 * i)); // vary the phase against the monitor's tick
    }
    const fmt = (xs: number[]) => `${xs.map((x) => x.toFixed(2)).join(' ')} (median ${pct(xs, 50).toFixed(2)}, p95 ${pct(xs, 95).toFixed(2)})`;
    console.log(`lab silence → out of ECMP (s): ${fmt(out)}`);
    console.log(`lab silence off → back (s): ${fmt(back)}`);
    // same ISP sessions (same server pppd) before and after: nothing hung up or redialled
    expect((await sessions()).map((x) => `${x.ip}/${x.pid}`).sort()).toEqual(before.map((x) => `${x.ip}/${x.pid}`).sort());
    // the monitor logs each ifup/ifdown it makes ("monitor: dial X ... ifup/ifdown")
    expect(await router("logread | grep -E -c 'owrt-ecmp.*monitor: .*(ifup|ifdown)' || true")).toMatch(/^0\s*$/);
  }, 600_000);

  it('refused: the ISP refuses a redial → ifdown and backoff for that dial only; back when the ISP allows it', async () => {
    // the sessions of the three dials that stay: same ISP pppd before and after
    const others = status().dials.filter((d) => d.interface !== 'vwan4').map((d) => d.ipv4);
    const keep = (await sessions()).filter((x) => others.includes(x.ip)).map((x) => `${x.ip}/${x.pid}`);
    expect(keep).toHaveLength(3);
    await router(`${LABCTL} isp-limit 3`);
    // the limit goes whatever happens here: left on, it fails every later dial of the suite
    try {
      await refusedThenBack(keep);
    } finally {
      await router(`${LABCTL} isp-limit off`);
    }
    await eventually('vwan4 back after its backoff', async () => (await ecmpDevs()).join() === devsFor(4).join(), 120, 1000);
    expect(status().dials.find((d) => d.interface === 'vwan4')?.health.state).toBe('healthy');
  }, 600_000);

  async function refusedThenBack(keep: string[]): Promise<void> {
    const vwan4 = status().dials.find((d) => d.interface === 'vwan4');
    expect(vwan4?.state).toBe('up');
    await router('logger -t e2e refusal-episode');
    await router(`${LABCTL} isp-hangup vwan4`);
    // one snapshot: after its backoff the monitor ifups the dial and clears retryAt (retrying
    // now) until the ISP answers, and a status call takes seconds on a TCG host
    let snap: ReturnType<typeof status> | undefined;
    const d4 = () => snap?.dials.find((d) => d.interface === 'vwan4');
    await eventually('vwan4 refused and backing off', async () => {
      snap = status();
      return d4()?.health.state === 'refused' && d4()?.health.retryAt !== null;
    }, 90, 1000);
    expect(d4()?.health.reason).toBe('AUTH_TOPEER_FAILED');
    // the next try is a time on the router's clock, ahead of it by no more than the third
    // backoff (10 s, 20 s, 40 s: the poll may miss the first window) and behind it by no more
    // than a slow tick of the monitor (its ifdown and rebuild run in the tick): -6 s seen on a
    // TCG router next to three busy host cores; the backoffs themselves are in the log
    expect(d4()!.health.retryAt! - snap!.monitor.routerTime!).toBeGreaterThanOrEqual(-20);
    expect(d4()!.health.retryAt! - snap!.monitor.routerTime!).toBeLessThanOrEqual(40);
    const log = await router('logread | grep owrt-ecmp');
    expect(log).toMatch(/monitor: dial vwan4 refused by the ISP \(AUTH_TOPEER_FAILED\): ifdown, next try in 10 s/);
    expect(log).not.toMatch(/monitor: dial (wan|vwan2|vwan3) .*(ifup|ifdown)/);
    // the redials, ifdowns and firewall reloads load the router: a healthy dial's probe must still be judged right
    const episode = await router("logread | sed -n '/e2e: refusal-episode/,$p' | grep owrt-ecmp || true");
    expect(episode).not.toMatch(/monitor: dial (wan|vwan2|vwan3) .*is silent/);
    const now = (await sessions()).map((x) => `${x.ip}/${x.pid}`);
    for (const k of keep) expect(now).toContain(k);
    expect(await ecmpDevs()).toEqual(devsFor(3));
  }

  it('--health redial (the default): no probes, a silent dial stays in; a refused dial still backs off', async () => {
    const r = owrt(['setup', '--health', 'redial', '--yes', '--wait', '60']);
    expect(r.code, r.stderr).toBe(0);
    await eventually('the monitor restarted in redial mode', async () => status().monitor.target === 'none', 60, 1000);
    expect(status().monitor).toMatchObject({ mode: 'redial', running: true, bootEnabled: true });
    // a silent dial is not judged: it stays in the route (that is what --health on is for)
    await router(`${LABCTL} silence vwan3 on`);
    try {
      await new Promise((res) => setTimeout(res, 8000));
      expect(await ecmpDevs()).toEqual(devsFor(4));
    } finally {
      await router(`${LABCTL} silence vwan3 off`);
    }
    await router('logger -t e2e redial-refusal');
    await router(`${LABCTL} isp-limit 3`);
    try {
      await router(`${LABCTL} isp-hangup vwan4`);
      await eventually('vwan4 refused and backing off', async () => {
        const d4 = status().dials.find((d) => d.interface === 'vwan4');
        return d4?.health.state === 'refused' && d4.health.reason === 'AUTH_TOPEER_FAILED';
      }, 90, 1000);
      const log = await router("logread | sed -n '/e2e: redial-refusal/,$p' | grep owrt-ecmp || true");
      expect(log).toMatch(/monitor: dial vwan4 refused by the ISP \(AUTH_TOPEER_FAILED\): ifdown, next try in 10 s/);
      expect(log).not.toMatch(/is silent|monitor: dial (wan|vwan2|vwan3) .*(ifup|ifdown)/);
    } finally {
      await router(`${LABCTL} isp-limit off`);
    }
    await eventually('vwan4 back after its backoff', async () => (await ecmpDevs()).join() === devsFor(4).join(), 120, 1000);
  }, 600_000);

  it('--health off stops the monitor and status says so; teardown removes the service and its link', async () => {
    expect(owrt(['setup', '--health', 'off', '--yes']).code).toBe(0);
    expect((await router('/etc/init.d/owrt-ecmp running && echo yes || echo no')).trim()).toBe('no');
    expect(status().monitor.running).toBe(false);
    const r = owrt(['teardown', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect((await router('ls /etc/init.d/owrt-ecmp /etc/rc.d/S96owrt-ecmp /usr/lib/owrt-ecmp/health.sh /var/run/owrt-ecmp.health 2>&1 || true'))).not.toMatch(/^\/(etc|usr|var)\/\S+$/m);
    expect(await router('grep -c owrt-ecmp /etc/sysupgrade.conf || true')).toMatch(/^0\s*$/);
  }, 600_000);
});
