/**
 * Turn `--host` and friends plus ~/.ssh/config into a fully resolved SshTarget.
 * Precedence per field, like OpenSSH: explicit flag > value in the host string > ssh config > default.
 */
import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { makeLookup, type HostConfig, type Lookup } from './lookup.js';

/** StrictHostKeyChecking as we apply it; `no` is treated as `accept-new` (a changed key is refused). */
export type HostKeyPolicy = 'yes' | 'ask' | 'accept-new' | 'no';

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  identityFiles: string[];
  /** Where a new host key is recorded: the first UserKnownHostsFile. */
  knownHostsFile: string;
  /** Every file checked: all UserKnownHostsFile entries, then GlobalKnownHostsFile. */
  knownHostsFiles: string[];
  strictHostKeyChecking: HostKeyPolicy;
  /** Record new keys as `|1|salt|hmac` (HashKnownHosts yes). */
  hashKnownHosts: boolean;
  agent?: string;
  proxyJump?: SshTarget;
  /** Run through /bin/sh; its stdin/stdout carry the SSH connection. Tokens already expanded. */
  proxyCommand?: string;
  /** TCP connect plus SSH handshake and authentication, not counting time spent at a prompt. */
  readyTimeoutMs: number;
  /** The name the user typed when ssh config mapped it to another HostName. */
  alias?: string;
}

export interface TargetOptions {
  /** `[user@]host[:port]`, `[v6addr]:port`, or a ~/.ssh/config alias. */
  host: string;
  port?: number;
  user?: string;
  identity?: string;
  knownHosts?: string;
  acceptNew?: boolean;
  /** Default ~/.ssh/config; a missing file means no config. */
  sshConfigFile?: string;
  connectTimeoutMs?: number;
}

/** OpenWrt logs in as root; we do not borrow the workstation's user name. */
export const DEFAULT_USER = 'root';
export const DEFAULT_READY_TIMEOUT_MS = 10_000;
const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
const DEFAULT_KNOWN_HOSTS = '~/.ssh/known_hosts';
const MAX_JUMPS = 8;

export interface HostSpec {
  host: string;
  user?: string;
  port?: number;
}

/** Split `[user@]host[:port]`; brackets allow an IPv6 literal with a port; a bare v6 literal has none. */
export function parseHostSpec(spec: string): HostSpec {
  let rest = spec.trim().replace(/^ssh:\/\//, '');
  const out: Partial<HostSpec> = {};
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    out.user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (out.user === '') throw new UsageError(`empty user name in "${spec}"`);
  }
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
  if (bracket) {
    rest = bracket[1] ?? '';
    portText = bracket[2];
  } else if ((rest.match(/:/g) ?? []).length === 1) {
    [rest, portText] = rest.split(':') as [string, string];
  }
  if (rest === '' || /\s/.test(rest)) throw new UsageError(`not a host name: "${spec}"`, 'use [user@]host[:port]');
  if (portText !== undefined) out.port = parsePort(portText, spec);
  return { ...out, host: rest };
}

function parsePort(text: string, where: string): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new UsageError(`bad SSH port "${text}" in "${where}"`, 'ports are 1-65535');
  return n;
}

interface Ctx {
  env: NodeJS.ProcessEnv;
  home: string;
  lookup: Lookup;
}

type Tokens = { host: string; user: string; port: number; alias: string };

/** ssh_config tokens: %d %h %r %u %n %p %% (and a leading ~ in paths). */
function expandTokens(value: string, ctx: Ctx, t: Tokens): string {
  return value.replace(/%([%dhrunp])/g, (_, c: string) => {
    switch (c) {
      case 'd': return ctx.home;
      case 'h': return t.host;
      case 'r': return t.user;
      case 'u': return ctx.env.USER ?? safeLocalUser();
      case 'n': return t.alias;
      case 'p': return String(t.port);
      default: return '%';
    }
  });
}

