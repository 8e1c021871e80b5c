/**
 * Live progress over real SSH servers: router-side step markers arrive while the script is
 * still running (the round trip streams the script's output file), the script survives a
 * closed connection as before, the wait template reports dials as they come up, and Ctrl-C
 * says when the router reverts and exits 130.
 */
import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderWait } from '../../src/apply/script.js';
import type { Dial } from '../../src/plan/dials.js';
import { runScript } from '../../src/remote/run.js';
import type { Step } from '../../src/remote/steps.js';
import { connect, resolveTarget, type Transport } from '../../src/ssh/index.js';
import { canRunServers, makeClientKey, makeTempDir, startDropbear, startOpenSsh, type ClientKey, type SshServer } from '../helpers/ssh-servers.js';

const caps = canRunServers();
const root = resolve(import.meta.dirname, '..', '..');
const DRIVER = join(root, 'test/helpers/interrupt-driver.mjs');
const CLI = join(root, 'dist/cli.js');
const JSONFILTER = join(root, 'test/lab/router-root/usr/bin/jsonfilter');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Seen {
  step: Step;
  at: number;
}

function servers(kind: 'dropbear' | 'openssh') {
  const ctx = { server: undefined as unknown as SshServer, dir: '', key: undefined as unknown as ClientKey, kh: '' };
  beforeAll(async () => {
    ctx.dir = await makeTempDir(`owrt-ecmp-live-${kind}-`);
    ctx.key = await makeClientKey(ctx.dir, 'client');
    ctx.server = kind === 'dropbear' ? await startDropbear({ authorizedKeys: [ctx.key.publicLine] }) : await startOpenSsh({ authorizedKeys: [ctx.key.publicLine] });
    ctx.kh = join(ctx.dir, 'known_hosts');
    writeFileSync(ctx.kh, `[127.0.0.1]:${ctx.server.port} ${ctx.server.hostPublicKey}\n`);
  });
  afterAll(async () => {
    await ctx.server?.stop();
    if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
  });
  const open = (): Promise<Transport> =>
    connect(resolveTarget({ host: `127.0.0.1:${ctx.server.port}`, identity: ctx.key.file, knownHosts: ctx.kh, sshConfigFile: join(ctx.dir, 'none') }, { HOME: ctx.dir }));
  return { ctx, open };
}

const step = (name: string) => `printf '\\n@@owrt-ecmp:step %s@@\\n' '${name}'`;

for (const kind of ['dropbear', 'openssh'] as const) {
  describe.skipIf(!caps[kind])(`live progress over ${kind}`, () => {
    const { ctx, open } = servers(kind);

    it('a step marker arrives while the script still sleeps; sections come out without the markers', async () => {
      const t = await open();
      try {
        const seen: Seen[] = [];
        const start = Date.now();
        const script = [step('packages'), 'sleep 1.5', step('reload'), 'sleep 1', "printf '\\n@@owrt-ecmp:result@@\\nok\\n'"].join('\n');
        const res = await runScript(t, script, 'test', 30_000, (s) => seen.push({ step: s, at: Date.now() }));
        const end = Date.now();
        expect(seen.map((x) => x.step)).toEqual([
          { kind: 'step', name: 'packages' },
          { kind: 'step', name: 'reload' },
        ]);
        expect(end - seen[0]!.at, 'packages must arrive ~2.5 s before the end').toBeGreaterThan(2000);
        expect(seen[0]!.at - start).toBeLessThan(1000);
        expect(end - seen[1]!.at).toBeGreaterThan(700);
        expect(res.rc).toBe(0);
        expect([...res.sections]).toEqual([['result', 'ok']]);
      } finally {
        await t.close();
      }
    });

    it('the script keeps running when the connection closes after its first step', async () => {
      const marker = join(ctx.dir, `finished-${Date.now()}`);
      const t = await open();
      const first = new Promise<void>((res) => {
        void runScript(t, `${step('started')}\nsleep 1.5\ntouch '${marker}'`, 'test', 30_000, () => res()).catch(() => undefined);
      });
      await first;
      await t.close();
      expect(existsSync(marker)).toBe(false);
      for (let i = 0; i < 40 && !existsSync(marker); i++) await sleep(100);
      expect(existsSync(marker)).toBe(true);
    });

    it('the rendered wait loop reports dials as they come up, then the converged route', async () => {
      // fake ubus and ip answer from files the test changes over time; jsonfilter is the lab's
      const bin = join(ctx.dir, 'bin');
      mkdirSync(bin, { recursive: true });
      const dump = join(ctx.dir, 'dump.json');
      const route = join(ctx.dir, 'route');
      const exe = (name: string, body: string) => {
        writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
        chmodSync(join(bin, name), 0o755);
      };
      exe('ubus', `cat '${dump}'`);
      exe('ip', `cat '${route}'`);
      if (!existsSync(join(bin, 'jsonfilter'))) symlinkSync(JSONFILTER, join(bin, 'jsonfilter'));
      const up = (names: string[]) =>
        writeFileSync(dump, JSON.stringify({ interface: ['wan', 'vwan2'].map((n) => ({ interface: n, up: names.includes(n) })) }));
      up([]);
      writeFileSync(route, '');
      const dials = [{ iface: 'wan' }, { iface: 'vwan2' }] as Dial[];
      const t = await open();
      try {
        const seen: Seen[] = [];
        const done = runScript(t, `PATH='${bin}':$PATH\n${renderWait(dials, 20, { metric: 10, base: 3000 })}`, 'wait', 30_000, (s) => seen.push({ step: s, at: Date.now() }));
        await sleep(1200);
        up(['wan']);
        await sleep(1500);
        up(['wan', 'vwan2']);
        await sleep(1500);
        writeFileSync(route, 'default metric 10\n\tnexthop dev pppoe-wan weight 1\n\tnexthop dev pppoe-vwan2 weight 1\n');
        const res = await done;
        expect(seen.map((x) => x.step)).toEqual([
          { kind: 'dials', up: 0, total: 2 },
          { kind: 'dials', up: 1, total: 2 },
          { kind: 'dials', up: 2, total: 2 },
          { kind: 'step', name: 'route converged' },
        ]);
        expect(seen[1]!.at - seen[0]!.at).toBeGreaterThan(800);
        expect(seen[2]!.at - seen[1]!.at).toBeGreaterThan(800);
        expect(res.sections.get('waited')).toMatch(/^\d+ 2$/);
      } finally {
        await t.close();
      }
    });
  });
}

