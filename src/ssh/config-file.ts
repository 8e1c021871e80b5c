/**
 * The fallback when OpenSSH's `ssh` is not installed: read an ssh_config file for the npm
 * `ssh-config` parser, following `Include` ourselves (that parser does not), and name what we
 * cannot honour so the user hears about it instead of meeting a silent difference.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { UsageError } from '../errors.js';
import { globMatch } from './known-hosts.js';

const MAX_INCLUDE_DEPTH = 16;

/** Directives this fallback reads but does not act on (lower case → what the user loses). */
const UNSUPPORTED: Record<string, string> = {
  canonicalizehostname: 'host names are not canonicalized',
  hostkeyalias: 'host keys are looked up under the real host name',
  knownhostscommand: 'the command is not run',
  certificatefile: 'certificates are not offered',
  pkcs11provider: 'PKCS#11 keys are not offered',
  securitykeyprovider: 'security keys are not offered',
  identitiesonly: 'the agent is tried anyway',
  localforward: 'no forwarding is set up',
  remoteforward: 'no forwarding is set up',
};

export interface LoadedConfig {
  /** Config text with every Include replaced by the included files' text. */
  text: string;
  warnings: string[];
}

/**
 * Read `file` with its Includes inlined where they stand. Relative Include paths are relative to
 * ~/.ssh (as OpenSSH does for user config files); `*` and `?` globs expand in sorted order.
 * Returns undefined when the file does not exist (no config).
 */
export function loadConfigText(file: string, home: string): LoadedConfig | undefined {
  const warnings = new Set<string>();
  const text = readOne(file, home, 0, warnings, true);
  return text === undefined ? undefined : { text, warnings: [...warnings] };
}

function readOne(file: string, home: string, depth: number, warnings: Set<string>, top: boolean): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && top) return undefined;
    if (code === 'ENOENT' || code === 'EISDIR') return ''; // ssh skips Include patterns that match nothing readable
    throw new UsageError(`cannot read ssh config ${file}: ${(e as Error).message}`);
  }
  return text
    .split(/\r?\n/)
    .map((line) => {
      const m = /^\s*([A-Za-z]+)(?:\s*=\s*|\s+)(.*)$/.exec(line);
      if (!m) return line;
      const key = (m[1] ?? '').toLowerCase();
      const value = (m[2] ?? '').trim();
      if (key === 'match' && /\b(exec|canonical|final|localnetwork|tagged)\b/i.test(value)) {
        warnings.add(`ssh config ${file}: "Match ${value}" is evaluated without its exec/canonical/final/localnetwork/tagged criteria (install OpenSSH's ssh to have it honoured)`);
      }
      const lost = UNSUPPORTED[key];
      if (lost) warnings.add(`ssh config ${file}: ${m[1]} is not honoured without OpenSSH's ssh: ${lost}`);
      if (key !== 'include') return line;
      if (depth >= MAX_INCLUDE_DEPTH) throw new UsageError(`ssh config Include nested deeper than ${MAX_INCLUDE_DEPTH} (a loop?) at ${file}`);
      return splitWords(value)
        .flatMap((p) => expandGlob(includePath(p, home)))
        .map((f) => readOne(f, home, depth + 1, warnings, false) ?? '')
        .join('\n');
    })
    .join('\n');
}

function splitWords(value: string): string[] {
  return [...value.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '').filter((w) => w !== '');
}

function includePath(p: string, home: string): string {
  const v = p.replace(/^~(?=$|\/)/, home);
  return isAbsolute(v) ? v : join(home, '.ssh', v);
}

/** Expand `*`/`?` in any path component; sorted like glob(3); no match gives no files. */
export function expandGlob(pattern: string): string[] {
  if (!/[*?]/.test(pattern)) return [pattern];
  const parts = pattern.split('/');
  let bases = [parts[0] === '' ? '/' : parts[0] as string];
  for (const part of parts.slice(1)) {
    if (part === '') continue;
    bases = bases.flatMap((b) => {
      if (!/[*?]/.test(part)) return [join(b, part)];
      let names: string[];
      try {
        names = readdirSync(b);
      } catch {
        return [];
      }
      return names.filter((n) => !n.startsWith('.') && globMatch(part, n)).sort().map((n) => join(b, n));
    });
  }
  return bases;
}