function expand(value: string, ctx: Ctx, t: Tokens): string {
  return expandTokens(value.replace(/^~(?=$|\/)/, ctx.home), ctx, t);
}

function safeLocalUser(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

/**
 * Resolve the target; `warn` hears (once each) about ssh_config directives the built-in parser
 * cannot honour when OpenSSH's `ssh` is not installed.
 */
export function resolveTarget(o: TargetOptions, env: NodeJS.ProcessEnv = process.env, warn: (msg: string) => void = () => {}): SshTarget {
  const home = env.HOME || homedir();
  if (o.connectTimeoutMs !== undefined && !(o.connectTimeoutMs > 0)) {
    throw new UsageError(`bad connect timeout ${o.connectTimeoutMs} ms`, '--connect-timeout takes seconds, more than 0');
  }
  if (o.port !== undefined) parsePort(String(o.port), 'the port option');
  const said = new Set<string>();
  const once = (m: string): void => {
    if (!said.has(m)) warn(m);
    said.add(m);
  };
  const lookup = makeLookup({ env, home, ...(o.sshConfigFile !== undefined ? { configFile: o.sshConfigFile } : {}), warn: once });
  const ctx: Ctx = { env, home, lookup };
  // like `ssh -i`, a relative --identity is relative to the working directory
  const identity = o.identity === undefined ? undefined : resolve(expand(o.identity, ctx, { host: '', user: '', port: 0, alias: '' }));
  if (identity !== undefined && !existsSync(identity)) {
    throw new UsageError(`identity file ${identity} does not exist`);
  }
  return resolveOne(o, identity, ctx, 0);
}

function resolveOne(o: TargetOptions, identity: string | undefined, ctx: Ctx, depth: number): SshTarget {
  const spec = parseHostSpec(o.host);
  const askUser = o.user ?? spec.user;
  const askPort = o.port ?? spec.port;
  const cfg = ctx.lookup({
    host: spec.host,
    ...(askUser !== undefined ? { user: askUser } : {}),
    ...(askPort !== undefined ? { port: askPort } : {}),
    ...(identity !== undefined ? { identity } : {}),
  });
  const get = (k: string): string | undefined => cfg.get(k);
  const cfgUser = get('user');
  const user = askUser ?? (cfgUser !== undefined && !cfg.userIsDefault(cfgUser) ? cfgUser : DEFAULT_USER);
  const cfgPort = get('port');
  const port = askPort ?? (cfgPort !== undefined ? parsePort(cfgPort, 'ssh config Port') : 22);
  const tokens: Tokens = { host: spec.host, user, port, alias: spec.host };
  const hostName = get('hostname');
  const host = hostName !== undefined ? expand(hostName, ctx, tokens) : spec.host;
  tokens.host = host;

  const target: SshTarget = {
    host,
    port,
    user,
    identityFiles: identityFiles(identity, cfg, ctx, tokens),
    ...knownHosts(o, cfg, ctx, tokens),
    strictHostKeyChecking: o.acceptNew ? 'accept-new' : hostKeyPolicy(get('stricthostkeychecking')),
    hashKnownHosts: /^(yes|true)$/i.test(get('hashknownhosts') ?? ''),
    readyTimeoutMs: o.connectTimeoutMs ?? configTimeout(get('connecttimeout')) ?? DEFAULT_READY_TIMEOUT_MS,
  };
  if (host !== spec.host) target.alias = spec.host;

  const agent = agentSocket(get('identityagent'), ctx, tokens);
  if (agent !== undefined) target.agent = agent;

  const jump = get('proxyjump');
  const command = get('proxycommand');
  if (jump !== undefined && jump.toLowerCase() !== 'none') {
    target.proxyJump = resolveJumpChain(jump, o, identity, ctx, depth);
  } else if (command !== undefined && command.toLowerCase() !== 'none') {
    target.proxyCommand = expandTokens(command, ctx, tokens);
  }
  return target;
}

function identityFiles(identity: string | undefined, cfg: HostConfig, ctx: Ctx, tokens: Tokens): string[] {
  const out: string[] = [];
  const add = (p: string): void => {
    const abs = isAbsolute(p) ? p : join(ctx.home, '.ssh', p);
    if (!out.includes(abs) && existsSync(abs)) out.push(abs);
  };
  if (identity !== undefined) add(identity);
  for (const k of cfg.all('identityfile')) add(expand(k, ctx, tokens));
  // ssh -G already lists ssh's own defaults; the built-in parser adds ours
  if (cfg.source === 'ssh-config') for (const k of DEFAULT_KEYS) add(join(ctx.home, '.ssh', k));
  return out;
}

function knownHosts(o: TargetOptions, cfg: HostConfig, ctx: Ctx, tokens: Tokens): Pick<SshTarget, 'knownHostsFile' | 'knownHostsFiles'> {
  const user = o.knownHosts !== undefined ? [o.knownHosts] : cfg.all('userknownhostsfile');
  const files = (user.length > 0 ? user : [DEFAULT_KNOWN_HOSTS]).map((f) => expand(f, ctx, tokens));
  const global = cfg.all('globalknownhostsfile').map((f) => expand(f, ctx, tokens));
  return { knownHostsFile: files[0] as string, knownHostsFiles: [...new Set([...files, ...global])] };
}

export function hostKeyPolicy(value: string | undefined): HostKeyPolicy {
  const v = (value ?? 'ask').toLowerCase();
  if (v === 'yes' || v === 'true') return 'yes';
  if (v === 'no' || v === 'false' || v === 'off') return 'no';
  if (v === 'accept-new') return 'accept-new';
  return 'ask';
}

function configTimeout(value: string | undefined): number | undefined {
  const n = value !== undefined && /^\d+$/.test(value) ? Number(value) : 0;
  return n > 0 ? n * 1000 : undefined;
}

function agentSocket(cfgValue: string | undefined, ctx: Ctx, tokens: Tokens): string | undefined {
  if (cfgValue === undefined || cfgValue === 'SSH_AUTH_SOCK') return ctx.env.SSH_AUTH_SOCK || undefined;
  if (cfgValue.toLowerCase() === 'none') return undefined;
  if (cfgValue.startsWith('$')) return ctx.env[cfgValue.slice(1)] || undefined;
  return expand(cfgValue, ctx, tokens);
}

/**
 * `ProxyJump a,b` means: reach a, from a reach b, from b reach the target. Each hop gets its own
 * ssh config lookup; only the identity, known_hosts, accept-new and timeout flags carry over.
 */
function resolveJumpChain(value: string, o: TargetOptions, identity: string | undefined, ctx: Ctx, depth: number): SshTarget {
  const hops = value.split(',').map((h) => h.trim()).filter((h) => h !== '');
  let prev: SshTarget | undefined;
  for (const hop of hops) {
    if (depth + 1 > MAX_JUMPS) throw new UsageError(`ProxyJump chain longer than ${MAX_JUMPS} hops (a loop in ssh config?)`);
    const jo: TargetOptions = { host: hop };
    if (o.knownHosts !== undefined) jo.knownHosts = o.knownHosts;
    if (o.acceptNew !== undefined) jo.acceptNew = o.acceptNew;
    if (o.connectTimeoutMs !== undefined) jo.connectTimeoutMs = o.connectTimeoutMs;
    const t = resolveOne(jo, identity, ctx, depth + 1);
    // an explicit chain overrides the hop's own ProxyJump, except for the first hop
    if (prev !== undefined) {
      t.proxyJump = prev;
      delete t.proxyCommand;
    }
    prev = t;
    depth += 1;
  }
  if (prev === undefined) throw new UsageError(`empty ProxyJump value "${value}"`);
  return prev;
}
