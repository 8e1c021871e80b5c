/**
 * The built CLI on a real pseudo-terminal (util-linux `script`), against real dropbear and sshd:
 * it asks like ssh for an unknown host key, a key passphrase and a password, never echoes a
 * secret, and without a terminal keeps failing with hints that name real flags. Also the
 * --connect-timeout flag against a port that accepts TCP and never speaks SSH.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasScript, onPty, type Pty } from '../helpers/pty.js';
import { canRunServers, makeClientKey, makeTempDir, silentServer, startDropbear, startOpenSsh, type ClientKey, type SshServer } from '../helpers/ssh-servers.js';

const CLI = resolve(import.meta.dirname, '..', '..', 'dist', 'cli.js');
const caps = canRunServers();
const PASSPHRASE = 'Pp-9x!kQ passphrase';
const PASSWORD = 'Pw-3z#rT password';

let dir = '';
let home = '';
beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  dir = await makeTempDir('owrt-ecmp-prompts-');
  home = join(dir, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const baseEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, NO_COLOR: '1', LANG: 'C.UTF-8', TERM: 'xterm' });

/** The CLI with stdin/stdout/stderr on a real tty. */
const cliOnPty = (args: string[]): Pty => onPty([process.execPath, CLI, ...args], { env: baseEnv() });

function runPlain(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...baseEnv(), ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => res({ code, stderr }));
  });
}

