/**
 * What a person sees on a real terminal: the built CLI under a pty (test/helpers/pty.ts)
 * against the OpenWrt stand-in (test/helpers/fake-router.ts) over real SSH, inside the
 * router's network namespace. `setup` shows the router's steps as one spinner line redrawn
 * in place and left clean, where the same run piped prints plain lines without a single
 * escape sequence; `status --watch` redraws the screen with the dial's row and rates, and
 * Ctrl-C typed on the terminal ends it with 0 and the terminal as it was.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRouter, type FakeRouter } from '../helpers/fake-router.js';
import { hasScript, onPty, screenLines } from '../helpers/pty.js';
import { canRunServers, makeTempDir } from '../helpers/ssh-servers.js';

const CLI = resolve(import.meta.dirname, '..', '..', 'dist', 'cli.js');
const caps = canRunServers();
const COLS = 80;
const FRAME = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;
// the stand-in has no procd to run the dial monitor (on by default): without it, not asked for
const SETUP = ['--dials', '1', '--yes', '--rollback-timeout', '30', '--wait', '10', '--health', 'off'];

let tty: FakeRouter;
let piped: FakeRouter;
let home = '';
const env = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, NO_COLOR: '1', LANG: 'C.UTF-8', TZ: 'UTC', TERM: 'xterm' });
const inRouter = (r: FakeRouter, args: string[]): string[] => ['ip', 'netns', 'exec', r.ns, process.execPath, CLI, ...args, ...r.ssh];

beforeAll(async () => {
  if (!caps.dropbear || !hasScript) return;
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  home = await makeTempDir('owrt-ecmp-terminal-');
  // two routers in the same starting state: one run on a terminal, the same run piped
  tty = await startFakeRouter('tty', { reloadSeconds: 1 });
  piped = await startFakeRouter('pipe', { reloadSeconds: 1 });
}, 30_000);

afterAll(async () => {
  // each stops even if the other cannot: a failed run must not leave a namespace behind
  const stopped = await Promise.allSettled([tty?.stop(), piped?.stop()]);
  if (home) rmSync(home, { recursive: true, force: true });
  for (const s of stopped) if (s.status === 'rejected') throw s.reason;
});

/** The spinner frames drawn: each `\r\x1b[K` followed by a frame, up to the next control character. */
function frames(out: string): string[] {
  return [...out.matchAll(/\r\x1b\[K([^\r\n\x1b]*)/g)].map((m) => m[1] ?? '').filter((f) => FRAME.test(f[0] ?? ''));
}

/** The step each frame shows, consecutive repeats folded. */
function shownSteps(fs: string[]): string[] {
  const steps = fs.map((f) => /^. \w+: (.*) \(\d+ s\)$/.exec(f)?.[1]).filter((s): s is string => s !== undefined);
  return steps.filter((s, i) => s !== steps[i - 1]);
}

/** The router's steps of this setup as a person reads them, the revert time masked. */
const STEPS = [
  'rollback armed: the router reverts at HH:MM:SS unless confirmed',
  'committing the configuration',
  'writing the router-side files',
  'reloading network and firewall',
  'rebuilding the routes',
  '1/1 dials up',
  'the ECMP route holds every dial that is up',
];
const masked = (steps: string[]): string[] => steps.map((s) => s.replace(/\d\d:\d\d:\d\d/, 'HH:MM:SS'));
/** A spinner frame cut to the terminal's width shows a step's start and '…'. */
const uncut = (shown: string[]): string[] => shown.map((s) => (s.endsWith('…') ? (STEPS.find((x) => x.startsWith(s.slice(0, -1))) ?? s) : s));

describe.skipIf(!caps.dropbear || !hasScript)('setup on a terminal and off it (real CLI, OpenWrt stand-in, real SSH)', () => {
  it('on a terminal: the router steps on one spinner line redrawn in place, never wider than the terminal, left clean', async () => {
    const p = onPty(inRouter(tty, ['setup', ...SETUP]), { env: env(), cols: COLS, rows: 24, timeoutMs: 60_000 });
    const { code, out } = await p.done;
    expect([0, 8], out).toContain(code);
    const fs = frames(out);
    expect(uncut(masked(shownSteps(fs)))).toEqual(STEPS);
    // a wider frame would wrap, and the next \r would leave it behind as a stale row
    expect(fs.filter((f) => [...f].length >= COLS)).toEqual([]);
    // redrawn in place, not only once per step: the frame turns while the 1 s reload runs
    const reloading = fs.filter((f) => f.includes('reloading network and firewall'));
    expect(new Set(reloading.map((f) => f[0])).size).toBeGreaterThan(3);
    // what stays on the screen: the revert time above the spinner, no spinner remnant anywhere
    const screen = screenLines(out, COLS);
    expect(screen.filter((l) => FRAME.test(l)), screen.join('\n')).toEqual([]);
    const at = (re: RegExp) => screen.findIndex((l) => re.test(l));
    expect(at(/^› applying \(automatic rollback in 30 s unless confirmed\)$/)).toBeGreaterThan(-1);
    expect(at(/^ {2}router: rollback armed: the router reverts at \d\d:\d\d:\d\d unless confirmed$/)).toBe(at(/^› applying/) + 1);
    expect(at(/^› confirming over a new SSH connection$/)).toBe(at(/^ {2}router: rollback armed/) + 1);
    expect(at(/^› confirmed; 1\/1 dial\(s\) up after \d+ s$/)).toBe(at(/^› confirming/) + 1);
    // the other steps are only ever on the spinner line, never a line of their own
    expect(screen.filter((l) => l.startsWith('  router: '))).toHaveLength(1);
  }, 60_000);

  it('piped: the same run prints the same steps as plain lines, without a single escape sequence or carriage return', async () => {
    const child = spawn('ip', inRouter(piped, ['setup', ...SETUP]).slice(1), { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    const { code, stdout, stderr } = await collect(child);
    expect([0, 8], stderr).toContain(code);
    expect(JSON.stringify(stdout + stderr)).not.toMatch(/\\u001b|\\r/);
    const plain = stderr.split('\n').filter((l) => l.startsWith('  router: ')).map((l) => l.slice('  router: '.length));
    expect(masked(plain)).toEqual(STEPS);
    expect(stderr).toMatch(/^› confirmed; 1\/1 dial\(s\) up after \d+ s$/m);
  }, 60_000);
});

function collect(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((res) => child.once('close', (code) => res({ code, stdout, stderr })));
}

const CLEAR = '\x1b[H\x1b[2J';
// `stty -g` before and after the watch (after the terminal's own "^C" echo)
const STTY_STATE = /([0-9a-f]+(?::[0-9a-f]+){10,})\r\n/g;

// after the setup above (tests in a file run in order): the stand-in has its dial
describe.skipIf(!caps.dropbear || !hasScript)('status --watch on a terminal (real CLI, the stand-in set up above)', () => {
  it('redraws the screen with the dial, its rates, ECMP membership and new events; Ctrl-C exits 0, the terminal as it was', async () => {
    // traffic out of the dial's device, so its TX rate is not zero (a fixed neighbour: nothing answers ARP)
    execFileSync('ip', ['-n', tty.ns, 'neigh', 'replace', '100.64.255.1', 'lladdr', '02:00:00:00:00:01', 'dev', 'pppoe-wan']);
    const ping = spawn('ip', ['netns', 'exec', tty.ns, 'busybox', 'ping', '-q', '-i', '0.2', '-s', '1200', '100.64.255.1'], { stdio: 'ignore' });
    try {
      const p = onPty(inRouter(tty, ['status', '--watch', '--interval', '1']), { env: env(), cols: 120, rows: 40, before: ['stty -g'], after: ['stty -g'] });
      await p.expect(/events since the watch began:\r\n {2}none\r\n/);
      tty.sh("logger -t owrt-ecmp -p daemon.notice -- 'rebuilt routes: wan (terminal test)'");
      await p.expect(/rebuilt routes: wan \(terminal test\)\r\n/);
      // one more whole screen after the one that showed the event
      await p.expect(/\x1b\[H\x1b\[2J[^]*events since the watch began:\r\n.*\r\n/);
      p.send('\x03');
      const { code, out } = await p.done;
      expect(code, out).toBe(0);
      const screens = out.split(CLEAR).slice(1);
      expect(screens.length).toBeGreaterThanOrEqual(3);
      const rows = screens.map((s) => s.split('\r\n').find((l) => /^1 +wan /.test(l))?.split(/ {2,}/));
      for (const r of rows) expect(r?.slice(0, 6), screens.join('\n---\n')).toEqual(['1', 'wan', 'pppoe-wan', 'up', '100.64.0.2', 'v4']);
      expect(rows[0]?.slice(6)).toEqual(['-', '-']); // no earlier sample yet
      for (const r of rows.slice(1)) {
        expect(r?.[6]).toMatch(/^\d+(\.\d)? (bit|kbit|Mbit)\/s$/);
        expect(r?.[7]).toMatch(/^\d+\.\d kbit\/s$/); // ~5 × 1242 bytes a second
      }
      expect(screens[0]).toMatch(/^owrt-ecmp status --watch {2}127\.0\.0\.1 {2}\d\d:\d\d:\d\d UTC {2}every 1 s, Ctrl-C to stop\r\n/);
      expect(screens.at(-1)).toMatch(/\r\nhealthy\r\n/);
      expect(screens.at(-1)).toMatch(/events since the watch began:\r\n {2}.*daemon\.notice owrt-ecmp: rebuilt routes: wan \(terminal test\)\r\n/);
      // the terminal as it was: same settings after as before, no hidden cursor or other screen left behind
      const states = [...out.matchAll(STTY_STATE)].map((m) => m[1]);
      expect(states, JSON.stringify(out.slice(-300))).toHaveLength(2);
      expect(states[1]).toBe(states[0]);
      const last = (s: string) => out.lastIndexOf(s);
      expect(last('\x1b[?25l') < last('\x1b[?25h') || last('\x1b[?25l') === -1).toBe(true);
      expect(last('\x1b[?1049h') < last('\x1b[?1049l') || last('\x1b[?1049h') === -1).toBe(true);
    } finally {
      ping.kill('SIGTERM');
    }
  }, 60_000);
});
