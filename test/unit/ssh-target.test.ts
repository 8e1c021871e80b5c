import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { parseHostSpec, resolveTarget, type TargetOptions } from '../../src/ssh/index.js';

let home: string;
let cfg: string;
const env = (): NodeJS.ProcessEnv => ({ HOME: home, SSH_AUTH_SOCK: '/run/agent.sock', USER: 'me' });
const resolve = (o: Partial<TargetOptions> & { host: string }, e = env()) => resolveTarget({ sshConfigFile: cfg, ...o }, e);

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'owrt-ecmp-target-'));
  mkdirSync(join(home, '.ssh'));
  for (const k of ['id_ed25519', 'id_rsa', 'router_key', 'jump_key', 'explicit_key']) writeFileSync(join(home, '.ssh', k), 'x');
  cfg = join(home, 'ssh_config');
  writeFileSync(
    cfg,
    [
      'Host router',
      '  HostName 192.168.1.1',
      '  User admin',
      '  Port 2222',
      '  IdentityFile ~/.ssh/router_key',
      '  IdentityFile ~/.ssh/missing_key',
      '  ProxyJump bastion',
      '  ConnectTimeout 7',
      'Host bastion',
      '  HostName jump.example',
      '  User hop',
      '  IdentityFile %d/.ssh/jump_key',
      'Host chain',
      '  HostName 10.9.9.9',
      '  ProxyJump hop1@a.example:2201,b.example',
      'Host loop1',
      '  ProxyJump loop2',
      'Host loop2',
      '  ProxyJump loop1',
      'Host noagent',
      '  IdentityAgent none',
      'Host *.home',
      '  HostName %h.internal',
      'Match exec "touch /tmp/owrt-ecmp-match-exec-ran"',
      '  User pwned',
      '',
    ].join('\n'),
  );
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('parseHostSpec', () => {
  it.each([
    ['router', { host: 'router' }],
    ['root@192.168.1.1', { host: '192.168.1.1', user: 'root' }],
    ['root@192.168.1.1:2222', { host: '192.168.1.1', user: 'root', port: 2222 }],
    ['[::1]:2222', { host: '::1', port: 2222 }],
    ['admin@[fe80::1%eth0]:22', { host: 'fe80::1%eth0', user: 'admin', port: 22 }],
    ['[::1]', { host: '::1' }],
    ['fd00::1', { host: 'fd00::1' }],
    ['ssh://u@h:2200', { host: 'h', user: 'u', port: 2200 }],
  ])('%s', (spec, want) => expect(parseHostSpec(spec)).toEqual(want));

  it.each(['', 'host:0', 'host:65536', 'host:abc', '@host', '[::1]:x', 'a b'])('rejects %j', (spec) => {
    expect(() => parseHostSpec(spec)).toThrow(UsageError);
  });
});

