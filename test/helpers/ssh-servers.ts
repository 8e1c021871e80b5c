/**
 * Real SSH servers on loopback for integration tests: Debian dropbear and OpenSSH sshd.
 *
 * Each server runs in its own mount namespace (`unshare -m`, needs root) with a private temp
 * directory bind-mounted over /root, so authorized_keys and everything the remote shell writes
 * into its home stay in `server.home` and never touch the real /root. sshd additionally gets a
 * private tmpfs /run (it needs /run/sshd). `unshare` and `sh` exec into the daemon, so
 * `server.pid` is the daemon's own PID; `stop()` signals exactly that PID.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as tcpConnect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const DROPBEAR = '/usr/sbin/dropbear';
export const DROPBEARKEY = '/usr/bin/dropbearkey';
export const SSHD = '/usr/sbin/sshd';
export const SSH_KEYGEN = '/usr/bin/ssh-keygen';

export interface SshServer {
  kind: 'dropbear' | 'openssh';
  host: '127.0.0.1';
  port: number;
  pid: number;
  /** Scratch directory holding keys, config and logs. */
  dir: string;
  /** What the remote root sees as its home (/root inside the server's namespace). */
  home: string;
  hostKeyFile: string;
  /** `type base64` of the host key, as a known_hosts line would carry it. */
  hostPublicKey: string;
  /** `SHA256:...` as printed by dropbearkey -y / ssh-keygen -lf. */
  hostFingerprint: string;
  /** The daemon's stderr so far (dropbear -E / sshd -e). */
  log(): string;
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** authorized_keys lines for root. */
  authorizedKeys: string[];
  hostKeyType?: 'ed25519' | 'rsa' | 'ecdsa';
  /** Reuse an existing host key (same format as the server expects). */
  hostKeyFile?: string;
  port?: number;
  extraArgs?: string[];
  /**
   * Let root log in with this password: a copy of /etc/shadow with root's hash replaced is
   * bind-mounted over /etc/shadow inside the server's namespace only (the real file is untouched).
   */
  rootPassword?: string;
  /** Shell lines run as root inside the server's mount namespace before the daemon starts (mounts that only it sees). */
  namespaceSetup?: string[];
  /** Run the daemon inside this (existing) network namespace: `ip netns exec` also gives it that namespace's /sys. */
  netns?: string;
  /**
   * Directories the daemon (and every session) sees with a layer on top, writes going to
   * `upper`: overlayfs inside its private mount namespace, so a fake router's files
   * never touch the real ones. `upper` and `work` must be outside `target`.
   */
  overlays?: Array<{ target: string; layer: string; upper: string; work: string }>;
}

export function canRunServers(): { dropbear: boolean; openssh: boolean; why?: string } {
  const root = process.getuid?.() === 0;
  const why = root ? undefined : 'SSH server tests need root (mount namespace over /root)';
  return {
    dropbear: root && existsSync(DROPBEAR) && existsSync(DROPBEARKEY),
    openssh: root && existsSync(SSHD) && existsSync(SSH_KEYGEN),
    ...(why ? { why } : {}),
  };
}

export async function makeTempDir(prefix = 'owrt-ecmp-ssh-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A free TCP port on 127.0.0.1 (nothing listens on it once this returns). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface ClientKey {
  file: string;
  /** `ssh-ed25519 AAAA... comment` */
  publicLine: string;
}

