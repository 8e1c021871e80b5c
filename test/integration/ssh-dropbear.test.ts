import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuthError, ConnectError, HostKeyError, RemoteError } from '../../src/errors.js';
import { connect, resolveTarget, type TargetOptions, type Transport, type TransportEvent } from '../../src/ssh/index.js';
import {
  canRunServers,
  freePort,
  makeClientKey,
  makeDropbearHostKey,
  makeTempDir,
  startDropbear,
  startOpenSsh,
  type ClientKey,
  type SshServer,
} from '../helpers/ssh-servers.js';

const caps = canRunServers();
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

/** Targets with an isolated HOME (no agent, no default keys, no ~/.ssh/config). */
function targetFor(server: SshServer, dir: string, over: Partial<TargetOptions> = {}) {
  return resolveTarget(
    {
      host: `127.0.0.1:${server.port}`,
      knownHosts: join(dir, 'known_hosts'),
      sshConfigFile: join(dir, 'no-config'),
      connectTimeoutMs: 10_000,
      ...over,
    },
    { HOME: dir },
  );
}

/** The transport contract both servers must meet; runs on a connection with the host key recorded. */
function happyPath(get: () => { server: SshServer; dir: string; key: ClientKey }) {
  let t: Transport;
  const events: TransportEvent[] = [];
  beforeAll(async () => {
    const { server, dir, key } = get();
    t = await connect(targetFor(server, dir, { identity: key.file }), { onEvent: (e) => events.push(e) });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('returns stdout, stderr and the exit code separately', async () => {
    const r = await t.exec("printf 'out\\n'; printf 'err\\n' >&2; exit 3");
    expect(r.stdout.toString()).toBe('out\n');
    expect(r.stderr.toString()).toBe('err\n');
    expect(r.code).toBe(3);
    expect(r.signal).toBeNull();
  });

  it('uploads 1 MiB through stdin intact (checked by sha256sum on the server)', async () => {
    const data = randomBytes(1024 * 1024);
    const r = await t.exec('cat > upload.bin && sha256sum upload.bin && wc -c < upload.bin', { stdin: data, timeoutMs: 20_000 });
    expect(r.code).toBe(0);
    const [sumLine, size] = r.stdout.toString().trim().split('\n');
    expect(sumLine?.split(/\s+/)[0]).toBe(sha256(data));
    expect(Number(size)).toBe(data.length);
  });

  it('runs 20 sequential commands on one connection and counts round trips', async () => {
    const before = t.roundTrips;
    for (let i = 0; i < 20; i++) {
      const r = await t.exec(`echo ${i}`);
      expect(r.stdout.toString()).toBe(`${i}\n`);
      expect(r.code).toBe(0);
    }
    expect(t.roundTrips - before).toBe(20);
  });

  it('queues concurrent exec calls instead of opening parallel channels', async () => {
    const rs = await Promise.all([1, 2, 3, 4, 5].map((i) => t.exec(`sleep 0.0${i}; echo ${i}`)));
    expect(rs.map((r) => r.stdout.toString())).toEqual(['1\n', '2\n', '3\n', '4\n', '5\n']);
  });

  it('feeds a string script to sh -s and reports byte counts, never stdin, in events', async () => {
    const r = await t.exec('sh -s', { stdin: 'SECRET=hunter2-not-logged\necho "len ${#SECRET}"\n' });
    expect(r.stdout.toString()).toBe('len 18\n');
    const all = events.map((e) => e.detail).join('\n');
    expect(all).not.toContain('hunter2');
    expect(all).toMatch(/stdin \d+ bytes/);
    expect(events.some((e) => e.type === 'exec-done')).toBe(true);
  });

  it('times out a hung command with RemoteError and keeps the connection usable', async () => {
    const err = await rejection(t.exec('sleep 5', { timeoutMs: 300 }));
    expect(err).toBeInstanceOf(RemoteError);
    expect(err.message).toMatch(/300 ms/);
    const r = await t.exec('echo still-here');
    expect(r.stdout.toString()).toBe('still-here\n');
  });
}

describe.skipIf(!caps.dropbear)('ssh transport against Debian dropbear', () => {
  let dir: string;
  let server: SshServer;
  let key: ClientKey;
  let wrongKey: ClientKey;
  let lockedKey: ClientKey;

  beforeAll(async () => {
    dir = await makeTempDir();
    key = await makeClientKey(dir, 'id_client');
    wrongKey = await makeClientKey(dir, 'id_wrong');
    lockedKey = await makeClientKey(dir, 'id_locked', 'ed25519', 'correct horse');
    server = await startDropbear({ authorizedKeys: [key.publicLine, lockedKey.publicLine] });
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('host keys', () => {
    it('refuses an unknown host key, showing the same fingerprint as dropbearkey -y', async () => {
      const err = await rejection(connect(targetFor(server, dir, { identity: key.file })));
      expect(err).toBeInstanceOf(HostKeyError);
      const hk = err as HostKeyError;
      expect(hk.kind).toBe('unknown');
      expect(hk.fingerprint).toBe(server.hostFingerprint);
      expect(hk.message).toContain(server.hostFingerprint);
      expect(hk.hint).toContain('--accept-new');
      expect(existsSync(join(dir, 'known_hosts'))).toBe(false);
    });

    it('--accept-new records [host]:port with mode 0600, and the next connect verifies against it', async () => {
      const events: TransportEvent[] = [];
      const t1 = await connect(targetFor(server, dir, { identity: key.file, acceptNew: true }), { onEvent: (e) => events.push(e) });
      await t1.close();
      const file = join(dir, 'known_hosts');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, 'utf8')).toBe(`[127.0.0.1]:${server.port} ${server.hostPublicKey}\n`);
      expect(events.some((e) => e.type === 'hostkey' && e.detail.startsWith('recorded'))).toBe(true);

      const t2 = await connect(targetFor(server, dir, { identity: key.file }));
      expect((await t2.exec('echo ok')).stdout.toString()).toBe('ok\n');
      await t2.close();
      expect(readFileSync(file, 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
    });

    it('refuses a changed host key even with --accept-new, and leaves known_hosts alone', async () => {
      const other = join(dir, 'other_host_key');
      const { publicKey } = await makeDropbearHostKey(other);
      const file = join(dir, 'known_hosts_changed');
      const content = `[127.0.0.1]:${server.port} ${publicKey}\n`;
      writeFileSync(file, content);
      const err = await rejection(connect(targetFor(server, dir, { identity: key.file, knownHosts: file, acceptNew: true })));
      expect(err).toBeInstanceOf(HostKeyError);
      expect((err as HostKeyError).kind).toBe('changed');
      expect((err as HostKeyError).fingerprint).toBe(server.hostFingerprint);
      expect(err.message).toMatch(/CHANGED/);
      expect(readFileSync(file, 'utf8')).toBe(content);
    });

    it('refuses a key marked @revoked', async () => {
      const file = join(dir, 'known_hosts_revoked');
      writeFileSync(file, `@revoked * ${server.hostPublicKey}\n[127.0.0.1]:${server.port} ${server.hostPublicKey}\n`);
      const err = await rejection(connect(targetFor(server, dir, { identity: key.file, knownHosts: file, acceptNew: true })));
      expect(err).toBeInstanceOf(HostKeyError);
      expect((err as HostKeyError).kind).toBe('revoked');
    });
  });

  describe('auth and connect errors', () => {
    it('maps a key the server does not accept to AuthError, without leaking the password', async () => {
      const err = await rejection(connect(targetFor(server, dir, { identity: wrongKey.file }), { password: 'pw-should-not-appear' }));
      expect(err).toBeInstanceOf(AuthError);
      expect(err.message).toContain(wrongKey.file);
      expect(`${err.message} ${(err as AuthError).hint}`).not.toContain('pw-should-not-appear');
    });

    it('names an encrypted key given without passphrase, and uses it once the passphrase is given', async () => {
      vi.stubEnv('OWRT_ECMP_SSH_PASSPHRASE', undefined);
      const err = await rejection(connect(targetFor(server, dir, { identity: lockedKey.file })));
      vi.unstubAllEnvs();
      expect(err).toBeInstanceOf(AuthError);
      expect(err.message).toContain(`key ${lockedKey.file} is encrypted`);
      expect((err as AuthError).hint).toContain('OWRT_ECMP_SSH_PASSPHRASE');
      const bad = await rejection(connect(targetFor(server, dir, { identity: lockedKey.file }), { passphrase: 'wrong' }));
      expect(bad).toBeInstanceOf(AuthError);
      expect(bad.message).toContain('passphrase does not decrypt');
      expect(bad.message).not.toContain('wrong');
      const t = await connect(targetFor(server, dir, { identity: lockedKey.file }), { passphrase: 'correct horse' });
      expect((await t.exec('echo unlocked')).stdout.toString()).toBe('unlocked\n');
      await t.close();
    });

    it('maps a closed port to ConnectError with a hint', async () => {
      const port = await freePort();
      const err = await rejection(connect(resolveTarget({ host: `127.0.0.1:${port}`, sshConfigFile: join(dir, 'no-config') }, { HOME: dir })));
      expect(err).toBeInstanceOf(ConnectError);
      expect(err.message).toContain('refused');
      expect((err as ConnectError).hint).toBeTruthy();
    });

    it('reaches the server through a ProxyJump host from ssh config', async () => {
      const cfg = join(dir, 'ssh_config_jump');
      writeFileSync(
        cfg,
        `Host router\n  HostName 127.0.0.1\n  Port ${server.port}\n  ProxyJump bastion\n` +
          `Host bastion\n  HostName 127.0.0.1\n  Port ${server.port}\n  IdentityFile ${key.file}\n`,
      );
      const kh = join(dir, 'known_hosts_jump');
      copyFileSync(join(dir, 'known_hosts'), kh);
      const target = resolveTarget({ host: 'router', identity: key.file, sshConfigFile: cfg, knownHosts: kh }, { HOME: dir });
      expect(target.proxyJump?.host).toBe('127.0.0.1');
      const events: TransportEvent[] = [];
      const t = await connect(target, { onEvent: (e) => events.push(e) });
      expect((await t.exec('echo hopped')).stdout.toString()).toBe('hopped\n');
      await t.close();
      expect(events.filter((e) => e.type === 'connect' && e.detail.startsWith('connected'))).toHaveLength(2);
      expect(events.some((e) => e.detail.includes('via jump host'))).toBe(true);
    });
  });

  describe('exec', () => {
    happyPath(() => ({ server, dir, key }));
  });
});

describe.skipIf(!caps.openssh)('ssh transport against OpenSSH sshd', () => {
  let dir: string;
  let server: SshServer;
  let key: ClientKey;

  beforeAll(async () => {
    dir = await makeTempDir();
    key = await makeClientKey(dir, 'id_client');
    server = await startOpenSsh({ authorizedKeys: [key.publicLine] });
    // record the host key the way a user would: --accept-new once
    const t = await connect(targetFor(server, dir, { identity: key.file, acceptNew: true }));
    await t.close();
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('recorded the host key ssh-keygen reports', () => {
    expect(readFileSync(join(dir, 'known_hosts'), 'utf8')).toBe(`[127.0.0.1]:${server.port} ${server.hostPublicKey}\n`);
  });

  happyPath(() => ({ server, dir, key }));
});
