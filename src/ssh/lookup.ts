/**
 * What ssh_config says about one host: from OpenSSH itself (`ssh -G`) when `ssh` is on PATH,
 * else from the npm `ssh-config` parser over the config file with its Includes inlined.
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import SSHConfig from 'ssh-config';
import { UsageError } from '../errors.js';
import { loadConfigText } from './config-file.js';
import { findSsh, runSshG, type SshOptions } from './ssh-g.js';

export interface HostConfig {
  source: 'ssh -G' | 'ssh-config';
  /** First value of a keyword (lower case), raw (`none` included). */
  get(key: string): string | undefined;
  /** Every value of a repeatable or list keyword, list keywords split on blanks. */
  all(key: string): string[];
  /** ssh -G always prints a user; this says whether it is only the local login name (no config). */
  userIsDefault(user: string): boolean;
}

export interface LookupRequest {
  host: string;
  user?: string;
  port?: number;
  identity?: string;
}

export type Lookup = (r: LookupRequest) => HostConfig;

export interface LookupSetup {
  env: NodeJS.ProcessEnv;
  home: string;
  /** --ssh-config; a missing file means no config. */
  configFile?: string;
  warn: (msg: string) => void;
}

/** Pick the resolver once per run: OpenSSH if installed, else the built-in parser. */
export function makeLookup(s: LookupSetup): Lookup {
  const ssh = findSsh(s.env);
  return ssh !== undefined ? sshGLookup(ssh, s) : fallbackLookup(s);
}

function passwdHome(): string | undefined {
  try {
    return userInfo().homedir;
  } catch {
    return undefined;
  }
}

function localUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

function sshGLookup(ssh: string, s: LookupSetup): Lookup {
  // ssh finds ~ through the password database, not $HOME. When HOME points elsewhere (a sandbox,
  // a test) we keep honouring HOME, as the fallback does: its config and known_hosts are used.
  const pw = passwdHome();
  const moved = pw !== undefined && s.home !== pw;
  let configFile = s.configFile;
  if (configFile !== undefined && !existsSync(configFile)) configFile = '/dev/null';
  if (configFile === undefined && moved && existsSync(join(s.home, '.ssh', 'config'))) configFile = join(s.home, '.ssh', 'config');
  const remap = (p: string): string => (moved && (p === pw || p.startsWith(`${pw}/`)) ? s.home + p.slice((pw as string).length) : p);
  const me = localUser();
  return (r) => {
    const o: SshOptions = runSshG({ ssh, ...r, ...(configFile !== undefined ? { configFile } : {}) }, s.env);
    return {
      source: 'ssh -G',
      get: (k) => o.get(k)?.[0],
      all: (k) => (o.get(k) ?? []).flatMap((v) => (k === 'identityfile' ? [v] : v.split(/\s+/))).filter((v) => v !== '').map(remap),
      userIsDefault: (u) => r.user === undefined && u === me,
    };
  };
}

function fallbackLookup(s: LookupSetup): Lookup {
  const file = s.configFile ?? join(s.home, '.ssh', 'config');
  const loaded = loadConfigText(file, s.home);
  for (const w of loaded?.warnings ?? []) s.warn(w);
  let config: SSHConfig | undefined;
  try {
    config = loaded ? SSHConfig.parse(loaded.text) : undefined;
  } catch (e) {
    throw new UsageError(`cannot parse ssh config ${file}: ${(e as Error).message}`);
  }
  return (r) => {
    const cfg = config?.compute(r.host, { ignoreCase: true, matchExec: false }) ?? {};
    const values = (k: string): string[] => {
      const v = cfg[k];
      return Array.isArray(v) ? v : v !== undefined ? [v] : [];
    };
    return {
      source: 'ssh-config',
      get: (k) => values(k)[0],
      all: (k) => values(k).flatMap((v) => (k === 'identityfile' ? [v] : v.split(/\s+/))).filter((v) => v !== ''),
      userIsDefault: () => false,
    };
  };
}
