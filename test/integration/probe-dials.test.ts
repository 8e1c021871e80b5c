/**
 * The probe-dials router script (openwrt-files/owrt-ecmp-probe.sh, rendered by the real
 * template) under BusyBox ash in a network namespace: real macvlans on a wan stand-in, the
 * lab's jsonfilter, a ubus answering from a file, and test/helpers/fake-pppd.sh as pppd
 * (the host kernel has no PPP) playing an ISP with a session limit, walled-garden
 * addresses or no answer. The real pppd against the lab ISP is test/e2e/balance.test.ts.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseProbe, type ProbeReport, renderProbe } from '../../src/plan/probe-dials.js';
import { parseSections } from '../../src/remote/run.js';
import { resolveSettings } from '../../src/options.js';
import { canRunNetns, jsonfilterPath } from '../helpers/router-lib.js';

const ns = `i12b${process.pid % 100000}-p`;
const dir = mkdtempSync(join(tmpdir(), 'owrt-ecmp-probe-'));
const isp = join(dir, 'isp');
const bin = join(dir, 'bin');
const WAN_PASS = 'wan "pa\\ss" $(x)';
const FLAG_PASS = "fl'ag \"pw\" \\n";
/** pppd's option-file spelling of a password, as the probe writes it */
const pppdQuoted = (p: string) => `"${p.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

const inNs = (cmd: string) => execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', cmd], { encoding: 'utf8' });

function stub(name: string, body: string): void {
  writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
}

function ispState(o: { limit?: string; walled?: string; nooffer?: boolean; password?: string; wanAddr?: string }): void {
  rmSync(isp, { recursive: true, force: true });
  mkdirSync(join(isp, 'live'), { recursive: true });
  writeFileSync(join(isp, 'argv'), '');
  writeFileSync(join(isp, 'held'), '1');
  writeFileSync(join(isp, 'limit'), o.limit ?? 'off');
  writeFileSync(join(isp, 'walled'), o.walled ?? 'off');
  writeFileSync(join(isp, 'password'), pppdQuoted(o.password ?? WAN_PASS));
  if (o.nooffer) writeFileSync(join(isp, 'nooffer'), '');
  const dump = { interface: [{ interface: 'wan', up: true, device: 'wanp', l3_device: 'pppoe-wan', 'ipv4-address': [{ address: o.wanAddr ?? '100.64.0.2', mask: 32 }] }] };
  writeFileSync(join(dir, 'dump.json'), JSON.stringify(dump));
}

function script(max: number, extra: { password?: string; bogus?: string[]; packages?: string[] } = {}): string {
  const s = resolveSettings({ dials: '1' });
  const creds = extra.password ? { username: 'flaguser', password: extra.password } : {};
  const bogus = extra.bogus ?? ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];
  return renderProbe(s, 'wanp', '52:54:00:12:34:56', { max, timeout: 5, bogus }, creds, { packages: extra.packages ?? [], pkg: 'opkg' });
}

function env(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${bin}:${process.env.PATH}`, FAKE_ISP: isp, OWRT_PROBE_DIR: join(dir, 'work') };
}

function probe(text: string): ProbeReport {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'busybox', 'sh', '-s'], { input: text, encoding: 'utf8', env: env(), timeout: 60_000 });
  if (r.status !== 0) throw new Error(`probe failed (${r.status}): ${r.stderr}`);
  return parseProbe(parseSections(r.stdout).get('probe_dials') ?? '');
}

/** Nothing of the probe is left: devices, pppd stand-ins, granted sessions, files. */
function expectClean(): void {
  expect(inNs('ls /sys/class/net').split('\n').filter((d) => /^ecmp[tp]/.test(d))).toEqual([]);
  expect(readdirSync(join(isp, 'live'))).toEqual([]);
  expect(existsSync(join(dir, 'work'))).toBe(false);
  expect(existsSync(join(dir, 'work.lock'))).toBe(false);
  const argv = readFileSync(join(isp, 'argv'), 'utf8');
  for (const secret of [WAN_PASS, FLAG_PASS, 'pa\\ss', 'pw']) expect(argv).not.toContain(secret);
}

