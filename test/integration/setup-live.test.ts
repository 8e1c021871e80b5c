/**
 * The real CLI's `setup` against an OpenWrt stand-in (test/helpers/fake-router.ts): the
 * router's steps reach the terminal while the apply still runs, and Ctrl-C once the
 * rollback is armed says when the router reverts, exits 130, and the router does revert
 * then. The CLI runs inside the router's network namespace (`ip netns exec`, which execs
 * node: the child's PID is the CLI's), not on a terminal, so progress comes as plain lines.
 * Once the router is set up, --json on setup with nothing to do and on hotplug is one document.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRouter, type FakeRouter } from '../helpers/fake-router.js';
import { schemaErrors, undocumentedFields } from '../helpers/schemas.js';
import { canRunServers, makeTempDir } from '../helpers/ssh-servers.js';

const CLI = resolve(import.meta.dirname, '..', '..', 'dist', 'cli.js');
const RELOAD_S = 3;
// the stand-in has no procd: the dial monitor (on by default, --health redial) could not start,
// and the apply's bounded wait for it (15 s) would eat the 30 s rollback window these tests use
const NO_MONITOR = ['--health', 'off'];
const caps = canRunServers();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let router: FakeRouter;
let home = '';

beforeAll(async () => {
  if (!caps.dropbear) return;
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  home = await makeTempDir('owrt-ecmp-setup-live-');
  router = await startFakeRouter('setup', { reloadSeconds: RELOAD_S });
}, 30_000);

afterAll(async () => {
  await router?.stop();
});

interface Line {
  at: number;
  text: string;
}

function runSetup(args: string[], command = 'setup') {
  const child = spawn('ip', ['netns', 'exec', router.ns, process.execPath, CLI, command, ...args, ...router.ssh], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, NO_COLOR: '1', LANG: 'C.UTF-8', TZ: 'UTC' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Line[] = [];
  let partial = '';
  let stdout = '';
  const waiters: Array<{ re: RegExp; res: () => void }> = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) lines.push({ at: Date.now(), text });
    for (const w of waiters) if (lines.some((l) => w.re.test(l.text))) w.res();
  });
  const exited = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
  const when = (re: RegExp, ms = 30_000) =>
    new Promise<void>((res, rej) => {
      if (lines.some((l) => re.test(l.text))) return res();
      waiters.push({ re, res });
      setTimeout(() => rej(new Error(`no ${re} within ${ms} ms:\n${lines.map((l) => l.text).join('\n')}`)), ms);
    });
  return { child, lines, exited, when, stderr: () => `${lines.map((l) => l.text).join('\n')}\n${partial}`, stdout: () => stdout };
}

describe.skipIf(!caps.dropbear)('setup on an OpenWrt stand-in: live steps and Ctrl-C', () => {
  it('Ctrl-C once the rollback is armed: says when the router reverts, exits 130, and the router reverts then', async () => {
    const run = runSetup(['--dials', '1', '--yes', ...NO_MONITOR, '--rollback-timeout', '30', '--wait', '10']);
    await run.when(/router: rollback armed: the router reverts at \d\d:\d\d:\d\d unless confirmed/);
    run.child.kill('SIGINT');
    expect(await run.exited, run.stderr()).toBe(130);
    const state = router.written('/tmp/owrt-ecmp-rollback/state') ?? '';
    const armed = /^armed (\d+) 30$/m.exec(state);
    expect(armed, state).not.toBeNull();
    const revertAt = (Number(armed![1]) + 30) * 1000;
    const hhmmss = new Date(revertAt).toISOString().slice(11, 19);
    expect(run.stderr()).toContain(`owrt-ecmp: interrupted: the router reverts at ${hhmmss} unless confirmed; \`owrt-ecmp status\` shows it\n`);
    expect(run.stderr()).not.toMatch(/unexpected error/);
    // nobody confirms: the watchdog restores the previous configuration at that time
    while (!(router.written('/tmp/owrt-ecmp-rollback/state') ?? '').startsWith('rolledback') && Date.now() < revertAt + 30_000) await sleep(500);
    const after = router.written('/tmp/owrt-ecmp-rollback/state') ?? '';
    expect(after).toMatch(/^rolledback \d+ not confirmed within 30 s/);
    expect(Number(/^rolledback (\d+)/.exec(after)![1]) * 1000).toBeGreaterThanOrEqual(revertAt);
    expect(router.written('/etc/config/network')).not.toContain("option metric '41'");
  }, 90_000);

  it('the watchdog claims the change as the confirmation starts: the tool reports the rollback, never "confirmed"', async () => {
    const run = runSetup(['--dials', '1', '--yes', ...NO_MONITOR, '--rollback-timeout', '30', '--wait', '10']);
    await run.when(/router: rollback armed: the router reverts at/);
    // the deadline fires first: the watchdog holds the claim and its restore is under way when
    // the confirmation arrives (what restore.sh does before it restores, done by hand)
    router.sh('mkdir /tmp/owrt-ecmp-rollback/claim');
    await run.when(/confirming over a new SSH connection/);
    // the restore finishes while the confirmation runs (before the claim, it went on to "confirmed")
    router.sh('(sleep 3; sh /tmp/owrt-ecmp-rollback/restore.sh "deadline (test)" claimed) </dev/null >/dev/null 2>&1 &');
    expect(await run.exited, run.stderr()).toBe(10);
    expect(run.stderr()).toMatch(/the router rolled the change back: rolledback \d+ deadline \(test\)/);
    expect(run.stderr()).not.toMatch(/› confirmed/);
    expect(router.written('/tmp/owrt-ecmp-rollback/state')).toMatch(/^rolledback \d+ deadline \(test\)/);
    expect(router.written('/etc/config/network')).not.toContain("option metric '41'");
  }, 90_000);

  it('not a terminal: each router step is a line, printed while the apply still runs', async () => {
    const run = runSetup(['--dials', '1', '--yes', ...NO_MONITOR, '--rollback-timeout', '30', '--wait', '10']);
    const code = await run.exited;
    expect([0, 8], run.stderr()).toContain(code);
    const router = run.lines.filter((l) => l.text.startsWith('  router: '));
    const texts = router.map((l) => l.text.slice('  router: '.length));
    expect(texts.slice(0, 5)).toEqual([
      expect.stringMatching(/^rollback armed: the router reverts at \d\d:\d\d:\d\d unless confirmed$/),
      'committing the configuration',
      'writing the router-side files',
      'reloading network and firewall',
      'rebuilding the routes',
    ]);
    expect(texts, run.stderr()).toContain('1/1 dials up');
    // "reloading" was shown a whole reload (RELOAD_S) before the next step: it came live
    const reload = router.find((l) => l.text.endsWith('reloading network and firewall'))!;
    const next = router[router.indexOf(reload) + 1]!;
    expect(next.at - reload.at).toBeGreaterThan((RELOAD_S - 0.7) * 1000);
    expect(run.stderr()).toMatch(/› confirming over a new SSH connection/);
    expect(router.at(0)!.at).toBeLessThan(run.lines.find((l) => l.text.includes('confirming'))!.at);
  }, 90_000);

  it('--json on the set-up router: setup with nothing to do and hotplug each print one change document, nothing else', async () => {
    const again = runSetup(['--dials', '1', '--yes', ...NO_MONITOR, '--json', '--rollback-timeout', '30', '--wait', '10']);
    expect(await again.exited, again.stderr()).toBe(0);
    const same = JSON.parse(again.stdout()) as Record<string, unknown>;
    expect(same).toMatchObject({ command: 'setup', dryRun: false, changes: false, applied: false, plan: { summary: { headline: 'no changes', empty: true } } });
    expect(schemaErrors('change', same)).toBe('');
    const hot = runSetup(['--yes', '--json', '--wait', '10'], 'hotplug');
    expect([0, 8], hot.stderr()).toContain(await hot.exited);
    // one document: no human plan or status before or after it
    expect(hot.stdout(), hot.stderr()).toMatch(/^\{\n[^]*\n\}\n$/);
    const doc = JSON.parse(hot.stdout()) as { status: { configured: boolean; dials: Array<{ interface: string }> } };
    expect(doc).toMatchObject({ command: 'hotplug', dryRun: false, applied: true });
    expect(doc.status.configured).toBe(true);
    expect(doc.status.dials.map((d) => d.interface)).toEqual(['wan']);
    expect(schemaErrors('change', doc)).toBe('');
    expect(undocumentedFields('change', doc)).toEqual([]);
  }, 90_000);

  it('status --watch after the setup: the dial, its rates and ECMP membership, and only the log lines since the watch began', async () => {
    const child = spawn('ip', ['netns', 'exec', router.ns, process.execPath, CLI, 'status', '--watch', '--interval', '1', ...router.ssh], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    const records = () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { dials: Array<Record<string, unknown>>; events: string[] });
    const until = async (n: number) => {
      for (let i = 0; i < 100 && records().length < n; i++) await sleep(100);
      expect(records().length, err).toBeGreaterThanOrEqual(n);
    };
    expect(router.sh('logread')).toMatch(/owrt-ecmp/); // the setup logged: those lines are not events of this watch
    await until(1);
    router.sh("logger -t owrt-ecmp -p daemon.notice -- 'rebuilt routes: wan (test event)'");
    await until(3);
    child.kill('SIGINT');
    expect(await exited, err).toBe(0);
    const all = records();
    expect(all[0]!.events).toEqual([]);
    expect(all.at(-1)!.events).toEqual([expect.stringMatching(/daemon\.notice owrt-ecmp: rebuilt routes: wan \(test event\)$/)]);
    expect(all.at(-1)!.dials).toEqual([
      { dial: 1, interface: 'wan', device: 'pppoe-wan', state: 'up', ipv4: '100.64.0.2', inIpv4Ecmp: true, inIpv6Ecmp: false, rxRate: expect.any(Number), txRate: expect.any(Number) },
    ]);
    expect(all[0]!.dials[0]).toMatchObject({ rxRate: null, txRate: null });
  }, 60_000);
});
