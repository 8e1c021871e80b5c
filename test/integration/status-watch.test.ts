/**
 * `status --watch` through the real built CLI, against a real dropbear in a private network
 * namespace that also holds a PPP-named device: `pppoe-wan` is a veth whose peer sits in a
 * second namespace, with BusyBox ping running across it, so the device's kernel counters move
 * as a dial's would. The CLI runs in the same namespace (`ip netns exec`) and is not a
 * terminal, so it prints JSON lines.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunServers, makeClientKey, makeTempDir, startDropbear, type SshServer } from '../helpers/ssh-servers.js';

const CLI = resolve(import.meta.dirname, '..', '..', 'dist', 'cli.js');
const NS = `ux-live-watch${process.pid}`;
const PEER = `ux-live-peer${process.pid}`;
const caps = canRunServers();

let server: SshServer;
let dir = '';
let ssh: string[] = [];
let ping: ChildProcess | undefined;

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });

beforeAll(async () => {
  if (!caps.dropbear) return;
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  ip('netns', 'add', NS);
  ip('netns', 'add', PEER);
  ip('-n', NS, 'link', 'set', 'lo', 'up');
  ip('-n', NS, 'link', 'add', 'pppoe-wan', 'type', 'veth', 'peer', 'name', 'wanpeer', 'netns', PEER);
  ip('-n', NS, 'addr', 'add', '10.77.0.1/30', 'dev', 'pppoe-wan');
  ip('-n', PEER, 'addr', 'add', '10.77.0.2/30', 'dev', 'wanpeer');
  ip('-n', NS, 'link', 'set', 'pppoe-wan', 'up');
  ip('-n', PEER, 'link', 'set', 'wanpeer', 'up');
  ping = spawn('ip', ['netns', 'exec', NS, 'busybox', 'ping', '-q', '-i', '0.2', '-s', '1200', '10.77.0.2'], { stdio: 'ignore' });
  dir = await makeTempDir('owrt-ecmp-watch-');
  const key = await makeClientKey(dir, 'client');
  server = await startDropbear({ authorizedKeys: [key.publicLine], netns: NS });
  const kh = join(dir, 'known_hosts');
  writeFileSync(kh, `[127.0.0.1]:${server.port} ${server.hostPublicKey}\n`);
  ssh = ['--host', `root@127.0.0.1:${server.port}`, '--identity', key.file, '--known-hosts', kh];
});

afterAll(async () => {
  if (ping?.pid) ping.kill('SIGTERM');
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  for (const ns of [NS, PEER]) spawnQuiet('ip', ['netns', 'del', ns]);
});

function spawnQuiet(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

interface Watch {
  child: ChildProcess;
  lines: string[];
  stderr: () => string;
  exited: Promise<number | null>;
  /** resolves once `n` complete lines are on stdout */
  lineCount: (n: number) => Promise<void>;
}

/** The CLI in the server's namespace; `ip netns exec` execs node, so child.pid is the CLI itself. */
function startWatch(extra: string[]): Watch {
  const child = spawn('ip', ['netns', 'exec', NS, process.execPath, CLI, 'status', '--watch', ...extra, ...ssh], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, NO_COLOR: '1', LANG: 'C.UTF-8' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const lines: string[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    const parts = out.split('\n');
    out = parts.pop() ?? '';
    lines.push(...parts);
    for (const w of waiters) if (lines.length >= w.n) w.resolve();
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  const lineCount = (n: number) =>
    new Promise<void>((res, rej) => {
      if (lines.length >= n) return res();
      const t = setTimeout(() => rej(new Error(`only ${lines.length} line(s) after 20 s; stderr: ${err}`)), 20_000);
      waiters.push({ n, resolve: () => (clearTimeout(t), res()) });
      void exited.then(() => rej(new Error(`the watch ended after ${lines.length} line(s); stderr: ${err}`)));
    });
  return { child, lines, stderr: () => err, exited, lineCount };
}

interface Record {
  schemaVersion: number;
  time: string;
  configured: boolean;
  dials: unknown[];
  devices: Array<{ dev: string; rxBytes: number; txBytes: number; rxRate: number | null; txRate: number | null }>;
  problems: string[];
  events: string[];
}

describe.skipIf(!caps.dropbear)('status --watch (real CLI, dropbear, a PPP-named device with traffic)', () => {
  it('not a terminal: one JSON object per interval with device rates; Ctrl-C exits 0', async () => {
    const w = startWatch(['--interval', '1']);
    await w.lineCount(3);
    w.child.kill('SIGINT');
    expect(await w.exited, w.stderr()).toBe(0);
    const records = w.lines.map((l) => JSON.parse(l) as Record);
    expect(records.length).toBeGreaterThanOrEqual(3);
    for (const r of records) {
      expect(r).toMatchObject({ schemaVersion: 1, configured: false, dials: [] });
      expect(r.problems.join('\n')).toMatch(/not set up/);
    }
    const wan = records.map((r) => r.devices.find((d) => d.dev === 'pppoe-wan'));
    expect(wan[0]).toMatchObject({ rxRate: null, txRate: null }); // no earlier sample yet
    // the ping sends ~5 × 1228 bytes a second each way: the rate is that, give or take
    for (const d of wan.slice(1)) {
      expect(d?.txRate).toBeGreaterThan(2000);
      expect(d?.txRate).toBeLessThan(60_000);
      expect(d?.rxRate).toBeGreaterThan(2000);
    }
    expect(Date.parse(records[2]!.time) - Date.parse(records[0]!.time)).toBeGreaterThanOrEqual(1500);
    expect(w.stderr()).toBe('');
  });

  it('one SSH connection for the whole watch (dropbear logs one session)', async () => {
    const before = (server.log().match(/Pubkey auth succeeded/g) ?? []).length;
    const w = startWatch(['--interval', '1', '--verbose']);
    await w.lineCount(3);
    w.child.kill('SIGINT');
    expect(await w.exited).toBe(0);
    expect((server.log().match(/Pubkey auth succeeded/g) ?? []).length - before).toBe(1);
  });

  it('a lost connection ends the watch with the connect error code (3)', async () => {
    const w = startWatch(['--interval', '1']);
    await w.lineCount(2);
    // the session's dropbear child (not the listener) carries the connection: kill those, by PID
    const pids = execFileSync('ip', ['netns', 'pids', NS], { encoding: 'utf8' }).split(/\s+/).filter(Boolean).map(Number);
    const sessions = pids.filter((p) => p !== server.pid && readComm(p) === 'dropbear');
    expect(sessions.length).toBeGreaterThan(0);
    for (const p of sessions) process.kill(p, 'SIGKILL');
    expect(await w.exited).toBe(3);
    expect(w.stderr()).toMatch(/owrt-ecmp: connection lost to root@127\.0\.0\.1:\d+/);
  });
});

function readComm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