describe.skipIf(!canRunNetns)('probe-dials router script (BusyBox ash, real macvlans, pppd stand-in)', () => {
  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', ns]);
    inNs('ip link set lo up && ip link add wanp type veth peer name wanq && ip link set wanp up && ip link set wanq up');
    mkdirSync(bin, { recursive: true });
    copyFileSync(join(import.meta.dirname, '..', 'helpers', 'fake-pppd.sh'), join(bin, 'pppd'));
    chmodSync(join(bin, 'pppd'), 0o755);
    stub('ubus', `[ "$1 $2 $3" = "call network.interface dump" ] && exec cat ${dir}/dump.json; exit 4`);
    stub('jsonfilter', `exec ${jsonfilterPath} "$@"`);
    // wan's credentials as the router's UCI holds them
    stub('uci', `case "$*" in "-q get network.wan.username") echo wanuser ;; "-q get network.wan.password") printf '%s\\n' '${WAN_PASS.replace(/'/g, `'\\''`)}' ;; *) exit 1 ;; esac`);
  });
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => ispState({}));

  it('session limit: stops at the first refusal, reports the ISP\'s reason and per-session times, hangs every trial up', () => {
    ispState({ limit: '3' });
    const r = probe(script(8));
    expect(r).toMatchObject({ held: 1, wanAddress: '100.64.0.2', found: 3, stoppedBy: 'refused' });
    expect(r.trials.map((t) => [t.session, t.result, t.address])).toEqual([[2, 'ok', '100.64.0.3'], [3, 'ok', '100.64.0.4'], [4, 'refused', null]]);
    expect(r.trials[2]!.detail).toBe('Maximum sessions exceeded');
    for (const t of r.trials) expect(t.seconds).toBeGreaterThan(0.2);
    // each trial: its own macvlan and PPP name, and one failure ends its pppd (no retrying)
    expect(readFileSync(join(isp, 'argv'), 'utf8')).toMatch(/nic-ecmpt2 ifname ecmpp2 nodetach maxfail 1/);
    expectClean();
  });

  it('walled garden: the first session with an address in a bogus range ends the probe and does not count', () => {
    ispState({ walled: '2' });
    const r = probe(script(8));
    expect(r).toMatchObject({ found: 2, stoppedBy: 'walled-garden' });
    expect(r.trials.at(-1)).toMatchObject({ session: 3, result: 'walled-garden', address: '172.30.0.3', detail: 'in 172.16.0.0/12' });
    expectClean();
  });

  it('a range holding wan\'s own address is skipped; MAX ends the probe when the ISP allows more', () => {
    ispState({ wanAddr: '100.70.0.9' });
    const r = probe(script(3, { bogus: ['100.64.0.0/10', '172.16.0.0/12'] }));
    expect(r).toMatchObject({ found: 3, stoppedBy: 'max', skippedRanges: ['100.64.0.0/10'] });
    expectClean();
  });

  it('no PADO: the ISP that stays silent beyond its limit stops the probe as no-offer', () => {
    ispState({ nooffer: true });
    const r = probe(script(4));
    expect(r).toMatchObject({ found: 1, stoppedBy: 'no-offer' });
    expectClean();
  });

  it('credentials given on the workstation replace wan\'s, through a root-only file, never argv', () => {
    ispState({ password: FLAG_PASS, limit: '2' });
    const r = probe(script(4, { password: FLAG_PASS }));
    expect(r).toMatchObject({ found: 2, stoppedBy: 'refused' });
    expect(r.trials[0]!.result).toBe('ok');
    expectClean();
    // and wan's own password (from UCI) is what a probe without flags uses
    ispState({ password: FLAG_PASS });
    expect(probe(script(4))).toMatchObject({ found: 1, stoppedBy: 'refused' });
    expectClean();
  });

  it('a probe killed halfway leaves trials behind; the next run ends them before it starts', async () => {
    ispState({});
    const child = spawn('ip', ['netns', 'exec', ns, 'busybox', 'sh', '-s'], { env: env(), stdio: ['pipe', 'ignore', 'ignore'] });
    child.stdin.end(script(8));
    const deadline = Date.now() + 20_000;
    while (readdirSync(join(isp, 'live')).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(readdirSync(join(isp, 'live')).length).toBeGreaterThanOrEqual(2);
    const exited = new Promise((r) => child.once('exit', r));
    inNs(`kill -KILL ${child.pid} 2>/dev/null; pkill -KILL -P ${child.pid} 2>/dev/null; true`);
    await exited;
    // the shell and its trial-loop subshells die; the pppds live on, as after a crash
    for (const f of ['work', 'work.lock']) expect(existsSync(join(dir, f))).toBe(true);
    ispState({ limit: '2' });
    writeFileSync(join(isp, 'held'), '1');
    const r = probe(script(8));
    expect(r).toMatchObject({ found: 2, stoppedBy: 'refused' });
    expectClean();
  }, 60_000);

  it('--install-packages: opkg installs before the first trial; a failed install is exit 7 with no trial', () => {
    const log = join(dir, 'opkg.log');
    stub('opkg', `echo "opkg $*" >>${log}; echo "trials so far: $(wc -c <${isp}/argv)" >>${log}; [ ! -e ${dir}/opkg-fails ]`);
    ispState({ limit: '2' });
    const r = probe(script(4, { packages: ['kmod-macvlan'] }));
    expect(r).toMatchObject({ found: 2, stoppedBy: 'refused' });
    expect(readFileSync(log, 'utf8')).toBe('opkg update\ntrials so far: 0\nopkg install kmod-macvlan\ntrials so far: 0\n');
    expectClean();

    writeFileSync(join(dir, 'opkg-fails'), '');
    ispState({});
    const failed = spawnSync('ip', ['netns', 'exec', ns, 'busybox', 'sh', '-s'], { input: script(4, { packages: ['kmod-macvlan'] }), encoding: 'utf8', env: env() });
    expect(failed.status).toBe(7);
    expect(parseSections(failed.stdout).get('error')).toMatch(/^installing kmod-macvlan failed/);
    expect(parseSections(failed.stdout).has('probe_dials')).toBe(false);
    expect(readFileSync(join(isp, 'argv'), 'utf8')).toBe('');
    rmSync(join(dir, 'opkg-fails'));
    rmSync(join(bin, 'opkg'));
  });
});
