import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  appendKnownHost,
  checkHostKey,
  fingerprintSha256,
  formatKnownHostsLine,
  globMatch,
  hostFieldMatches,
  keyTypeOf,
  knownHostName,
  knownKeyTypes,
  parseKnownHosts,
  readKnownHostsFile,
  readKnownHostsFiles,
} from '../../src/ssh/known-hosts.js';

/** A syntactically real SSH key blob: string type, then opaque bytes. */
function blob(type: string, seed: string): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  const body = createHash('sha256').update(seed).digest();
  const blen = Buffer.alloc(4);
  blen.writeUInt32BE(body.length);
  return Buffer.concat([len, t, blen, body]);
}
const A = blob('ssh-ed25519', 'a');
const B = blob('ssh-ed25519', 'b');
const R = blob('ssh-rsa', 'r');
const line = (hosts: string, key: Buffer, marker = ''): string =>
  `${marker ? `${marker} ` : ''}${hosts} ${keyTypeOf(key)} ${key.toString('base64')}`;
const hashed = (name: string, salt = Buffer.from('0123456789abcdefghij')): string =>
  `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;

const tmp = mkdtempSync(join(tmpdir(), 'owrt-ecmp-kh-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('fingerprintSha256', () => {
  it('matches ssh-keygen -lf for a real key', () => {
    const file = join(tmp, 'k');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
    const pub = readFileSync(`${file}.pub`, 'utf8').split(' ');
    const key = Buffer.from(pub[1] ?? '', 'base64');
    const fromTool = /SHA256:\S+/.exec(execFileSync('ssh-keygen', ['-lf', `${file}.pub`]).toString())?.[0];
    expect(fingerprintSha256(key)).toBe(fromTool);
    expect(fingerprintSha256(key)).not.toContain('=');
    expect(keyTypeOf(key)).toBe('ssh-ed25519');
  });
});

describe('knownHostName', () => {
  it.each([
    ['router.lan', 22, 'router.lan'],
    ['Router.LAN', 22, 'router.lan'],
    ['192.168.1.1', 2222, '[192.168.1.1]:2222'],
    ['::1', 22, '::1'],
    ['fe80::1', 2200, '[fe80::1]:2200'],
  ])('%s port %i → %s', (h, p, want) => expect(knownHostName(h, p)).toBe(want));
});

describe('globMatch', () => {
  it.each([
    ['*.lan', 'router.lan', true],
    ['*.lan', 'router.lan.evil', false],
    ['192.168.1.?', '192.168.1.7', true],
    ['192.168.1.?', '192.168.1.17', false],
    ['ROUTER', 'router', true],
    ['[10.0.0.1]:22?2', '[10.0.0.1]:2222', true],
    ['a.b', 'aXb', false], // dot is literal
    ['[*]:2222', '[10.0.0.1]:2222', true],
    ['[*]:2222', '10.0.0.1', false],
  ])('%s vs %s → %s', (p, n, want) => expect(globMatch(p, n)).toBe(want));
});

describe('hostFieldMatches', () => {
  it.each([
    ['router,192.168.1.1', '192.168.1.1', true],
    ['router,192.168.1.1', 'other', false],
    ['*.lan,!evil.lan', 'router.lan', true],
    ['*.lan,!evil.lan', 'evil.lan', false], // negation vetoes the line
    ['!evil.lan', 'router.lan', false], // a negation alone never matches
    ['[192.168.1.1]:2222', '[192.168.1.1]:2222', true],
    ['[192.168.1.1]:2222', '192.168.1.1', false], // port matters
    ['192.168.1.1', '[192.168.1.1]:2222', false],
    [hashed('router.lan'), 'router.lan', true],
    [hashed('router.lan'), 'router', false],
    [hashed('[10.0.0.1]:2222'), '[10.0.0.1]:2222', true],
    ['|1|bad', 'router.lan', false],
  ])('%s vs %s → %s', (f, n, want) => expect(hostFieldMatches(f, n)).toBe(want));

  it('matches a hashed entry produced by ssh-keygen -H', () => {
    const file = join(tmp, 'hashme');
    writeFileSync(file, `${line('[10.1.2.3]:2222', A)}\n${line('plain.lan', B)}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const entries = parseKnownHosts(readFileSync(file, 'utf8'));
    expect(entries).toHaveLength(2);
    expect(entries.every((e) => e.hosts.startsWith('|1|'))).toBe(true);
    expect(checkHostKey(entries, '10.1.2.3', 2222, A).status).toBe('ok');
    expect(checkHostKey(entries, '10.1.2.3', 22, A).status).toBe('unknown');
    expect(checkHostKey(entries, 'plain.lan', 22, B).status).toBe('ok');
    expect(checkHostKey(entries, 'plain.lan', 22, A).status).toBe('changed');
  });
});

describe('parseKnownHosts', () => {
  it('reads markers, skips comments, blank, malformed and unknown-marker lines', () => {
    const text = [
      '# comment',
      '',
      line('a', A),
      '   ',
      line('*', B, '@revoked'),
      line('*.lan', R, '@cert-authority'),
      '@bogus host ssh-ed25519 AAAA',
      'onlyhost',
      'host ssh-ed25519 not*base64',
      `${line('c', A)} trailing comment`,
    ].join('\r\n');
    const es = parseKnownHosts(text);
    expect(es.map((e) => [e.marker ?? '', e.hosts, e.line])).toEqual([
      ['', 'a', 3],
      ['revoked', '*', 5],
      ['cert-authority', '*.lan', 6],
      ['', 'c', 10],
    ]);
    expect(es[0]?.key.equals(A)).toBe(true);
  });
});

