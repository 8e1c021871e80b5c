/**
 * `--json` on every command and every failure reachable without a lab router: the real
 * built CLI against real SSH servers (dropbear, OpenSSH) on loopback, whose host is this
 * Debian machine, not OpenWrt. Each run must print exactly one JSON document on stdout,
 * valid against the published schema, with the exit code unchanged.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, type CliResult, runCli } from '../helpers/run-cli.js';
import { type SchemaName, schemaErrors, undocumentedFields } from '../helpers/schemas.js';
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

const caps = canRunServers();
let work = '';
let home = '';

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  work = await makeTempDir('owrt-ecmp-json-');
  home = join(work, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

interface ErrorDoc {
  error: { code: string; exitCode: number; message: string; hint: string | null; hostKey?: { fingerprint: string; kind: string } };
}

/** stdout is one JSON document (nothing before or after it), valid against `schema`; the exit code is `code`. */
function oneDocument<T = Record<string, unknown>>(r: CliResult, schema: SchemaName, code: number): T {
  const all = `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  expect(r.code, all).toBe(code);
  expect(r.stdout, all).toMatch(/^\{\n[^]*\n\}\n$/);
  const doc = JSON.parse(r.stdout) as T;
  expect(schemaErrors(schema, doc), all).toBe('');
  // every field the CLI prints is in the published schema, not only allowed by it
  expect(undocumentedFields(schema, doc), all).toEqual([]);
  return doc;
}

function errorDocument(r: CliResult, code: string, exitCode: number): ErrorDoc['error'] {
  const doc = oneDocument<ErrorDoc>(r, 'error', exitCode);
  expect(doc.error.code).toBe(code);
  expect(doc.error.exitCode).toBe(exitCode);
  // the person at the terminal still reads the same message on stderr
  expect(r.stderr).toContain(`owrt-ecmp: ${doc.error.message.split('\n')[0]}`);
  return doc.error;
}

describe('usage errors with --json: one error document, exit 2, no connection', () => {
  let listener: CountingListener;
  let port = 0;

  beforeAll(async () => {
    listener = await countingListener();
    port = listener.port;
  });

  afterAll(async () => {
    await listener.close();
  });

  const host = (): string[] => ['--host', `127.0.0.1:${port}`];
  const cases: Array<{ name: string; args: () => string[]; message: RegExp }> = [
    { name: 'setup --dials 0', args: () => ['setup', '--json', '--dials', '0', ...host()], message: /^--dials must be from 1 to 64, got 0$/ },
    { name: 'status without --host', args: () => ['status', '--json'], message: /^no router given$/ },
    { name: 'teardown --rollback-timeout 5', args: () => ['teardown', '--json', '--rollback-timeout', '5', ...host()], message: /--rollback-timeout must be from 30 to 3600/ },
    { name: 'unknown option (commander)', args: () => ['doctor', '--json', '--bogus', ...host()], message: /^unknown option '--bogus'$/ },
    { name: 'bad choice (commander)', args: () => ['setup', '--dials', '2', '--ipv6', 'both', ...host(), '--json'], message: /argument 'both' is invalid/ },
    { name: 'missing option value (commander)', args: () => ['hotplug', '--json', '--host'], message: /argument missing/ },
    { name: 'unknown command (commander)', args: () => ['frobnicate', '--json'], message: /unknown (command|option)/ },
  ];

  it.each(cases)('$name', async ({ args, message }) => {
    const r = await runCli(args(), home);
    const doc = oneDocument<ErrorDoc>(r, 'error', 2);
    expect(doc.error.code).toBe('usage');
    expect(doc.error.message).toMatch(message);
    expect(listener.connections()).toBe(0);
  });

  it('without --json the same usage error leaves stdout empty (control)', async () => {
    const r = await runCli(['doctor', '--bogus', ...host()], home);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
  });
});

describe('connection refused with --json: every command, exit 3', () => {
  const commands = [['status'], ['doctor'], ['setup', '--dials', '2', '--dry-run'], ['teardown', '--dry-run'], ['hotplug', '--dry-run']];
  it.each(commands)('%s', async (...cmd) => {
    const port = await freePort();
    const r = await runCli([...cmd, '--json', '--host', `127.0.0.1:${port}`, '--known-hosts', join(home, 'kh-closed')], home);
    const e = errorDocument(r, 'connect', 3);
    expect(e.message).toContain(`connection refused by 127.0.0.1:${port}`);
    expect(e.hint).toMatch(/nothing listens there/);
  });
});

describe.skipIf(!caps.dropbear)('host key and authentication failures with --json (dropbear)', () => {
  let server: SshServer;
  let dir = '';
  let key: ClientKey;
  let stranger: ClientKey;

  beforeAll(async () => {
    dir = await makeTempDir('owrt-ecmp-json-conn-');
    key = await makeClientKey(dir, 'client');
    stranger = await makeClientKey(dir, 'stranger');
    server = await startDropbear({ authorizedKeys: [key.publicLine] });
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const ssh = (kh: string, identity = key.file) => ['--host', `127.0.0.1:${server.port}`, '--identity', identity, '--known-hosts', kh];

  it('unknown host key: exit 5, code host-key, the real fingerprint', async () => {
    const kh = join(dir, 'kh-unknown');
    writeFileSync(kh, '');
    const e = errorDocument(await runCli(['status', '--json', ...ssh(kh)], home), 'host-key', 5);
    expect(e.hostKey).toEqual({ fingerprint: server.hostFingerprint, kind: 'unknown' });
    expect(e.hint).toContain('--accept-new');
  });

  it('changed host key: exit 5, kind changed', async () => {
    const other = await makeDropbearHostKey(join(dir, 'other_key'));
    const kh = join(dir, 'kh-changed');
    writeFileSync(kh, `[127.0.0.1]:${server.port} ${other.publicKey}\n`);
    const e = errorDocument(await runCli(['doctor', '--json', ...ssh(kh)], home), 'host-key', 5);
    expect(e.hostKey).toEqual({ fingerprint: server.hostFingerprint, kind: 'changed' });
  });

  it('a client key the server refuses: exit 4, code auth', async () => {
    const kh = join(dir, 'kh-auth');
    writeFileSync(kh, `[127.0.0.1]:${server.port} ${server.hostPublicKey}\n`);
    const e = errorDocument(await runCli(['setup', '--dials', '2', '--json', ...ssh(kh, stranger.file)], home), 'auth', 4);
    expect(e.message).toContain(`root@127.0.0.1:${server.port}`);
  });
});

/** A reachable Debian host: every command with --json prints one document. */
function notOpenWrt(kind: 'dropbear' | 'openssh') {
  let server: SshServer;
  let dir = '';
  let ssh: string[] = [];

  beforeAll(async () => {
    dir = await makeTempDir(`owrt-ecmp-json-${kind}-`);
    const key = await makeClientKey(dir, 'client');
    server = kind === 'dropbear' ? await startDropbear({ authorizedKeys: [key.publicLine] }) : await startOpenSsh({ authorizedKeys: [key.publicLine] });
    const kh = join(dir, 'known_hosts');
    writeFileSync(kh, `[127.0.0.1]:${server.port} ${server.hostPublicKey}\n`);
    ssh = ['--host', `root@127.0.0.1:${server.port}`, '--identity', key.file, '--known-hosts', kh];
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (args: string[]) => runCli([...args, ...ssh], home);

  it('status --json --verbose --debug: the status document only (the transcript goes to stderr), exit 8', async () => {
    const r = await run(['status', '--json', '--verbose', '--debug']);
    const doc = oneDocument<{ configured: boolean; healthy: boolean }>(r, 'status', 8);
    expect(doc).toMatchObject({ configured: false, healthy: false });
    expect(r.stderr).toContain('[debug] ssh exec');
  });

  it('doctor --json: valid against doctor.schema.json, exit 7', async () => {
    const doc = oneDocument<{ router: { release: unknown }; problems: Array<{ what: string }> }>(await run(['doctor', '--json']), 'doctor', 7);
    expect(doc.router.release).toBeNull();
    expect(doc.problems.map((p) => p.what)).toContain('this host is not an OpenWrt router (no /etc/openwrt_release)');
  });

  for (const extra of [['--dry-run'], ['--yes']]) {
    it(`setup --dials 2 ${extra.join(' ')} --json: a capability error document, exit 7`, async () => {
      const e = errorDocument(await run(['setup', '--dials', '2', ...extra, '--json']), 'capability', 7);
      expect(e.message).toContain('this host is not an OpenWrt router (no /etc/openwrt_release)');
    });
  }

  for (const extra of [[], ['--dry-run'], ['--print']]) {
    it(`hotplug ${extra.join(' ')} --json: not set up, a capability error document, exit 7`, async () => {
      const e = errorDocument(await run(['hotplug', ...extra, '--json']), 'capability', 7);
      expect(e.hint).toMatch(/owrt-ecmp setup --dials N/);
    });
  }

  for (const extra of [['--dry-run'], ['--yes']]) {
    it(`teardown ${extra.join(' ')} --json: nothing to remove, {changes:false}, exit 0`, async () => {
      const doc = oneDocument<Record<string, unknown>>(await run(['teardown', ...extra, '--json']), 'change', 0);
      expect(doc).toMatchObject({ schemaVersion: 1, command: 'teardown', dryRun: extra[0] === '--dry-run', changes: false, applied: false });
      expect(doc.plan).toMatchObject({ summary: { headline: 'no changes', empty: true } });
    });
  }

  it('teardown --dry-run without --json: "no changes" as text (control)', async () => {
    const r = await run(['teardown', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('no changes\n');
  });
}

describe.skipIf(!caps.dropbear)('a Debian host over dropbear: --json on every command', () => notOpenWrt('dropbear'));
describe.skipIf(!caps.openssh)('a Debian host over OpenSSH: --json on every command', () => notOpenWrt('openssh'));
