/**
 * doctor's support dump against real configs with real credentials in them, through the
 * real path: the built CLI, a real dropbear, and the router-side script run by BusyBox
 * (sh, awk, sed, grep) as on OpenWrt. The server's mount namespace gets the corpus as
 * /etc/config (an overlay only it sees) and a `logread` that prints log lines holding
 * some of the secrets. Every secret is grep-checked absent from stdout and stderr (with
 * --debug), in text and --json; harmless values must still be there.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSections } from '../../src/remote/run.js';
import { supportScript } from '../../src/support/dump.js';
import { canRunServers, makeClientKey, makeTempDir, startDropbear, type SshServer } from '../helpers/ssh-servers.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const CORPUS = join(ROOT, 'test', 'fixtures', 'redaction');
const BUSYBOX = ['/usr/bin/busybox', '/bin/busybox'].find((p) => existsSync(p));
const caps = canRunServers();

/** Every credential in the corpus (or a distinctive piece of it). */
const SECRETS = [
  'Pp0e-Pa55!wOrd', // PPPoE password
  'alice.k8x2', // PPPoE username
  'Comm3nted-0ld-pw', // a commented-out old password
  'lteuser77', // modem username
  'Pa$$-77', // modem password (double-quoted, with an escaped quote)
  'yAnz5TF+lXXJte14', // WireGuard private_key
  'FpCyhws9cxwWoV4x', // WireGuard preshared_key
  'xTIBA5rboUvnH4ht', // WireGuard public_key: harmless, but its name says key
  'Wifi-K3y-Sunflower', // wifi key
  'Sae-Pw-Tulip-992', // wifi sae_password
  'ddnsuser', // DDNS username
  'Ddns-Pw-Cactus-31', // DDNS password
  'S3cret-ish-Foo-Value', // unknown package, option foo
  'Peer-Token-Zebra', // unknown package, list peer
  'extra-token-Xq7', // a second token after an allowed option's value
  'Multi-L1ne-Secr3t', // the second line of a multi-line value
  'Unpars3d-Secr3t', // a line that is not UCI syntax
  'Staged-', // values of uncommitted `uci changes`
];

/** `uci -q changes network` with credentials staged, one of them over two lines. */
const UCI_STUB = `#!/bin/sh
[ "$3" = network ] || exit 0
printf '%s\\n' "network.wan.password='Staged-Pw-55'" "network.wan.username='Staged-User-66'" "-network.old" "network.wan.key='Staged-multi" "Staged-Line-Two network.x'"
`;
const STAGED_NAMES = 'network.wan.password\nnetwork.wan.username\n-network.old\nnetwork.wan.key';

/** Values known to be harmless: the dump is useless without them. */
const HARMLESS = [
  "option proto 'pppoe'",
  "option peerdns '0'",
  "option metric '41'",
  "option apn 'internet.example'",
  "option endpoint_host 'vpn.example.org'",
  "list allowed_ips '10.66.0.0/24'",
  "option listen_port '51820'",
  "option ula_prefix 'fd3c:5b2a:91e0::/48'",
  "list ports 'lan1'",
  "option ssid 'HomeNet-5G'",
  "option encryption 'sae-mixed'",
  "option htmode 'HE80'",
  "option service_name 'dyndns.org'",
  "option mtu_fix '1'",
  "option dns 9.9.9.9",
];

const LOG = [
  "Thu Dec  3 12:00:01 2026 daemon.notice netifd: Interface 'wan' is now up",
  'Thu Dec  3 12:00:02 2026 daemon.debug pppd[1234]: sent [PAP AuthReq id=0x1 user="alice.k8x2@isp-example.net" password="Pp0e-Pa55!wOrd"]',
  'Thu Dec  3 12:00:03 2026 user.notice owrt-ecmp: wg0 came up with Sae-Pw-Tulip-992 in its way',
];

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

let server: SshServer;
let dir = '';
let ssh: string[] = [];

function runCli(args: string[]): Promise<CliResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, NO_COLOR: '1', LANG: 'C.UTF-8' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', rej);
    child.once('close', (code) => res({ code, stdout, stderr }));
  });
}