for (const kind of ['dropbear', 'openssh'] as const) {
  describe.skipIf(!hasScript || !(kind === 'dropbear' ? caps.dropbear : caps.openssh))(`prompts on a terminal (${kind})`, () => {
    let server: SshServer;
    let plainKey: ClientKey;
    let lockedKey: ClientKey;

    beforeAll(async () => {
      plainKey = await makeClientKey(dir, `plain-${kind}`);
      lockedKey = await makeClientKey(dir, `locked-${kind}`, 'ed25519', PASSPHRASE);
      const start = kind === 'dropbear' ? startDropbear : startOpenSsh;
      server = await start({ authorizedKeys: [plainKey.publicLine, lockedKey.publicLine], rootPassword: PASSWORD });
    });
    afterAll(async () => {
      await server?.stop();
    });

    const host = (): string[] => ['--host', `root@127.0.0.1:${server.port}`];
    const knownFile = (name: string, known: boolean): string => {
      const f = join(dir, `${name}-${kind}`);
      writeFileSync(f, known ? `[127.0.0.1]:${server.port} ${server.hostPublicKey}\n` : '');
      return f;
    };
    /** status on this Debian host connects, then reports "not set up" with exit 8: proof we got in. */
    const expectLoggedIn = (r: { code: number | null; out: string }): void => {
      expect(r.out).toMatch(/not set up/);
      expect(r.code).toBe(8);
    };

    it('asks about an unknown host key with its SHA256 fingerprint and the dropbearkey command; yes records it', async () => {
      const kh = knownFile('kh-ask-yes', false);
      const p = cliOnPty(['status', ...host(), '--identity', plainKey.file, '--known-hosts', kh]);
      await p.answer(/continue connecting \(yes\/no\/\[fingerprint\]\)\? /, 'yes');
      const r = await p.done;
      expect(r.out).toContain(`key fingerprint is ${server.hostFingerprint}.`);
      expect(r.out).toContain('dropbearkey -y -f /etc/dropbear/dropbear_ed25519_host_key');
      expectLoggedIn(r);
      expect(readFileSync(kh, 'utf8')).toContain(server.hostPublicKey.split(' ')[1]);
    });

    it('answering no refuses (exit 5) and records nothing', async () => {
      const kh = knownFile('kh-ask-no', false);
      const p = cliOnPty(['status', ...host(), '--identity', plainKey.file, '--known-hosts', kh]);
      await p.answer(/\(yes\/no\/\[fingerprint\]\)\? /, 'no');
      const r = await p.done;
      expect(r.code).toBe(5);
      expect(r.out).toMatch(/you declined/);
      expect(readFileSync(kh, 'utf8')).toBe('');
    });

    it('Ctrl-C at the question cancels (exit 3) and records nothing', async () => {
      const kh = knownFile('kh-ask-ctrl-c', false);
      const p = cliOnPty(['status', ...host(), '--identity', plainKey.file, '--known-hosts', kh]);
      await p.answer(/\(yes\/no\/\[fingerprint\]\)\? /, '\u0003');
      const r = await p.done;
      expect(r.code).toBe(3);
      expect(r.out).toMatch(/cancelled at the host key question/);
      expect(readFileSync(kh, 'utf8')).toBe('');
    });

    it('asks for the passphrase of an encrypted key without echoing it', async () => {
      const p = cliOnPty(['status', ...host(), '--identity', lockedKey.file, '--known-hosts', knownFile('kh-pass', true), '--debug']);
      await p.answer(/Enter passphrase for key '[^']+': /, PASSPHRASE);
      const r = await p.done;
      expectLoggedIn(r);
      expect(r.out).not.toContain(PASSPHRASE);
    });

    it('asks for the password when no key works, without echoing it, three tries like ssh', async () => {
      const p = cliOnPty(['status', ...host(), '--known-hosts', knownFile('kh-pw', true), '--debug']);
      await p.answer(/root@127\.0\.0\.1's password: /, 'wrong one');
      await p.answer(/root@127\.0\.0\.1's password: /, PASSWORD);
      const r = await p.done;
      expectLoggedIn(r);
      expect(r.out).not.toContain(PASSWORD);
      expect(r.out).not.toContain('wrong one');
    });

    it('with --json nothing is asked: the unknown key is exit 5 at once', async () => {
      const p = cliOnPty(['status', '--json', ...host(), '--identity', plainKey.file, '--known-hosts', knownFile('kh-json', false)]);
      const r = await p.done;
      expect(r.code).toBe(5);
      expect(r.out).not.toMatch(/continue connecting/);
    });

    it('without a terminal: no questions, errors with hints that name real flags', async () => {
      const unknown = await runPlain(['status', ...host(), '--identity', plainKey.file, '--known-hosts', knownFile('kh-plain', false)]);
      expect(unknown.code).toBe(5);
      expect(unknown.stderr).toMatch(/--accept-new/);
      const locked = await runPlain(['status', ...host(), '--identity', lockedKey.file, '--known-hosts', knownFile('kh-plain2', true)]);
      expect(locked.code).toBe(4);
      expect(locked.stderr).toMatch(/is encrypted and no passphrase was given/);
      expect(locked.stderr).toMatch(/OWRT_ECMP_SSH_PASSPHRASE/);
    });
  });
}

describe('without OpenSSH on PATH', () => {
  it('warns once on stderr about a directive the built-in parser cannot honour', async () => {
    const bin = join(dir, 'empty-bin');
    mkdirSync(bin, { recursive: true });
    const cfg = join(dir, 'warn_config');
    writeFileSync(cfg, 'Match exec "true"\n  Port 2\nHost r\n  HostName 127.0.0.1\n  Port 1\n  ConnectTimeout 2\n');
    const r = await runPlain(['status', '--host', 'r', '--ssh-config', cfg, '--known-hosts', join(dir, 'kh-warn')], { PATH: bin });
    expect(r.code).toBe(3); // port 1: nothing listens
    expect(r.stderr.match(/warning: ssh config .*"Match exec "true"" is evaluated without/g)).toHaveLength(1);
  });
});

describe('--connect-timeout', () => {
  it('bounds TCP connect + SSH handshake; the error says which and names the flag', async () => {
    const silent = await silentServer();
    try {
      const started = Date.now();
      const r = await runPlain(['status', '--host', `127.0.0.1:${silent.port}`, '--known-hosts', join(dir, 'kh-timeout'), '--connect-timeout', '1']);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/did not complete the SSH handshake within 1 s/);
      expect(r.stderr).toMatch(/--connect-timeout/);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      silent.server.close();
    }
  });

  it('rejects a bad value as a usage error', async () => {
    const r = await runPlain(['status', '--host', '127.0.0.1', '--connect-timeout', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--connect-timeout must be a whole number/);
  });
});