describe('checkHostKey', () => {
  const entries = parseKnownHosts(
    [
      line('router.lan,192.168.1.1', A),
      line('[192.168.1.1]:2222', B),
      line('*.lan,!guest.lan', R),
      line('*.ca', A, '@cert-authority'),
      line('old.lan', B, '@revoked'),
    ].join('\n'),
  );
  it.each([
    ['router.lan', 22, A, 'ok'],
    ['192.168.1.1', 22, A, 'ok'],
    ['192.168.1.1', 22, B, 'revoked'], // B is revoked, for every host
    ['192.168.1.1', 2222, A, 'changed'],
    ['new.host', 22, A, 'unknown'],
    ['other.lan', 22, R, 'ok'], // via glob
    ['guest.lan', 22, R, 'unknown'], // negated
    ['x.ca', 22, A, 'unknown'], // cert-authority lines never match
    ['ROUTER.LAN', 22, A, 'ok'],
  ] as const)('%s:%i → %s', (host, port, key, want) => {
    expect(checkHostKey(entries, host, port, key).status).toBe(want);
  });

  it('reports the line and key types of a changed host', () => {
    const res = checkHostKey(entries, 'router.lan', 22, blob('ssh-ed25519', 'z'));
    expect(res).toEqual({ status: 'changed', line: 1, knownTypes: ['ssh-ed25519', 'ssh-rsa'] });
    expect(knownKeyTypes(entries, 'router.lan', 22)).toEqual(['ssh-ed25519', 'ssh-rsa']);
    expect(knownKeyTypes(entries, 'nowhere', 22)).toEqual([]);
  });
});

describe('appendKnownHost / formatKnownHostsLine', () => {
  it('creates the file and its directory privately and round-trips through the parser', () => {
    const file = join(tmp, 'sub', 'known_hosts');
    appendKnownHost(file, '192.168.1.1', 2222, A);
    appendKnownHost(file, 'Router.lan', 22, R);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(tmp, 'sub')).mode & 0o777).toBe(0o700);
    const text = readFileSync(file, 'utf8');
    expect(text).toBe(`[192.168.1.1]:2222 ssh-ed25519 ${A.toString('base64')}\nrouter.lan ssh-rsa ${R.toString('base64')}\n`);
    const es = parseKnownHosts(text);
    expect(checkHostKey(es, '192.168.1.1', 2222, A).status).toBe('ok');
    expect(checkHostKey(es, 'router.lan', 22, R).status).toBe('ok');
  });

  it('adds a newline when the existing file lacks one', () => {
    const file = join(tmp, 'nonl');
    writeFileSync(file, line('a', A));
    appendKnownHost(file, 'b', 22, B);
    expect(parseKnownHosts(readFileSync(file, 'utf8')).map((e) => e.hosts)).toEqual(['a', 'b']);
    expect(existsSync(file)).toBe(true);
  });

  it('can write a hashed name that the matcher accepts', () => {
    const l = formatKnownHostsLine('10.0.0.1', 2222, A, true);
    expect(l.startsWith('|1|')).toBe(true);
    expect(l).not.toContain('10.0.0.1');
    expect(checkHostKey(parseKnownHosts(l), '10.0.0.1', 2222, A).status).toBe('ok');
  });
});

describe('HashKnownHosts and several known_hosts files', () => {
  it('appendKnownHost(hashed) writes |1|salt|hmac that OpenSSH itself finds (ssh-keygen -F) and we read back', () => {
    const file = join(tmp, 'hashed-append', 'known_hosts');
    appendKnownHost(file, '192.168.1.1', 2222, A, true);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 /);
    expect(text).not.toContain('192.168.1.1');
    const found = execFileSync('ssh-keygen', ['-F', '[192.168.1.1]:2222', '-f', file]).toString();
    expect(found).toContain(A.toString('base64'));
    expect(checkHostKey(readKnownHostsFile(file), '192.168.1.1', 2222, A)).toMatchObject({ status: 'ok', file, line: 1 });
    expect(checkHostKey(readKnownHostsFile(file), '192.168.1.1', 22, A).status).toBe('unknown');
  });

  it('reads every file in order and names the file of a changed entry; missing files are empty', () => {
    const one = join(tmp, 'multi-1');
    const two = join(tmp, 'multi-2');
    writeFileSync(one, `${line('other.example', B)}\n`);
    writeFileSync(two, `# comment\n${line('router.lan', A)}\n`);
    const entries = readKnownHostsFiles([join(tmp, 'multi-missing'), one, two]);
    expect(checkHostKey(entries, 'router.lan', 22, A)).toMatchObject({ status: 'ok', file: two, line: 2 });
    expect(checkHostKey(entries, 'router.lan', 22, B)).toMatchObject({ status: 'changed', file: two, line: 2 });
    expect(checkHostKey(readKnownHostsFiles([one]), 'router.lan', 22, A).status).toBe('unknown');
  });
});