/** An OpenSSH-format client key made by ssh-keygen (empty passphrase unless given). */
export async function makeClientKey(dir: string, name: string, type: 'ed25519' | 'rsa' = 'ed25519', passphrase = ''): Promise<ClientKey> {
  const file = join(dir, name);
  await run(SSH_KEYGEN, ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', passphrase, '-C', name, '-f', file]);
  return { file, publicLine: (await readFile(`${file}.pub`, 'utf8')).trim() };
}

/** Generate a dropbear-format host key; returns its `type base64` and SHA256 fingerprint. */
export async function makeDropbearHostKey(file: string, type: 'ed25519' | 'rsa' | 'ecdsa' = 'ed25519'): Promise<{ publicKey: string; fingerprint: string }> {
  await run(DROPBEARKEY, ['-t', type, ...(type === 'rsa' ? ['-s', '2048'] : []), '-f', file]);
  return dropbearPublic(file);
}

export async function dropbearPublic(file: string): Promise<{ publicKey: string; fingerprint: string }> {
  const { stdout } = await run(DROPBEARKEY, ['-y', '-f', file]);
  const pub = /^(ssh-\S+|ecdsa-\S+) (\S+)/m.exec(stdout);
  const fp = /Fingerprint: (SHA256:\S+)/i.exec(stdout);
  if (!pub || !fp) throw new Error(`unexpected dropbearkey -y output: ${stdout}`);
  return { publicKey: `${pub[1]} ${pub[2]}`, fingerprint: fp[1] as string };
}

async function privateHome(dir: string, authorizedKeys: string[]): Promise<string> {
  const home = join(dir, 'home');
  await mkdir(join(home, '.ssh'), { recursive: true });
  await chmod(home, 0o700);
  await chmod(join(home, '.ssh'), 0o700);
  await writeFile(join(home, '.ssh', 'authorized_keys'), authorizedKeys.map((k) => `${k}\n`).join(''), { mode: 0o600 });
  return home;
}

export async function startDropbear(opts: ServerOptions): Promise<SshServer> {
  const dir = await makeTempDir('owrt-ecmp-dropbear-');
  const home = await privateHome(dir, opts.authorizedKeys);
  const hostKeyFile = opts.hostKeyFile ?? join(dir, 'host_key');
  const pub = opts.hostKeyFile ? await dropbearPublic(hostKeyFile) : await makeDropbearHostKey(hostKeyFile, opts.hostKeyType);
  const port = opts.port ?? (await freePort());
  const shadow = opts.rootPassword !== undefined ? await shadowWithRoot(dir, opts.rootPassword) : undefined;
  const args = ['-F', '-E', '-m', ...(shadow ? [] : ['-s']), '-r', hostKeyFile, '-p', `127.0.0.1:${port}`, '-P', join(dir, 'dropbear.pid'), ...(opts.extraArgs ?? [])];
  const child = spawnInNamespace(home, false, DROPBEAR, args, { shadow, extra: opts.namespaceSetup, netns: opts.netns, overlays: opts.overlays });
  return finishStart('dropbear', child, opts.netns, { dir, home, port, hostKeyFile, hostPublicKey: pub.publicKey, hostFingerprint: pub.fingerprint });
}

export async function startOpenSsh(opts: ServerOptions): Promise<SshServer> {
  const dir = await makeTempDir('owrt-ecmp-sshd-');
  const home = await privateHome(dir, opts.authorizedKeys);
  const type = opts.hostKeyType ?? 'ed25519';
  const hostKeyFile = opts.hostKeyFile ?? join(dir, 'ssh_host_key');
  if (!opts.hostKeyFile) await run(SSH_KEYGEN, ['-q', '-t', type, '-N', '', '-f', hostKeyFile]);
  const { stdout } = await run(SSH_KEYGEN, ['-lf', hostKeyFile]);
  const fp = /(SHA256:\S+)/.exec(stdout)?.[1];
  const pubText = (await readFile(`${hostKeyFile}.pub`, 'utf8')).trim().split(/\s+/);
  if (!fp || pubText.length < 2) throw new Error(`unexpected ssh-keygen output: ${stdout}`);
  const port = opts.port ?? (await freePort());
  const shadow = opts.rootPassword !== undefined ? await shadowWithRoot(dir, opts.rootPassword) : undefined;
  const cfg = join(dir, 'sshd_config');
  await writeFile(
    cfg,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKeyFile}`,
      'AuthorizedKeysFile .ssh/authorized_keys',
      'StrictModes no',
      `PermitRootLogin ${shadow ? 'yes' : 'prohibit-password'}`,
      `PasswordAuthentication ${shadow ? 'yes' : 'no'}`,
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PrintMotd no',
      `PidFile ${join(dir, 'sshd.pid')}`,
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  const child = spawnInNamespace(home, true, SSHD, ['-D', '-e', '-f', cfg, ...(opts.extraArgs ?? [])], {
    shadow,
    extra: opts.namespaceSetup,
    netns: opts.netns,
    overlays: opts.overlays,
  });
  return finishStart('openssh', child, opts.netns, {
    dir,
    home,
    port,
    hostKeyFile,
    hostPublicKey: `${pubText[0]} ${pubText[1]}`,
    hostFingerprint: fp,
  });
}

/** /etc/shadow with root's password hash set to `password` (SHA-512 crypt from openssl). */
async function shadowWithRoot(dir: string, password: string): Promise<string> {
  const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: password, encoding: 'utf8' }).trim();
  const lines = (await readFile('/etc/shadow', 'utf8')).split('\n').map((l) => (l.startsWith('root:') ? l.replace(/^root:[^:]*:/, `root:${hash}:`) : l));
  const file = join(dir, 'shadow');
  await writeFile(file, lines.join('\n'), { mode: 0o600 });
  return file;
}

interface NamespaceOptions {
  /** a shadow file bind-mounted over /etc/shadow */
  shadow?: string | undefined;
  /** shell lines run before the daemon starts */
  extra?: string[] | undefined;
  netns?: string | undefined;
  overlays?: ServerOptions['overlays'];
}

function spawnInNamespace(home: string, privateRun: boolean, daemon: string, args: string[], ns: NamespaceOptions = {}): ChildProcess {
  const q = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`;
  const setup = [
    'mount --bind "$1" /root',
    ...(ns.shadow ? [`mount --bind ${q(ns.shadow)} /etc/shadow`] : []),
    ...(ns.overlays ?? []).map((o) => `mount -t overlay overlay -o ${q(`lowerdir=${o.layer}:${o.target},upperdir=${o.upper},workdir=${o.work}`)} ${q(o.target)}`),
    ...(privateRun ? ['mount -t tmpfs -o mode=0755 tmpfs /run', 'mkdir -m 0755 /run/sshd'] : []),
    ...(ns.extra ?? []),
    'shift',
    'exec "$@"',
  ].join(' && ');
  const cmd = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', setup, 'sh', home, daemon, ...args];
  // `ip netns exec` execs its command, so the PID is still the daemon's own
  const argv = ns.netns ? ['ip', 'netns', 'exec', ns.netns, ...cmd] : cmd;
  return spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function finishStart(
  kind: SshServer['kind'],
  child: ChildProcess,
  netns: string | undefined,
  s: Pick<SshServer, 'dir' | 'home' | 'port' | 'hostKeyFile' | 'hostPublicKey' | 'hostFingerprint'>,
): Promise<SshServer> {
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    log = (log + d).slice(-64_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let alive = true;
  void exited.then(() => (alive = false));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start ${kind}`);
  const server: SshServer = {
    kind,
    host: '127.0.0.1',
    pid,
    ...s,
    log: () => log,
    async stop() {
      if (alive) {
        process.kill(pid, 'SIGTERM');
        const t = setTimeout(() => alive && process.kill(pid, 'SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      await rm(s.dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 10_000;
  while (!(await (netns ? listensIn(netns, s.port) : hasBanner(s.port)))) {
    if (!alive || Date.now() > deadline) {
      await server.stop().catch(() => undefined);
      throw new Error(`${kind} did not start on port ${s.port}:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return server;
}

/** True once something on the port speaks SSH. */
function hasBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = tcpConnect(port, '127.0.0.1');
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('data', (d) => done(d.toString('latin1').startsWith('SSH-')));
  });
}

/** Accepts TCP and reads, but never says a word of SSH (for connect-timeout tests). */
export async function silentServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.resume());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port };
}

/** A TCP listener that counts and drops every connection: proves a run never connected. */
export interface CountingListener {
  port: number;
  connections: () => number;
  close: () => Promise<void>;
}
export async function countingListener(): Promise<CountingListener> {
  let n = 0;
  const server = createServer((sock) => {
    n++;
    sock.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    connections: () => n,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** True once a socket listens on the port inside the network namespace (state 0A in /proc/net/tcp). */
async function listensIn(netns: string, port: number): Promise<boolean> {
  const { stdout } = await run('ip', ['netns', 'exec', netns, 'cat', '/proc/net/tcp']).catch(() => ({ stdout: '' }));
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return stdout.split('\n').some((l) => new RegExp(`^\\s*\\d+: [0-9A-F]+:${hex} [0-9A-F]+:0000 0A `).test(l));
}
