/**
 * The real built CLI (`node dist/cli.js`) as a child process, against real SSH servers on
 * loopback. The server's host is this Debian machine, not an OpenWrt router: the read-only
 * commands must say so with the right exit code and must not write anything on it.
 *
 * Every run gets a controlled environment: HOME is a temp dir with an empty ~/.ssh, and
 * nothing else is inherited (no SSH_AUTH_SOCK, no OWRT_ECMP_* variables).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, runCli as runCliIn } from '../helpers/run-cli.js';
import {
  canRunServers,
  countingListener,
  type CountingListener,
  freePort,
  makeClientKey,
  makeDropbearHostKey,
  makeTempDir,
  startDropbear,
  startOpenSsh,
  type ClientKey,
  type SshServer,
} from '../helpers/ssh-servers.js';

const CLI = resolve(import.meta.dirname, '..', '..', 'dist', 'cli.js');
const caps = canRunServers();
/** Distinctive enough that a hit can only be a leak. */
const SECRET = 'Pw-7f3Kq!x9 $(id) ;#\'zZ';

let home = '';
let work = '';

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  work = await makeTempDir('owrt-ecmp-cli-');
  home = join(work, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/**
 * One entry for the server's key, hashed or not as the ssh config's HashKnownHosts says (Debian's
 * /etc/ssh/ssh_config says yes), and OpenSSH itself finds it.
 */
function expectRecorded(kh: string, server: SshServer): void {
  const lines = readFileSync(kh, 'utf8').split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]?.endsWith(` ${server.hostPublicKey}`)).toBe(true);
  const found = execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${server.port}`, '-f', kh]).toString();
  expect(found).toContain(server.hostPublicKey);
}

/** Run the CLI with only PATH, HOME and NO_COLOR from us, plus `env` (test/helpers/run-cli.ts). */
function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 25_000): Promise<CliResult> {
  return runCliIn(args, home, env, timeoutMs);
}

/** Readable failure: the whole output when an exit code is off. */
function expectExit(r: CliResult, code: number): void {
  expect(r.code, `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).toBe(code);
}

/** Existence (and for files, content) of everything owrt-ecmp could write on a router, plus the sysctls it sets. */
const WATCHED = [
  '/etc/config/owrt_ecmp',
  '/etc/config',
  '/tmp/owrt-ecmp-apply.lock',
  '/tmp/owrt-ecmp-rollback',
  '/usr/lib/owrt-ecmp',
  '/etc/hotplug.d/iface/95-owrt-ecmp',
  '/etc/sysctl.d/60-owrt-ecmp.conf',
  '/etc/sysupgrade.conf',
];
const SYSCTLS = ['ipv4/fib_multipath_hash_policy', 'ipv4/fib_multipath_use_neigh', 'ipv6/fib_multipath_hash_policy'];

function listTree(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? [`${prefix}${e.name}/`, ...listTree(join(dir, e.name), `${prefix}${e.name}/`)] : [`${prefix}${e.name}`],
  );
}

function snapshot(serverHome: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of WATCHED) {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      out[p] = 'absent';
      continue;
    }
    out[p] = st.isDirectory() ? 'dir' : `file ${readFileSync(p, 'utf8')}`;
  }
  for (const k of SYSCTLS) {
    try {
      out[k] = readFileSync(`/proc/sys/net/${k}`, 'utf8').trim();
    } catch {
      out[k] = '-';
    }
  }
  out['server home'] = listTree(serverHome).sort().join(' ');
  return out;
}

// ---------------------------------------------------------------------------------------------
// 1. Usage errors: exit 2, before any connection
// ---------------------------------------------------------------------------------------------

