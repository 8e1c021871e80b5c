/**
 * A small OpenSSH known_hosts reader and writer. Only what host-key checking needs:
 * plain/comma-separated names, `[host]:port`, hashed `|1|salt|hmac` names, `*`/`?` globs,
 * `!` negation, `@revoked` (refuse) and `@cert-authority` (never matches; unsupported).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface KnownHostEntry {
  marker?: 'revoked' | 'cert-authority';
  /** The host field as written: a pattern list or one hashed name. */
  hosts: string;
  keyType: string;
  /** The key blob in SSH wire format (what ssh2 hands the host verifier). */
  key: Buffer;
  /** 1-based line number, for messages. */
  line: number;
  /** The file it came from, when read from disk (messages say `file:line`). */
  file?: string;
}

export type HostKeyCheck =
  | { status: 'ok'; line: number; file?: string }
  | { status: 'unknown'; knownTypes: string[] }
  | { status: 'changed'; line: number; file?: string; knownTypes: string[] }
  | { status: 'revoked'; line: number; file?: string };

/** OpenSSH style `SHA256:<base64 without padding>` of a key blob. */
export function fingerprintSha256(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise; lower case. */
export function knownHostName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** The key type embedded at the start of an SSH wire-format key blob. */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return '';
  const len = blob.readUInt32BE(0);
  return len > 0 && 4 + len <= blob.length ? blob.subarray(4, 4 + len).toString('latin1') : '';
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === undefined || fields[0] === '' || fields[0].startsWith('#')) return;
    let marker: KnownHostEntry['marker'];
    if (fields[0].startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else return; // unknown marker: OpenSSH ignores the line
    }
    const [hosts, keyType, b64] = fields;
    if (hosts === undefined || keyType === undefined || b64 === undefined) return;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return;
    const key = Buffer.from(b64, 'base64');
    if (key.length === 0) return;
    out.push({ ...(marker ? { marker } : {}), hosts, keyType, key, line: i + 1 });
  });
  return out;
}

/** OpenSSH `match_pattern`: `*` any run, `?` one character; everything else literal, case-insensitive. */
export function globMatch(pattern: string, name: string): boolean {
  const re = pattern
    .toLowerCase()
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${re}$`, 's').test(name.toLowerCase());
}

function hashedMatch(field: string, name: string): boolean {
  const parts = field.split('|'); // ['', '1', salt, hmac]
  if (parts.length !== 4 || parts[1] !== '1' || !parts[2] || !parts[3]) return false;
  const salt = Buffer.from(parts[2], 'base64');
  const mac = createHmac('sha1', salt).update(name).digest('base64');
  return mac === parts[3];
}

/**
 * Does a known_hosts host field match `name` (already in `knownHostName` form)?
 * A matching negated pattern vetoes the whole line, as in OpenSSH.
 */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|')) return hashedMatch(field, name);
  let matched = false;
  for (const p of field.split(',')) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (p !== '' && globMatch(p, name)) {
      matched = true;
    }
  }
  return matched;
}

/**
 * Check a server's key. A revoked key is refused whatever host its line names (stricter than
 * OpenSSH, on purpose). A host with recorded keys, none equal to this one, is `changed`.
 */
export function checkHostKey(entries: KnownHostEntry[], host: string, port: number, key: Buffer): HostKeyCheck {
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { status: 'revoked', line: revoked.line, ...where(revoked) };
  const name = knownHostName(host, port);
  const forHost = entries.filter((e) => e.marker === undefined && hostFieldMatches(e.hosts, name));
  const same = forHost.find((e) => e.key.equals(key));
  if (same) return { status: 'ok', line: same.line, ...where(same) };
  const knownTypes = [...new Set(forHost.map((e) => e.keyType))];
  const first = forHost[0];
  return first ? { status: 'changed', line: first.line, ...where(first), knownTypes } : { status: 'unknown', knownTypes };
}

function where(e: KnownHostEntry): { file?: string } {
  return e.file !== undefined ? { file: e.file } : {};
}

/** Key types recorded for a host (ignoring markers), so the client can ask for those first. */
export function knownKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  const name = knownHostName(host, port);
  return [...new Set(entries.filter((e) => e.marker === undefined && hostFieldMatches(e.hosts, name)).map((e) => e.keyType))];
}

export function formatKnownHostsLine(host: string, port: number, key: Buffer, hashed = false): string {
  let name = knownHostName(host, port);
  if (hashed) {
    const salt = randomBytes(20);
    name = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
  }
  return `${name} ${keyTypeOf(key)} ${key.toString('base64')}\n`;
}

export function readKnownHostsFile(file: string): KnownHostEntry[] {
  try {
    return parseKnownHosts(readFileSync(file, 'utf8')).map((e) => ({ ...e, file }));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** All entries of several files (UserKnownHostsFile takes a list), in order; missing files are empty. */
export function readKnownHostsFiles(files: readonly string[]): KnownHostEntry[] {
  return files.flatMap((f) => readKnownHostsFile(f));
}

/**
 * Append one entry, hashed (`|1|salt|hmac`, as with HashKnownHosts yes) or plain; a new file (and
 * its directory) is created private (0600 / 0700).
 */
export function appendKnownHost(file: string, host: string, port: number, key: Buffer, hashed = false): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  let prefix = '';
  try {
    const cur = readFileSync(file);
    if (cur.length > 0 && cur[cur.length - 1] !== 0x0a) prefix = '\n';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const fd = openSync(file, 'a', 0o600);
  try {
    writeSync(fd, prefix + formatKnownHostsLine(host, port, key, hashed));
  } finally {
    closeSync(fd);
  }
}