describe.skipIf(!caps.dropbear)('Ctrl-C during an apply (real SSH, the built modules)', () => {
  const { ctx } = servers('dropbear');

  function drive(script: string): { stderr: () => string; exited: Promise<number | null>; pid: number; when: (re: RegExp) => Promise<void> } {
    const file = join(ctx.dir, `script-${Date.now()}.sh`);
    writeFileSync(file, script);
    const child = spawn(process.execPath, [DRIVER, `root@127.0.0.1:${ctx.server.port}`, ctx.key.file, ctx.kh, file], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: ctx.dir, NO_COLOR: '1', TZ: 'UTC' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    const waiters: Array<{ re: RegExp; res: () => void }> = [];
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      for (const w of waiters) if (w.re.test(err)) w.res();
    });
    const exited = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    const when = (re: RegExp) =>
      new Promise<void>((res, rej) => {
        if (re.test(err)) return res();
        waiters.push({ re, res });
        setTimeout(() => rej(new Error(`no ${re} within 15 s: ${err}`)), 15_000);
      });
    return { stderr: () => err, exited, pid: child.pid as number, when };
  }

  it('once the rollback is armed: says when the router reverts (its armed time + timeout) and exits 130', async () => {
    const epochFile = join(ctx.dir, 'armed-at');
    const d = drive(`t=$(date +%s); echo "$t" >'${epochFile}'\nprintf '\\n@@owrt-ecmp:step armed %s 75@@\\n' "$t"\nsleep 20`);
    await d.when(/router: rollback armed: the router reverts at \d\d:\d\d:\d\d unless confirmed/);
    process.kill(d.pid, 'SIGINT');
    expect(await d.exited, d.stderr()).toBe(130);
    const { readFileSync } = await import('node:fs');
    const revert = new Date((Number(readFileSync(epochFile, 'utf8')) + 75) * 1000).toISOString().slice(11, 19);
    expect(d.stderr()).toContain(`owrt-ecmp: interrupted: the router reverts at ${revert} unless confirmed; \`owrt-ecmp status\` shows it`);
    expect(d.stderr()).not.toMatch(/unexpected error/);
  });

  it('sent but not yet armed: says the router finishes and reverts within the timeout', async () => {
    const d = drive(`sleep 20`);
    await d.when(/driver: sent/);
    await sleep(300);
    process.kill(d.pid, 'SIGINT');
    expect(await d.exited, d.stderr()).toBe(130);
    expect(d.stderr()).toContain('owrt-ecmp: interrupted: the router finishes the change on its own and, unconfirmed, reverts it within 60 s');
  });
});

describe('Ctrl-C before anything was sent (the real CLI)', () => {
  it('setup interrupted while connecting: "nothing was changed", exit 130', async () => {
    // a server that accepts TCP and never speaks SSH: the CLI waits in the handshake
    const held: Socket[] = [];
    const srv = createServer((sock) => held.push(sock));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    const dir = await makeTempDir('owrt-ecmp-live-cli-');
    try {
      const child = spawn(process.execPath, [CLI, 'setup', '--dials', '2', '--yes', '--host', `127.0.0.1:${port}`, '--known-hosts', join(dir, 'kh')], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      const exited = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
      for (let i = 0; i < 50 && held.length === 0; i++) await sleep(100);
      expect(held.length).toBe(1);
      child.kill('SIGINT');
      expect(await exited, err).toBe(130);
      expect(err).toBe('› probing 127.0.0.1\nowrt-ecmp: interrupted: nothing was changed\n');
    } finally {
      for (const s of held) s.destroy();
      srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
