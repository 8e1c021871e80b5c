/**
 * "ssh like ssh" against real dropbear and OpenSSH sshd on loopback: hosts found only through an
 * Included config (with and without OpenSSH's `ssh` on PATH), Match through `ssh -G`, ProxyCommand,
 * UserKnownHostsFile / StrictHostKeyChecking / HashKnownHosts, and the connect timeout.
 * Terminal prompts are in ssh-prompts.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectError, HostKeyError } from '../../src/errors.js';
import { connect, resolveTarget, type TargetOptions } from '../../src/ssh/index.js';
import { canRunServers, makeClientKey, makeTempDir, silentServer, startDropbear, startOpenSsh, type ClientKey, type SshServer } from '../helpers/ssh-servers.js';

const caps = canRunServers();
const PATH_WITH_SSH = process.env.PATH ?? '/usr/bin:/bin';

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

for (const kind of ['dropbear', 'openssh'] as const) {
  describe.skipIf(!(kind === 'dropbear' ? caps.dropbear : caps.openssh))(`ssh config and host keys like ssh (${kind})`, () => {
    let server: SshServer;
    let dir: string;
    let home: string;
    let key: ClientKey;
    let emptyBin: string;

    beforeAll(async () => {
      dir = await makeTempDir(`owrt-ecmp-like-ssh-${kind}-`);
      home = join(dir, 'home');
      emptyBin = join(dir, 'empty-bin');
      mkdirSync(join(home, '.ssh', 'conf.d'), { recursive: true, mode: 0o700 });
      mkdirSync(emptyBin);
      key = await makeClientKey(dir, 'client');
      server = kind === 'dropbear' ? await startDropbear({ authorizedKeys: [key.publicLine] }) : await startOpenSsh({ authorizedKeys: [key.publicLine] });
    });
    afterAll(async () => {
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    const env = (withSsh: boolean): NodeJS.ProcessEnv => ({ HOME: home, PATH: withSsh ? PATH_WITH_SSH : emptyBin });
    /** Write `text` as the main config, resolve `host` through it and run one command. */
    async function runVia(config: string, host: string, withSsh: boolean, over: Partial<TargetOptions> = {}): Promise<string> {
      const file = join(home, '.ssh', `config-${Math.random().toString(36).slice(2)}`);
      writeFileSync(file, config);
      const t = await connect(resolveTarget({ host, sshConfigFile: file, ...over }, env(withSsh)));
      try {
        return (await t.exec('echo reached')).stdout.toString();
      } finally {
        await t.close();
      }
    }
    const block = (name: string, kh: string, extra: string[] = []): string =>
      [`Host ${name}`, '  HostName 127.0.0.1', `  Port ${server.port}`, `  IdentityFile ${key.file}`,
        `  UserKnownHostsFile ${kh}`, '  StrictHostKeyChecking accept-new', ...extra, ''].join('\n');

    it('reaches a host defined only in an Included file, through ssh -G', async () => {
      writeFileSync(join(home, '.ssh', 'conf.d', 'g.conf'), block('incl-g', join(dir, 'kh-incl-g')));
      expect(await runVia(`Include ${join(home, '.ssh', 'conf.d', '*.conf')}\n`, 'incl-g', true)).toBe('reached\n');
    });

    it('reaches a host defined only in an Included file without ssh on PATH (relative Include, glob)', async () => {
      writeFileSync(join(home, '.ssh', 'conf.d', 'f.conf'), block('incl-f', join(dir, 'kh-incl-f')));
      expect(await runVia('Include conf.d/*.conf\n', 'incl-f', false)).toBe('reached\n');
    });

    it('honours Match (with exec) through ssh -G', async () => {
      const cfg = [`Match originalhost matchme exec "test -d ${home}"`, ...block('x', join(dir, 'kh-match')).split('\n').slice(1)].join('\n');
      expect(await runVia(cfg, 'matchme', true)).toBe('reached\n');
    });

    it('runs ProxyCommand through /bin/sh and speaks SSH over its stdio', async () => {
      const relay = join(dir, 'relay.mjs');
      const marker = join(dir, `relay-${kind}.log`);
      writeFileSync(relay, [
        "import { connect } from 'node:net';",
        "import { appendFileSync } from 'node:fs';",
        'const [marker, host, port] = process.argv.slice(2);',
        'appendFileSync(marker, `${host} ${port}\\n`);',
        "const s = connect(Number(port), '127.0.0.1');",
        'process.stdin.pipe(s);',
        's.pipe(process.stdout);',
        "s.on('close', () => process.exit(0));",
        '',
      ].join('\n'));
      // the HostName does not resolve: only the relay can get us there
      const cfg = block('via-proxy', join(dir, 'kh-proxy'), [`  ProxyCommand ${process.execPath} ${relay} ${marker} %h %p`])
        .replace('HostName 127.0.0.1', 'HostName router.proxy.invalid');
      for (const withSsh of [true, false]) {
        expect(await runVia(cfg, 'via-proxy', withSsh)).toBe('reached\n');
      }
      expect(readFileSync(marker, 'utf8')).toBe(`router.proxy.invalid ${server.port}\n`.repeat(2));
    });

    it('accept-new with HashKnownHosts yes records a hashed entry in the first UserKnownHostsFile', async () => {
      const first = join(dir, 'kh-hash-1');
      const second = join(dir, 'kh-hash-2');
      const cfg = block('hashme', `${first} ${second}`, ['  HashKnownHosts yes']);
      expect(await runVia(cfg, 'hashme', true)).toBe('reached\n');
      const text = readFileSync(first, 'utf8');
      expect(text).toMatch(/^\|1\|\S+\|\S+ \S+ \S+\n$/);
      expect(text).not.toContain('127.0.0.1');
      // OpenSSH finds the entry we wrote
      expect(execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${server.port}`, '-f', first]).toString()).toContain(server.hostPublicKey.split(' ')[1]);
      // now known: StrictHostKeyChecking yes lets it through, nothing is added
      expect(await runVia(cfg.replace('accept-new', 'yes'), 'hashme', false)).toBe('reached\n');
      expect(readFileSync(first, 'utf8')).toBe(text);
    });

    it('reads every UserKnownHostsFile: a key only in the second file is known', async () => {
      const second = join(dir, 'kh-second');
      writeFileSync(second, `[127.0.0.1]:${server.port} ${server.hostPublicKey}\n`);
      const cfg = block('second', `${join(dir, 'kh-empty')} ${second}`).replace('accept-new', 'yes');
      for (const withSsh of [true, false]) expect(await runVia(cfg, 'second', withSsh)).toBe('reached\n');
    });

    it('refuses an unknown key under StrictHostKeyChecking yes', async () => {
      const cfg = block('strict', join(dir, 'kh-strict')).replace('accept-new', 'yes');
      const err = await rejection(runVia(cfg, 'strict', true));
      expect(err).toBeInstanceOf(HostKeyError);
      expect(err.message).toMatch(/not known and StrictHostKeyChecking is yes/);
      expect((err as HostKeyError).hint).toMatch(/dropbearkey -y -f \/etc\/dropbear\/dropbear_ed25519_host_key/);
    });

    it('refuses a changed key with accept-new and with StrictHostKeyChecking no; known_hosts stays byte for byte', async () => {
      const kh = join(dir, 'kh-changed');
      const other = await makeClientKey(dir, `other-${kind}`);
      const content = `[127.0.0.1]:${server.port} ${other.publicLine.split(' ').slice(0, 2).join(' ')}\n`;
      writeFileSync(kh, content);
      for (const policy of ['accept-new', 'no']) {
        const cfg = block('changed', kh).replace('accept-new', policy);
        const err = await rejection(runVia(cfg, 'changed', true));
        expect(err).toBeInstanceOf(HostKeyError);
        expect((err as HostKeyError).kind).toBe('changed');
        if (policy === 'no') expect(err.message).toMatch(/StrictHostKeyChecking no is treated as accept-new/);
        expect(readFileSync(kh, 'utf8')).toBe(content);
      }
    });

    it('takes ConnectTimeout from the ssh config', async () => {
      const silent = await silentServer();
      try {
        const cfg = `Host slow\n  HostName 127.0.0.1\n  Port ${silent.port}\n  ConnectTimeout 1\n`;
        const started = Date.now();
        const err = await rejection(runVia(cfg, 'slow', true));
        expect(err).toBeInstanceOf(ConnectError);
        expect(err.message).toMatch(/did not complete the SSH handshake within 1 s/);
        expect(Date.now() - started).toBeLessThan(4000);
      } finally {
        silent.server.close();
      }
    });
  });
}