/** Mounts only the server sees: the corpus as /etc/config, BusyBox as sh/awk/sed/grep, a logread. */
function routerLike(): string[] {
  const upper = join(dir, 'etc-upper');
  mkdirSync(join(upper, 'config'), { recursive: true });
  mkdirSync(join(dir, 'etc-work'));
  for (const f of readdirSync(CORPUS)) cpSync(join(CORPUS, f), join(upper, 'config', f));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(dir, 'log.txt'), `${LOG.join('\n')}\n`);
  writeFileSync(join(bin, 'logread'), `#!/bin/sh\ncat '${join(dir, 'log.txt')}'\n`, { mode: 0o755 });
  writeFileSync(join(bin, 'uci'), UCI_STUB, { mode: 0o755 });
  return [
    `mount -t overlay overlay -o lowerdir=/etc,upperdir=${upper},workdir=${join(dir, 'etc-work')} /etc`,
    `mount --bind ${bin} /usr/local/bin`,
    // sh last: the lines before still run under the shell that started them
    ...['awk', 'sed', 'grep', 'sh'].map((b) => `mount --bind ${BUSYBOX} "$(readlink -f "$(command -v ${b})")"`),
  ];
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  dir = await makeTempDir('owrt-ecmp-redact-');
  if (!caps.dropbear || !BUSYBOX) return;
  const key = await makeClientKey(dir, 'client');
  server = await startDropbear({ authorizedKeys: [key.publicLine], namespaceSetup: routerLike() });
  const kh = join(dir, 'known_hosts');
  writeFileSync(kh, `[127.0.0.1]:${server.port} ${server.hostPublicKey}\n`);
  ssh = ['--host', `root@127.0.0.1:${server.port}`, '--identity', key.file, '--known-hosts', kh];
});

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function noSecrets(r: CliResult): void {
  for (const out of [r.stdout, r.stderr]) {
    for (const s of SECRETS) expect(out, `leaked ${s}`).not.toContain(s);
    expect(out).not.toMatch(/pincode\s+'?4921/);
  }
}

describe.skipIf(!caps.dropbear || !BUSYBOX)('doctor support dump: allow-list redaction on the router', () => {
  it('--json --debug: no secret anywhere, harmless values kept, every config present', async () => {
    const r = await runCli(['doctor', '--json', '--debug', '--verbose', ...ssh]);
    expect(r.code, r.stderr).toBe(7); // the host is no OpenWrt router; the dump is made all the same
    expect(r.stderr).toContain('[debug] ssh exec'); // the transcript was really printed
    noSecrets(r);
    const j = JSON.parse(r.stdout) as { pendingUciChanges: number; dump: { config: Record<string, string>; log: string } };
    expect(j.pendingUciChanges).toBe(4);
    expect(Object.keys(j.dump.config).sort()).toEqual(['acme-tunnel', 'ddns', 'firewall', 'network', 'owrt_ecmp', 'wireless']);
    const all = Object.values(j.dump.config).join('\n');
    for (const h of HARMLESS) expect(all).toContain(h);
    expect(j.dump.config.network).toContain("option private_key '<redacted>'");
    expect(j.dump.config.network).toContain("option pincode '<redacted>'");
    expect(j.dump.config.wireless).toContain("option sae_password '<redacted>'");
    // an unknown package: structure shown, every value masked, even a harmless-looking one
    expect(j.dump.config['acme-tunnel']).toBe("config tunnel 'main'\n\toption foo '<redacted>'\n\toption enabled '<redacted>'\n\tlist peer '<redacted>'");
    expect(j.dump.log).toContain("Interface 'wan' is now up");
    expect(j.dump.log).toContain('password="<redacted>"');
  });

  it('text: no secret anywhere, harmless values kept', async () => {
    const r = await runCli(['doctor', '--debug', ...ssh]);
    expect(r.code, r.stderr).toBe(7);
    noSecrets(r);
    expect(r.stdout).toContain('--- support dump (every value not known to be harmless is masked) ---');
    for (const p of ['network', 'firewall', 'wireless', 'ddns', 'acme-tunnel']) expect(r.stdout).toContain(`## /etc/config/${p}\n`);
    for (const h of HARMLESS) expect(r.stdout).toContain(h);
  });

  it('a mask is the same whatever the length of the secret', async () => {
    const r = await runCli(['doctor', '--json', ...ssh]);
    const masks = new Set(r.stdout.match(/'<[^']*>'/g));
    expect([...masks]).toEqual(["'<redacted>'"]);
  });
});

describe.skipIf(!BUSYBOX)('what the router sends back (the script run by BusyBox sh, no SSH)', () => {
  it('staged uci changes go as option names only, never their values', () => {
    const stub = join(dir, 'stub-bin');
    mkdirSync(stub, { recursive: true });
    writeFileSync(join(stub, 'uci'), UCI_STUB, { mode: 0o755 });
    const r = spawnSync(BUSYBOX as string, ['sh', '-s'], { input: supportScript(), encoding: 'utf8', env: { PATH: `${stub}:/usr/sbin:/usr/bin:/sbin:/bin` } });
    expect(parseSections(r.stdout).get('uci_changes')).toBe(STAGED_NAMES);
    expect(r.stdout).not.toContain('Staged-');
  });
});
