/**
 * The package as a user gets it: `npm pack` on a clean copy of the repository (no dist/,
 * so the tarball only has code if `prepack` builds it), a global install of that tarball
 * into a temp prefix, then the installed `owrt-ecmp` binary: every command's --help, and
 * every command for real against a real SSH server (dropbear on loopback; this Debian host is
 * not OpenWrt, so each ends in its documented refusal). --help loads no command module (they
 * load lazily), so only a real run shows the installed package has its runtime dependencies
 * (ssh2, handlebars, ssh-config) and finds its templates and router files.
 *
 * Dependencies come from the npm cache, or the npm registry when the cache lacks them.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunServers, makeClientKey, makeTempDir, startDropbear, type SshServer } from '../helpers/ssh-servers.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');
const COMMANDS = ['setup', 'probe-dials', 'status', 'hotplug', 'doctor', 'teardown'];
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

let tmp = '';
let files: string[] = [];
let bin = '';

/** What a clean clone holds: tracked files plus new ones not ignored; never dist/, .lab or node_modules. */
async function cleanCopy(to: string): Promise<void> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, maxBuffer: 64 << 20 });
  for (const f of stdout.split('\0').filter(Boolean)) {
    if (f === 'node_modules' || f.startsWith('dist/') || !existsSync(join(ROOT, f))) continue;
    mkdirSync(join(to, f, '..'), { recursive: true });
    cpSync(join(ROOT, f), join(to, f));
  }
  // the build needs typescript: the same node_modules, not a fresh install
  symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(to, 'node_modules'));
}

beforeAll(async () => {
  tmp = await makeTempDir('owrt-ecmp-pack-');
  const copy = join(tmp, 'clone');
  const out = join(tmp, 'out');
  const prefix = join(tmp, 'global');
  mkdirSync(out);
  await cleanCopy(copy);
  expect(existsSync(join(copy, 'dist'))).toBe(false);
  const packed = await run('npm', ['pack', '--json', '--pack-destination', out], { cwd: copy, maxBuffer: 64 << 20 });
  // prepack's own output comes before the JSON document
  const json = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('\n[') + 1)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const info = json[0];
  if (!info) throw new Error(`npm pack printed no package: ${packed.stdout}`);
  files = info.files.map((f) => f.path).sort();
  await run(
    'npm',
    ['install', '-g', '--prefix', prefix, join(out, info.filename), '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
    { cwd: tmp, maxBuffer: 64 << 20 },
  );
  bin = join(prefix, 'bin', 'owrt-ecmp');
}, 240_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('npm pack → global install', () => {
  it('the tarball holds the built code, templates, router files, LICENSE, README and package.json', () => {
    for (const f of ['dist/cli.js', 'dist/commands/setup.js', 'LICENSE', 'README.md', 'package.json', 'openwrt-files/owrt-ecmp.sh', 'templates/apply.sh.hbs']) {
      expect(files, f).toContain(f);
    }
    const top = new Set(files.map((f) => f.split('/')[0]));
    expect([...top].sort()).toEqual(['LICENSE', 'README.md', 'dist', 'openwrt-files', 'package.json', 'schemas', 'templates']);
  });

  it('ships no tests, lab, sources without maps, or maps without sources', () => {
    expect(files.filter((f) => /^(test|\.lab|src|bench|scripts|docs)\//.test(f))).toEqual([]);
    for (const map of files.filter((f) => f.endsWith('.map'))) {
      const m = JSON.parse(readFileSync(join(tmp, 'global', 'lib', 'node_modules', 'owrt-ecmp', map), 'utf8')) as { sources: string[]; sourcesContent?: string[] };
      expect(m.sourcesContent?.length, `${map} carries its sources`).toBe(m.sources.length);
    }
  });

  it('the installed owrt-ecmp --version prints the package version', async () => {
    const r = await run(bin, ['--version']);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('the installed owrt-ecmp --help lists every command', async () => {
    const r = await run(bin, ['--help']);
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^ {2}${c}\\b`, 'm'));
  });

  it.each(COMMANDS)('the installed owrt-ecmp %s --help exits 0', async (c) => {
    const r = await run(bin, [c, '--help']);
    expect(r.stdout).toContain(`Usage: owrt-ecmp ${c} [options]`);
  });
});

/** The installed binary with only PATH and HOME: no agent, no OWRT_ECMP_* from the caller. */
function runInstalled(args: string[], home: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(bin, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, NO_COLOR: '1' }, timeout: 60_000 }, (e, stdout, stderr) =>
      res({ code: e ? Number((e as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe.skipIf(!canRunServers().dropbear)('the installed package runs every command against a real SSH server', () => {
  let server: SshServer;
  let ssh: string[] = [];
  let home = '';

  beforeAll(async () => {
    home = join(tmp, 'home');
    mkdirSync(home);
    const key = await makeClientKey(tmp, 'client');
    server = await startDropbear({ authorizedKeys: [key.publicLine] });
    writeFileSync(join(tmp, 'known_hosts'), `[127.0.0.1]:${server.port} ${server.hostPublicKey}\n`);
    ssh = ['--host', `root@127.0.0.1:${server.port}`, '--identity', key.file, '--known-hosts', join(tmp, 'known_hosts'), '--json'];
  });

  afterAll(async () => {
    await server?.stop();
  });

  // the refusal each command gives a host that is not OpenWrt (as through dist/cli.js in json-cli.test.ts)
  const cases: Array<[string, number, RegExp]> = [
    ['status', 8, /"configured": false/],
    ['doctor', 7, /this host is not an OpenWrt router/],
    ['setup --dials 2 --dry-run', 7, /this host is not an OpenWrt router/],
    ['probe-dials --max 2', 7, /this host is not an OpenWrt router/],
    ['hotplug --dry-run', 7, /owrt-ecmp setup --dials N/],
    ['teardown --dry-run', 0, /"changes": false/],
  ];
  it.each(cases)('owrt-ecmp %s: exit %i, one JSON document', async (cmd, code, text) => {
    const r = await runInstalled([...cmd.split(' '), ...ssh], home);
    const all = `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
    expect(r.stderr, all).not.toMatch(/unexpected error|Cannot find (module|package)|ENOENT/);
    expect(r.code, all).toBe(code);
    expect(() => JSON.parse(r.stdout), all).not.toThrow();
    expect(r.stdout, all).toMatch(text);
  });
});