describe('resolveTarget', () => {
  it('defaults: root, port 22, default keys that exist, ~/.ssh/known_hosts, agent from env', () => {
    const t = resolve({ host: '192.168.1.1' });
    expect(t).toEqual({
      host: '192.168.1.1',
      port: 22,
      user: 'root',
      identityFiles: [join(home, '.ssh', 'id_ed25519'), join(home, '.ssh', 'id_rsa')],
      knownHostsFile: join(home, '.ssh', 'known_hosts'),
      knownHostsFiles: [join(home, '.ssh', 'known_hosts')],
      strictHostKeyChecking: 'ask',
      hashKnownHosts: false,
      agent: '/run/agent.sock',
      readyTimeoutMs: 10_000,
    });
  });

  it('honours HostName, User, Port, IdentityFile, ConnectTimeout and ProxyJump from ssh config', () => {
    const t = resolve({ host: 'router' });
    expect(t.host).toBe('192.168.1.1');
    expect(t.alias).toBe('router');
    expect(t.user).toBe('admin');
    expect(t.port).toBe(2222);
    expect(t.readyTimeoutMs).toBe(7000);
    // config keys before default keys; a missing IdentityFile is skipped
    expect(t.identityFiles).toEqual([join(home, '.ssh', 'router_key'), join(home, '.ssh', 'id_ed25519'), join(home, '.ssh', 'id_rsa')]);
    expect(t.proxyJump).toMatchObject({ host: 'jump.example', user: 'hop', port: 22, alias: 'bastion' });
    expect(t.proxyJump?.identityFiles[0]).toBe(join(home, '.ssh', 'jump_key'));
    expect(t.proxyJump?.proxyJump).toBeUndefined();
  });

  it('lets explicit flags win over the host string and ssh config', () => {
    const t = resolve({
      host: 'someone@router:2022',
      user: 'flaguser',
      port: 2200,
      identity: '~/.ssh/explicit_key',
      knownHosts: '~/kh',
      acceptNew: true,
      connectTimeoutMs: 1500,
    });
    expect(t).toMatchObject({ host: '192.168.1.1', user: 'flaguser', port: 2200, strictHostKeyChecking: 'accept-new', readyTimeoutMs: 1500 });
    expect(t.knownHostsFile).toBe(join(home, 'kh'));
    expect(t.identityFiles[0]).toBe(join(home, '.ssh', 'explicit_key'));
    expect(t.identityFiles[1]).toBe(join(home, '.ssh', 'router_key'));
    // the host string still beats ssh config
    expect(resolve({ host: 'someone@router:2022' })).toMatchObject({ user: 'someone', port: 2022 });
    // known_hosts, accept-new and identity carry over to the jump host; user and port do not
    expect(t.proxyJump).toMatchObject({ user: 'hop', port: 22, strictHostKeyChecking: 'accept-new', knownHostsFile: join(home, 'kh') });
    expect(t.proxyJump?.identityFiles[0]).toBe(join(home, '.ssh', 'explicit_key'));
  });

  it('accepts [::1]:2222 and user@host:port', () => {
    expect(resolve({ host: '[::1]:2222' })).toMatchObject({ host: '::1', port: 2222, user: 'root' });
    expect(resolve({ host: 'admin@10.0.0.1:2200' })).toMatchObject({ host: '10.0.0.1', port: 2200, user: 'admin' });
    expect(resolve({ host: 'admin@10.0.0.1:2200' }).alias).toBeUndefined();
  });

  it('expands %h in HostName', () => {
    expect(resolve({ host: 'nas.home' })).toMatchObject({ host: 'nas.home.internal', alias: 'nas.home' });
  });

  it('resolves a ProxyJump chain a,b as target ← b ← a', () => {
    const t = resolve({ host: 'chain' });
    expect(t.host).toBe('10.9.9.9');
    expect(t.proxyJump).toMatchObject({ host: 'b.example', port: 22, user: 'root' });
    expect(t.proxyJump?.proxyJump).toMatchObject({ host: 'a.example', port: 2201, user: 'hop1' });
    expect(t.proxyJump?.proxyJump?.proxyJump).toBeUndefined();
  });

  it('stops a ProxyJump loop with UsageError', () => {
    expect(() => resolve({ host: 'loop1' })).toThrow(UsageError);
  });

  it('honours IdentityAgent none and a missing SSH_AUTH_SOCK', () => {
    expect(resolve({ host: 'noagent' }).agent).toBeUndefined();
    expect(resolve({ host: 'x' }, { HOME: home }).agent).toBeUndefined();
  });

  it('never runs Match exec', () => {
    rmSync('/tmp/owrt-ecmp-match-exec-ran', { force: true });
    expect(resolve({ host: 'plain' }).user).toBe('root');
    expect(() => rmSync('/tmp/owrt-ecmp-match-exec-ran')).toThrow();
  });

  it('works without any ssh config file', () => {
    const t = resolveTarget({ host: 'router', sshConfigFile: join(home, 'nope') }, env());
    expect(t).toMatchObject({ host: 'router', user: 'root', port: 22 });
    expect(t.proxyJump).toBeUndefined();
  });

  it('rejects a missing explicit identity, bad ports and bad timeouts', () => {
    expect(() => resolve({ host: 'r', identity: '/nonexistent/key' })).toThrow(/does not exist/);
    expect(() => resolve({ host: 'r', port: 0 })).toThrow(UsageError);
    expect(() => resolve({ host: 'r', port: 70000 })).toThrow(UsageError);
    expect(() => resolve({ host: 'r', connectTimeoutMs: 0 })).toThrow(UsageError);
  });
});
