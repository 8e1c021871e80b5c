/**
 * Never lose the router: a change nobody confirms reverts itself, concurrent runs do not
 * interleave, and bad requests leave `uci export network firewall` exactly as it was.
 * Real CLI, real SSH, the lab router.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error the lab is plain JavaScript with no type declarations
import * as lab from '../lab/lab-api.mjs';

const enabled = process.env.OWRT_ECMP_LAB !== '0';
const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli.js');
const exportCmd = 'uci export network; uci export firewall';
const tmp = mkdtempSync(join(tmpdir(), 'owrt-ecmp-safety-'));

function labArgs(): string[] {
  const i = lab.info();
  return ['--host', `${i.user}@${i.host}:${i.port}`, '--identity', i.identityFile, '--known-hosts', i.knownHostsFile];
}

function owrt(args: string[], env: Record<string, string> = {}) {
  const [command, ...rest] = args;
  const r = spawnSync(process.execPath, [cli, command ?? '', ...labArgs(), ...rest], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function owrtAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [command, ...rest] = args;
  const child = spawn(process.execPath, [cli, command ?? '', ...labArgs(), ...rest], { env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutS: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > timeoutS * 1000) throw new Error(`timed out after ${timeoutS} s waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(!enabled)('safety on the lab router', () => {
  let original = '';

  beforeAll(async () => {
    await lab.reset({ up: true });
    // packages first, so that the cases below reach the parts they are about
    await lab.sshOk('opkg update >/dev/null && opkg install ip-full kmod-macvlan >/dev/null');
    original = await lab.sshOk(exportCmd);
  }, 600_000);

  afterAll(async () => {
    if (process.env.OWRT_ECMP_LAB_KEEP !== '1') await lab.down();
  }, 120_000);

  it('a change that is never confirmed (the tool is killed after the apply) rolls itself back', async () => {
    const child = spawn(process.execPath, [cli, 'setup', ...labArgs(), '--dials', '3', '--yes', '--rollback-timeout', '30', '--wait', '5']);
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        // the apply round trip is done and the confirmation is about to start: kill the tool here
        if (/confirming over a new SSH connection/.test(stderr)) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('close', () => reject(new Error(`the tool ended before confirming:\n${stderr}`)));
    });
    expect(await lab.sshOk('cat /tmp/owrt-ecmp-rollback/state')).toMatch(/^armed/);
    expect(await lab.sshOk('uci get network.vwan3.proto 2>&1 || true')).toBe('pppoe\n');
    const took = await eventually('the router to roll back', async () => /^rolledback/.test(await lab.sshOk('cat /tmp/owrt-ecmp-rollback/state 2>/dev/null || true')), 90);
    console.log(`unconfirmed change rolled back ${took.toFixed(1)} s after the tool was killed`);
    expect(await lab.sshOk(exportCmd)).toBe(original);
    expect(await lab.sshOk('ls /etc/config/owrt_ecmp /etc/hotplug.d/iface/95-owrt-ecmp 2>&1 || true')).toMatch(/No such file/);
    expect(await lab.sshOk('ip route show default metric 10')).toBe('');
    // the next run converges
    const again = owrt(['setup', '--dials', '2', '--yes']);
    expect(again.code).toBe(0);
    expect(owrt(['teardown', '--yes']).code).toBe(0);
    expect(await lab.sshOk(exportCmd)).toBe(original);
  }, 300_000);

  it('two setups at once: one applies, the other stops with a clear message, nothing interleaves', async () => {
    const [a, b] = await Promise.all([owrtAsync(['setup', '--dials', '3', '--yes']), owrtAsync(['setup', '--dials', '2', '--yes'])]);
    const codes = [a.code, b.code].sort();
    expect(codes).toEqual([0, 9]);
    const loser = a.code === 9 ? a : b;
    expect(loser.stderr).toMatch(/another owrt-ecmp run|changed since it was read|waiting for confirmation/);
    const winner = a.code === 0 ? 3 : 2;
    expect((await lab.sshOk('uci get owrt_ecmp.main.dials')).trim()).toBe(String(winner));
    expect(owrt(['teardown', '--yes']).code).toBe(0);
    expect(await lab.sshOk(exportCmd)).toBe(original);
  }, 300_000);

  const pwFile = (name: string, text: string) => {
    const p = join(tmp, name);
    writeFileSync(p, text);
    return p;
  };

  it.each([
    ['no such wan interface', ['setup', '--dials', '2', '--wan', 'nowan', '--dry-run'], 7, /no interface "nowan"/],
    ['wan is not PPPoE', ['setup', '--dials', '2', '--wan', 'lan', '--yes'], 7, /uses proto "static", not pppoe/],
    ['password with a newline', ['setup', '--dials', '2', '--yes', '--password-file', 'NL'], 2, /line break/],
    ['an ECMP metric that is not below the dial metrics', ['setup', '--dials', '2', '--ecmp-metric', '41', '--yes'], 2, /lower than every dial metric/],
    ['weights of the wrong count', ['setup', '--dials', '5', '--weights', '1,1', '--yes'], 2, /needs 5 comma-separated values/],
  ])('%s', async (_name, args, code, message) => {
    const argv = args.map((a) => (a === 'NL' ? pwFile('nl', 'a\nb\n') : a));
    const r = owrt(argv);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(await lab.sshOk(exportCmd)).toBe(original);
  }, 300_000);

  it('an ISP refusing sessions beyond 2: setup applies, reports the refused dials, exit 8', async () => {
    await lab.fault('isp-limit', '2');
    try {
      const r = owrt(['setup', '--dials', '4', '--yes', '--wait', '30']);
      expect(r.code).toBe(8);
      expect(r.stdout).toMatch(/AUTH|unhealthy/);
      const st = JSON.parse(owrt(['status', '--json']).stdout);
      expect(st.dials.filter((d: { state: string }) => d.state === 'up').length).toBe(2);
      expect(st.ecmp.ipv4.length).toBe(2);
    } finally {
      await lab.fault('isp-limit', 'off');
    }
    expect(owrt(['teardown', '--yes']).code).toBe(0);
    expect(await lab.sshOk(exportCmd)).toBe(original);
  }, 300_000);
});
