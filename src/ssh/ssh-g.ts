/**
 * Ask OpenSSH's own client how it would connect: `ssh -G host` evaluates /etc/ssh/ssh_config,
 * ~/.ssh/config, Include, Match (exec too), tokens and defaults exactly as `ssh host` would, and
 * prints the result without connecting. We read that instead of re-implementing ssh_config.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UsageError } from '../errors.js';

/** Keyword (lower case) → values in output order; repeatable keywords (identityfile) keep all. */
export type SshOptions = Map<string, string[]>;

/** `ssh` on the given PATH, or undefined: then the built-in parser is the fallback. */
export function findSsh(env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, 'ssh');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Parse `ssh -G` output: one `keyword value...` per line. */
export function parseSshG(text: string): SshOptions {
  const out: SshOptions = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const sp = line.indexOf(' ');
    if (line === '' || sp <= 0) continue;
    const key = line.slice(0, sp).toLowerCase();
    const value = line.slice(sp + 1).trim();
    const list = out.get(key);
    if (list) list.push(value);
    else out.set(key, [value]);
  }
  return out;
}

export interface SshGArgs {
  ssh: string;
  host: string;
  user?: string;
  port?: number;
  identity?: string;
  configFile?: string;
}

/** Run `ssh -G`; -l/-p/-i/-F are passed as the user gave them so Match sees what ssh would see. */
export function runSshG(a: SshGArgs, env: NodeJS.ProcessEnv): SshOptions {
  const args = ['-G'];
  if (a.configFile !== undefined) args.push('-F', a.configFile);
  if (a.user !== undefined) args.push('-l', a.user);
  if (a.port !== undefined) args.push('-p', String(a.port));
  if (a.identity !== undefined) args.push('-i', a.identity);
  args.push('--', a.host);
  const r = spawnSync(a.ssh, args, { env, encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw new UsageError(`cannot run ${a.ssh} -G: ${r.error.message}`);
  if (r.status !== 0) {
    const why = (r.stderr ?? '').trim().split('\n').filter((l) => !/pseudo-terminal/i.test(l)).join('; ');
    throw new UsageError(`ssh could not evaluate its config for ${a.host}: ${why || `exit ${r.status}`}`,
      'fix the ssh config (try: ssh -G <host>), or pass --ssh-config <file>');
  }
  return parseSshG(r.stdout);
}

/** One value, with ssh's "none" meaning unset. */
export function one(o: SshOptions, key: string): string | undefined {
  const v = o.get(key)?.[0];
  return v === undefined || v.toLowerCase() === 'none' ? undefined : v;
}

/** ssh prints a list keyword (UserKnownHostsFile) space-separated on one line. */
export function list(o: SshOptions, key: string): string[] {
  return (o.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter((v) => v !== '' && v.toLowerCase() !== 'none');
}