describe('usage errors are caught before connecting (exit 2)', () => {
  let listener: CountingListener;
  let port = 0;
  let pwDir = '';

  beforeAll(async () => {
    listener = await countingListener();
    port = listener.port;
    pwDir = await makeTempDir('owrt-ecmp-cli-pw-');
    writeFileSync(join(pwDir, 'two-lines'), 'first\nsecond\n', { mode: 0o600 });
  });

  afterAll(async () => {
    await listener.close();
    rmSync(pwDir, { recursive: true, force: true });
  });

  const host = (): string[] => ['--host', `127.0.0.1:${port}`];
  const cases: Array<{ name: string; args: () => string[]; message: RegExp }> = [
    { name: '--dials 0', args: () => ['setup', '--dials', '0', ...host()], message: /--dials must be from 1 to 64, got 0/ },
    { name: '--dials -1', args: () => ['setup', '--dials', '-1', ...host()], message: /--dials must be a whole number from 1 to 64, got "-1"/ },
    { name: '--dials 1.5', args: () => ['setup', '--dials', '1.5', ...host()], message: /--dials must be a whole number from 1 to 64, got "1\.5"/ },
    { name: '--dials 10000', args: () => ['setup', '--dials', '10000', ...host()], message: /--dials must be from 1 to 64, got 10000/ },
    { name: '--dials four', args: () => ['setup', '--dials', 'four', ...host()], message: /--dials must be a whole number from 1 to 64, got "four"/ },
    { name: '--wan with a bad character', args: () => ['setup', '--dials', '2', '--wan', 'wan;reboot', ...host()], message: /--wan "wan;reboot" is not a valid interface name/ },
    { name: '--wan with a space', args: () => ['setup', '--dials', '2', '--wan', 'wa n', ...host()], message: /--wan "wa n" is not a valid interface name/ },
    { name: '--wan longer than 9', args: () => ['setup', '--dials', '2', '--wan', 'wanwanwanw', ...host()], message: /--wan "wanwanwanw" is longer than 9 characters/ },
    { name: '--prefix upper case', args: () => ['setup', '--dials', '2', '--prefix', 'VWAN', ...host()], message: /--prefix "VWAN" must start with a lowercase letter/ },
    { name: '--prefix too long for the dial count', args: () => ['setup', '--dials', '10', '--prefix', 'abcdefgh', ...host()], message: /--prefix "abcdefgh10" is longer than 9 characters/ },
    { name: '--weights wrong count', args: () => ['setup', '--dials', '2', '--weights', '1,1,1', ...host()], message: /--weights needs 2 comma-separated values \(one per dial\), got 3/ },
    { name: '--ipv6 both', args: () => ['setup', '--dials', '2', '--ipv6', 'both', ...host()], message: /'--ipv6 <mode>' argument 'both' is invalid\. Allowed choices are off, single, ecmp/ },
    { name: '--password-file missing', args: () => ['setup', '--dials', '2', '--password-file', join(pwDir, 'nope'), ...host()], message: /cannot read --password-file ".*nope": ENOENT/ },
    { name: '--password-file with a line break inside', args: () => ['setup', '--dials', '2', '--password-file', join(pwDir, 'two-lines'), ...host()], message: /PPPoE password \(from --password-file\) contains a line break/ },
    { name: '--wait too close to the rollback timeout', args: () => ['setup', '--dials', '2', '--wait', '80', ...host()], message: /--wait 80 must leave at least 20 s before the rollback timeout 90/ },
    { name: 'status --port 70000', args: () => ['status', ...host(), '--port', '70000'], message: /--port must be from 1 to 65535, got 70000/ },
    { name: 'setup without --host', args: () => ['setup', '--dials', '2'], message: /no router given\n\s+pass --host/ },
    { name: 'status without --host', args: () => ['status'], message: /no router given/ },
    { name: 'doctor without --host', args: () => ['doctor'], message: /no router given/ },
  ];

  it.each(cases)('$name', async ({ args, message }) => {
    const r = await runCli(args());
    expectExit(r, 2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(listener.connections()).toBe(0);
  });

  it('no case above opened a connection, and the counter does count one (control)', async () => {
    expect(listener.connections()).toBe(0);
    const r = await runCli(['status', ...host(), '--known-hosts', join(home, 'kh-control')]);
    expectExit(r, 3);
    expect(r.stderr).toMatch(/owrt-ecmp: .*127\.0\.0\.1:\d+/);
    expect(listener.connections()).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
// 1b. Flags: short forms, defaults, --yes, SSH options before the command, hints
// ---------------------------------------------------------------------------------------------

const COMMANDS = ['setup', 'status', 'hotplug', 'doctor', 'teardown', 'probe-dials'];
const CHANGING = ['setup', 'hotplug', 'teardown'];

/** Every long flag a command's --help lists, plus the program's own. */
async function helpFlags(): Promise<Set<string>> {
  const flags = new Set<string>();
  for (const args of [['--help'], ...COMMANDS.map((c) => [c, '--help'])]) {
    const r = await runCli(args);
    expectExit(r, 0);
    for (const m of r.stdout.matchAll(/(?:^|[ ,])(--[a-z][a-z0-9-]*)/gm)) if (m[1]) flags.add(m[1]);
  }
  return flags;
}

/** `--flag` words in the CLI's own text: sources, templates and router files. */
function flagsNamedIn(dir: string): Array<{ flag: string; where: string }> {
  const out: Array<{ flag: string; where: string }> = [];
  for (const f of listTree(dir)) {
    if (f.endsWith('/')) continue;
    const text = readFileSync(join(dir, f), 'utf8');
    for (const m of text.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*[a-z0-9])(?![a-z0-9-]|\.\w)/g)) if (m[1]) out.push({ flag: m[1], where: `${dir}/${f}` });
  }
  return out;
}

describe('flags', () => {
  it('-n is --dry-run on every command that has one; --dials has no short form', async () => {
    for (const c of CHANGING) {
      const r = await runCli([c, '--help']);
      expectExit(r, 0);
      expect(r.stdout, c).toMatch(/^ {2}-n, --dry-run\b/m);
    }
    const setup = await runCli(['setup', '--help']);
    expect(setup.stdout).toMatch(/^ {2}--dials <n>/m);
  });

  it('setup -n 4 is a usage error (-n takes no value), not four dials', async () => {
    const r = await runCli(['setup', '-n', '4', '--host', '127.0.0.1:1']);
    expectExit(r, 2);
    expect(r.stderr).toMatch(/too many arguments/);
  });

  it('numeric defaults show as numbers in --help', async () => {
    const r = await runCli(['setup', '--help']);
    const text = r.stdout.replace(/\s+/g, ' ');
    expect(text).toContain('reverts itself (default: 90)');
    expect(text).toContain('come up (default: 60)');
    for (const c of COMMANDS) expect((await runCli([c, '--help'])).stdout, c).not.toMatch(/default: "\d+"/);
  });

  it('SSH options with no command: usage error, help on stderr', async () => {
    for (const args of [[], ['--host', '127.0.0.1:1']]) {
      const r = await runCli(args);
      expectExit(r, 2);
      expect(r.stderr).toContain('Usage: owrt-ecmp [options] [command]');
    }
    expectExit(await runCli(['help']), 0);
  });

  it('every command that changes the router takes -y/--yes', async () => {
    for (const c of CHANGING) expect((await runCli([c, '--help'])).stdout, c).toMatch(/^ {2}-y, --yes\b/m);
  });

  it('every --flag named in a message, hint or router-side log is a real option', async () => {
    const real = await helpFlags();
    const root = resolve(import.meta.dirname, '..', '..');
    const named = ['src', 'templates', 'openwrt-files'].flatMap((d) => flagsNamedIn(join(root, d)));
    expect(named.length).toBeGreaterThan(20);
    expect(named.filter((n) => !real.has(n.flag))).toEqual([]);
  });
});

describe('SSH options before the command', () => {
  let listener: CountingListener;
  let port = 0;

  beforeAll(async () => {
    listener = await countingListener();
    port = listener.port;
  });

  afterAll(async () => {
    await listener.close();
  });

  it('owrt-ecmp --host H status connects to H', async () => {
    const before = listener.connections();
    const r = await runCli(['--host', `127.0.0.1:${port}`, '--known-hosts', join(home, 'kh-global'), 'status']);
    expectExit(r, 3);
    expect(r.stderr).toContain(`127.0.0.1:${port}`);
    expect(listener.connections()).toBe(before + 1);
  });

  it("the command's own --host wins over the one before it", async () => {
    const closed = await freePort();
    const before = listener.connections();
    const r = await runCli(['--host', `127.0.0.1:${closed}`, 'status', '--host', `127.0.0.1:${port}`, '--known-hosts', join(home, 'kh-global')]);
    expectExit(r, 3);
    expect(r.stderr).toContain(`127.0.0.1:${port}`);
    expect(listener.connections()).toBe(before + 1);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Connection, host key and authentication failures
// ---------------------------------------------------------------------------------------------

describe.skipIf(!caps.dropbear)('connection, host key and authentication errors (dropbear)', () => {
  let server: SshServer;
  let dir = '';
  let key: ClientKey;
  let otherKey: ClientKey;
  const common = (knownHosts: string, identity = key.file): string[] => [
    '--host',
    `127.0.0.1:${server.port}`,
    '--identity',
    identity,
    '--known-hosts',
    knownHosts,
  ];

  beforeAll(async () => {
    dir = await makeTempDir('owrt-ecmp-cli-conn-');
    key = await makeClientKey(dir, 'client');
    otherKey = await makeClientKey(dir, 'stranger');
    server = await startDropbear({ authorizedKeys: [key.publicLine] });
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a closed port is exit 3 with a hint', async () => {
    const port = await freePort();
    const r = await runCli(['status', '--host', `127.0.0.1:${port}`, '--known-hosts', join(dir, 'kh-closed')]);
    expectExit(r, 3);
    expect(r.stderr).toContain(`connection refused by 127.0.0.1:${port}`);
    expect(r.stderr).toMatch(/\n {2}nothing listens there: check the port/);
    expect(r.stdout).toBe('');
  });

  it('an unknown host key is exit 5 with the real fingerprint and a pointer to --accept-new', async () => {
    const kh = join(dir, 'kh-unknown');
    writeFileSync(kh, '');
    const r = await runCli(['status', ...common(kh)]);
    expectExit(r, 5);
    expect(server.hostFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(r.stderr).toContain(`the host key of [127.0.0.1]:${server.port} is not known: ssh-ed25519 ${server.hostFingerprint}`);
    expect(r.stderr).toContain(`host key: ${server.hostFingerprint}`);
    expect(r.stderr).toContain('--accept-new');
    expect(r.stdout).toBe('');
    expect(readFileSync(kh, 'utf8')).toBe('');
  });

  it('--accept-new records the key; the next run trusts it without the flag', async () => {
    const kh = join(dir, 'kh-accept');
    writeFileSync(kh, '');
    const first = await runCli(['status', ...common(kh), '--accept-new']);
    expectExit(first, 8);
    expectRecorded(kh, server);
    const again = await runCli(['status', ...common(kh)]);
    expectExit(again, 8);
    expect(again.stderr).not.toContain('host key');
  });

  it('--accept-new into the default ~/.ssh/known_hosts of an empty HOME', async () => {
    const kh = join(home, '.ssh', 'known_hosts');
    rmSync(kh, { force: true });
    try {
      const r = await runCli(['status', '--host', `127.0.0.1:${server.port}`, '--identity', key.file, '--accept-new']);
      expectExit(r, 8);
      expectRecorded(kh, server);
      expect(lstatSync(kh).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(kh, { force: true });
    }
  });

  it('a changed host key is exit 5 even with --accept-new, and known_hosts stays byte for byte', async () => {
    const other = await makeDropbearHostKey(join(dir, 'other_host_key'));
    expect(other.fingerprint).not.toBe(server.hostFingerprint);
    const kh = join(dir, 'kh-changed');
    const before = `# recorded earlier\n[127.0.0.1]:${server.port} ${other.publicKey}\n`;
    writeFileSync(kh, before);
    for (const extra of [[], ['--accept-new']]) {
      const r = await runCli(['status', ...common(kh), ...extra]);
      expectExit(r, 5);
      expect(r.stderr).toContain(`the host key of [127.0.0.1]:${server.port} has CHANGED`);
      expect(r.stderr).toContain(`host key: ${server.hostFingerprint}`);
      expect(r.stderr).toContain(`${kh}:2`);
      expect(r.stdout).toBe('');
      expect(readFileSync(kh, 'utf8')).toBe(before);
    }
  });

  it('a client key the server does not know is exit 4', async () => {
    const kh = join(dir, 'kh-auth');
    writeFileSync(kh, `[127.0.0.1]:${server.port} ${server.hostPublicKey}\n`);
    const r = await runCli(['status', ...common(kh, otherKey.file)]);
    expectExit(r, 4);
    expect(r.stderr).toContain(`the server refused every authentication method for root@127.0.0.1:${server.port}`);
    expect(r.stderr).toContain(`publickey ${otherKey.file}`);
    expect(r.stdout).toBe('');
  });
});

// ---------------------------------------------------------------------------------------------
// 3–5. A reachable host that is not an OpenWrt router
// ---------------------------------------------------------------------------------------------

/** Authorized key, pre-filled known_hosts, snapshot of the real filesystem before and after. */
function notOpenWrtHost(kind: 'dropbear' | 'openssh') {
  let server: SshServer;
  let dir = '';
  let ssh: string[] = [];
  let before: Record<string, string> = {};

  beforeAll(async () => {
    dir = await makeTempDir(`owrt-ecmp-cli-${kind}-`);
    const key = await makeClientKey(dir, 'client');
    server = kind === 'dropbear' ? await startDropbear({ authorizedKeys: [key.publicLine] }) : await startOpenSsh({ authorizedKeys: [key.publicLine] });
    const kh = join(dir, 'known_hosts');
    writeFileSync(kh, `[127.0.0.1]:${server.port} ${server.hostPublicKey}\n`);
    ssh = ['--host', `root@127.0.0.1:${server.port}`, '--identity', key.file, '--known-hosts', kh];
    before = snapshot(server.home);
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  return { ssh: () => ssh, server: () => server, before: () => before };
}

function statusCases(h: ReturnType<typeof notOpenWrtHost>) {
  it('status: exit 8, says owrt-ecmp is not set up', async () => {
    const r = await runCli(['status', ...h.ssh()]);
    expectExit(r, 8);
    expect(r.stdout).toMatch(/unhealthy:\n\s+- owrt-ecmp is not set up on this router/);
    expect(r.stderr).toBe('');
  });

  it('status --json: valid JSON, schemaVersion 1, configured false', async () => {
    const r = await runCli(['status', '--json', ...h.ssh()]);
    expectExit(r, 8);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j).toMatchObject({ schemaVersion: 1, configured: false, settings: null, healthy: false, dials: [] });
    expect(j.problems).toEqual(expect.arrayContaining([expect.stringMatching(/not set up/)]));
    expect(r.stderr).toBe('');
  });

  it('status --verbose: exactly one SSH round trip', async () => {
    const r = await runCli(['status', '--verbose', ...h.ssh()]);
    expectExit(r, 8);
    const counts = [...r.stderr.matchAll(/(\d+) SSH round trip\(s\) over (\d+) connection\(s\)/g)];
    expect(counts, r.stderr).toHaveLength(1);
    expect(counts[0]?.slice(1)).toEqual(['1', '1']);
  });
}

function nothingWritten(h: ReturnType<typeof notOpenWrtHost>) {
  it('nothing was written on the host (router paths, sysctls, the server-side home)', () => {
    const after = snapshot(h.server().home);
    expect(after).toEqual(h.before());
    for (const p of ['/etc/config/owrt_ecmp', '/tmp/owrt-ecmp-apply.lock', '/tmp/owrt-ecmp-rollback']) {
      if (h.before()[p] === 'absent') expect(existsSync(p), p).toBe(false);
    }
  });
}

describe.skipIf(!caps.dropbear)('a Debian host over dropbear is not an OpenWrt router', () => {
  const h = notOpenWrtHost('dropbear');

  it('setup --dials 2 --dry-run: exit 7, not an OpenWrt router, no plan printed', async () => {
    const r = await runCli(['setup', '--dials', '2', '--dry-run', ...h.ssh()]);
    expectExit(r, 7);
    expect(r.stderr).toContain('owrt-ecmp: the router cannot run owrt-ecmp as asked');
    expect(r.stderr).toContain('this host is not an OpenWrt router (no /etc/openwrt_release)');
    expect(r.stdout).toBe('');
  });

  it('setup --dials 2 --dry-run --json: exit 7, the error as the one JSON document on stdout', async () => {
    const r = await runCli(['setup', '--dials', '2', '--dry-run', '--json', ...h.ssh()]);
    expectExit(r, 7);
    expect(r.stderr).toContain('not an OpenWrt router');
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'capability', exitCode: 7 } });
  });

  it('doctor: exit 7 with the problems and their fixes listed', async () => {
    const r = await runCli(['doctor', ...h.ssh()]);
    expectExit(r, 7);
    expect(r.stdout).toMatch(/^router: not OpenWrt, kernel /);
    expect(r.stdout).toMatch(/problems:\n {2}✗ this host is not an OpenWrt router \(no \/etc\/openwrt_release\)\n {4}fix: /);
    expect(r.stdout).toContain('--- support dump (every value not known to be harmless is masked) ---');
  });

  it('doctor --json: parses, problems non-empty', async () => {
    const r = await runCli(['doctor', '--json', ...h.ssh()]);
    expectExit(r, 7);
    const j = JSON.parse(r.stdout) as { schemaVersion: number; configured: boolean; router: { release: unknown }; problems: Array<{ what: string; fix: string }> };
    expect(j.schemaVersion).toBe(1);
    expect(j.configured).toBe(false);
    expect(j.router.release).toBeNull();
    expect(j.problems.length).toBeGreaterThan(0);
    expect(j.problems.map((p) => p.what)).toContain('this host is not an OpenWrt router (no /etc/openwrt_release)');
    for (const p of j.problems) expect(p.fix).not.toBe('');
  });

  statusCases(h);

  it('hotplug --print: exit 7, not set up', async () => {
    const r = await runCli(['hotplug', '--print', ...h.ssh()]);
    expectExit(r, 7);
    expect(r.stderr).toContain('owrt-ecmp is not set up on this router');
    expect(r.stdout).toBe('');
  });

  it('teardown --dry-run: prints "no changes", exit 0', async () => {
    const r = await runCli(['teardown', '--dry-run', ...h.ssh()]);
    expectExit(r, 0);
    expect(r.stdout.trim()).toBe('no changes');
  });

  it('secrets: the PPPoE password from the environment is in neither stdout nor stderr (--debug --verbose)', async () => {
    const env = { OWRT_ECMP_PPPOE_PASSWORD: SECRET, OWRT_ECMP_PPPOE_USERNAME: 'user-Kx81q@isp' };
    for (const extra of [[], ['--json']]) {
      const r = await runCli(['setup', '--dials', '2', '--dry-run', '--debug', '--verbose', ...extra, ...h.ssh()], env);
      expectExit(r, 7);
      expect(r.stderr).toContain('[debug] ssh exec: #1 sh -s'); // the transcript really was printed
      expect(r.stderr).toMatch(/1 SSH round trip\(s\)/);
      for (const out of [r.stdout, r.stderr]) {
        expect(out).not.toContain(SECRET);
        expect(out).not.toContain('Pw-7f3Kq');
        expect(out).not.toContain('user-Kx81q');
      }
    }
  });

  it('secrets: the PPPoE password from --password-file is in neither stdout nor stderr', async () => {
    const file = join(home, 'pppoe-password');
    writeFileSync(file, `${SECRET}\n`, { mode: 0o600 });
    try {
      const r = await runCli(['setup', '--dials', '2', '--dry-run', '--debug', '--verbose', '--password-file', file, ...h.ssh()]);
      expectExit(r, 7);
      expect(r.stdout + r.stderr).not.toContain('Pw-7f3Kq');
    } finally {
      rmSync(file, { force: true });
    }
  });

  nothingWritten(h);
});

describe.skipIf(!caps.openssh)('a Debian host over OpenSSH sshd is not an OpenWrt router', () => {
  const h = notOpenWrtHost('openssh');
  statusCases(h);
  nothingWritten(h);
});
