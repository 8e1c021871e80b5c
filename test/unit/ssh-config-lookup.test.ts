/**
 * How a host is resolved: `ssh -G` output parsing (pure), the real `ssh -G` (OpenSSH's own
 * evaluation, no network) when ssh is on PATH, and the built-in fallback when it is not.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandGlob, loadConfigText } from '../../src/ssh/config-file.js';
import { findSsh, list, one, parseSshG } from '../../src/ssh/ssh-g.js';
import { hostKeyPolicy, resolveTarget } from '../../src/ssh/target.js';

const hasSsh = findSsh(process.env) !== undefined;
let home: string;
let cfg: string;
const withSsh = (): NodeJS.ProcessEnv => ({ HOME: home, PATH: process.env.PATH ?? '/usr/bin:/bin' });
const noSsh = (): NodeJS.ProcessEnv => ({ HOME: home, PATH: join(home, 'empty-bin') });

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'owrt-ecmp-lookup-'));
  mkdirSync(join(home, '.ssh', 'conf.d'), { recursive: true });
  mkdirSync(join(home, 'empty-bin'));
  writeFileSync(join(home, '.ssh', 'router_key'), 'x');
  writeFileSync(join(home, '.ssh', 'conf.d', '10-router.conf'), ['Host incl', '  HostName 10.1.1.1', '  Port 2201', '  IdentityFile ~/.ssh/router_key', ''].join('\n'));
  writeFileSync(join(home, '.ssh', 'conf.d', '20-other.conf'), ['Host incl2', '  HostName 10.2.2.2', ''].join('\n'));
  writeFileSync(join(home, '.ssh', 'conf.d', 'skip.txt'), 'Host incl\n  HostName 6.6.6.6\n');
  cfg = join(home, 'ssh_config');
  writeFileSync(
    cfg,
    [
      `Include ${join(home, '.ssh', 'conf.d', '*.conf')}`,
      'Host matched',
      '  HostName 10.3.3.3',
      `Match originalhost matched exec "test -d ${home}"`,
      '  Port 2299',
      '  User matchuser',
      'Host proxied',
      '  ProxyCommand relay --to %h:%p --as %r --alias %n',
      '  HostName 10.4.4.4',
      'Host strict',
      '  StrictHostKeyChecking yes',
      '  HashKnownHosts yes',
      '  UserKnownHostsFile ~/kh-one ~/kh-two',
      '  ConnectTimeout 4',
      '',
    ].join('\n'),
  );
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('parseSshG', () => {
  it('keeps repeated keywords in order, lower-cases keys, treats none as unset', () => {
    const o = parseSshG('User bob\nidentityfile ~/.ssh/a\nidentityfile ~/.ssh/b\nuserknownhostsfile /x/kh /x/kh2\nproxycommand none\nconnecttimeout none\n');
    expect(one(o, 'user')).toBe('bob');
    expect(o.get('identityfile')).toEqual(['~/.ssh/a', '~/.ssh/b']);
    expect(list(o, 'userknownhostsfile')).toEqual(['/x/kh', '/x/kh2']);
    expect(one(o, 'proxycommand')).toBeUndefined();
    expect(one(o, 'connecttimeout')).toBeUndefined();
  });

  it('maps StrictHostKeyChecking values', () => {
    expect(['yes', 'true', 'no', 'off', 'false', 'accept-new', 'ask', undefined].map(hostKeyPolicy))
      .toEqual(['yes', 'yes', 'no', 'no', 'no', 'accept-new', 'ask', 'ask']);
  });
});

describe.skipIf(!hasSsh)('resolveTarget through ssh -G', () => {
  const r = (host: string, extra = {}) => resolveTarget({ host, sshConfigFile: cfg, ...extra }, withSsh());

  it('follows Include with a glob (only *.conf), applies the identity from the included file', () => {
    const t = r('incl');
    expect(t).toMatchObject({ host: '10.1.1.1', port: 2201, user: 'root', alias: 'incl' });
    expect(t.identityFiles[0]).toBe(join(home, '.ssh', 'router_key'));
    expect(r('incl2').host).toBe('10.2.2.2');
  });

  it('honours Match (exec included), with -l/-p passed through so Match sees them', () => {
    expect(r('matched')).toMatchObject({ host: '10.3.3.3', port: 2299, user: 'matchuser' });
    expect(r('matched', { user: 'flag', port: 2000 })).toMatchObject({ port: 2000, user: 'flag' });
  });

  it('expands ProxyCommand tokens', () => {
    expect(r('proxied').proxyCommand).toBe('relay --to 10.4.4.4:22 --as root --alias proxied');
    expect(r('incl').proxyCommand).toBeUndefined();
  });

  it('takes StrictHostKeyChecking, HashKnownHosts, every UserKnownHostsFile and ConnectTimeout; flags win', () => {
    const t = r('strict');
    expect(t.strictHostKeyChecking).toBe('yes');
    expect(t.hashKnownHosts).toBe(true);
    expect(t.knownHostsFile).toBe(join(home, 'kh-one'));
    expect(t.knownHostsFiles.slice(0, 2)).toEqual([join(home, 'kh-one'), join(home, 'kh-two')]);
    expect(t.readyTimeoutMs).toBe(4000);
    const f = r('strict', { acceptNew: true, knownHosts: join(home, 'flag-kh'), connectTimeoutMs: 1000 });
    expect(f).toMatchObject({ strictHostKeyChecking: 'accept-new', knownHostsFile: join(home, 'flag-kh'), readyTimeoutMs: 1000 });
  });

  it('a missing --ssh-config means no config: root, port 22, the name as typed', () => {
    const t = resolveTarget({ host: 'incl', sshConfigFile: join(home, 'nope') }, withSsh());
    expect(t).toMatchObject({ host: 'incl', port: 22, user: 'root', strictHostKeyChecking: 'ask' });
  });

  it('reports a config ssh rejects as a UsageError naming ssh -G', () => {
    const bad = join(home, 'bad_config');
    writeFileSync(bad, 'Host x\n  NoSuchDirective yes\n');
    expect(() => resolveTarget({ host: 'x', sshConfigFile: bad }, withSsh())).toThrow(/ssh could not evaluate its config/);
  });
});

describe('resolveTarget without ssh on PATH (built-in parser)', () => {
  it('follows Include: relative to ~/.ssh, globbed in sorted order, nested', () => {
    const rel = join(home, 'rel_config');
    writeFileSync(rel, 'Include conf.d/*.conf\n');
    const t = resolveTarget({ host: 'incl', sshConfigFile: rel }, noSsh());
    expect(t).toMatchObject({ host: '10.1.1.1', port: 2201 });
    expect(t.identityFiles[0]).toBe(join(home, '.ssh', 'router_key'));
  });

  it('honours StrictHostKeyChecking, HashKnownHosts, UserKnownHostsFile lists and ProxyCommand', () => {
    const t = resolveTarget({ host: 'strict', sshConfigFile: cfg }, noSsh());
    expect(t).toMatchObject({ strictHostKeyChecking: 'yes', hashKnownHosts: true, knownHostsFile: join(home, 'kh-one'), readyTimeoutMs: 4000 });
    expect(t.knownHostsFiles).toEqual([join(home, 'kh-one'), join(home, 'kh-two')]);
    expect(resolveTarget({ host: 'proxied', sshConfigFile: cfg }, noSsh()).proxyCommand).toBe('relay --to 10.4.4.4:22 --as root --alias proxied');
  });

  it('warns once for what it cannot honour (Match exec), and does not run it', () => {
    const warnings: string[] = [];
    const t = resolveTarget({ host: 'matched', sshConfigFile: cfg }, noSsh(), (m) => warnings.push(m));
    expect(t.port).toBe(22);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/Match originalhost matched exec .*install OpenSSH/);
  });
});

describe('loadConfigText / expandGlob', () => {
  it('inlines an Include where it stands; a pattern matching nothing adds nothing', () => {
    const f = join(home, 'inline_config');
    writeFileSync(f, `Host a\n  Include ${join(home, 'nothing-*')}\n  Include "${join(home, '.ssh', 'conf.d', '20-other.conf')}"\n`);
    expect(loadConfigText(f, home)?.text).toBe(`Host a\n\nHost incl2\n  HostName 10.2.2.2\n\n`);
    expect(loadConfigText(join(home, 'missing'), home)).toBeUndefined();
  });

  it('stops an Include loop', () => {
    const f = join(home, 'loop_config');
    writeFileSync(f, `Include ${f}\n`);
    expect(() => loadConfigText(f, home)).toThrow(/nested deeper/);
  });

  it('globs in any component, skips dot files', () => {
    writeFileSync(join(home, '.ssh', 'conf.d', '.hidden.conf'), '');
    expect(expandGlob(join(home, '.ssh', 'c*', '*.conf'))).toEqual([
      join(home, '.ssh', 'conf.d', '10-router.conf'),
      join(home, '.ssh', 'conf.d', '20-other.conf'),
    ]);
    expect(existsSync(join(home, '.ssh', 'conf.d', '.hidden.conf'))).toBe(true);
  });
});
