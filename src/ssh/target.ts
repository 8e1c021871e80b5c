/**
 * Turn `--host` and friends plus ~/.ssh/config into a fully resolved SshTarget.
 * Precedence per field, like OpenSSH: explicit flag > value in the host string > ssh config > default.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import SSHConfig from 'ssh-config';
import { UsageError } from '../errors.js';

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  identityFiles: string[];
  knownHostsFile: string;
  acceptNew: boolean;
  agent?: string;
  proxyJump?: SshTarget;
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
export const DEFAULT_READY_TIMEOUT_MS = 20_000;
const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
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

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

interface Ctx {
  env: NodeJS.ProcessEnv;
  home: string;
  config: SSHConfig | undefined;
}

/** ssh_config tokens we support in paths and HostName: ~, %d %h %r %u %n %p %%. */
function expand(value: string, ctx: Ctx, t: { host: string; user: string; port: number; alias: string }): string {
  let v = value.replace(/^~(?=$|\/)/, ctx.home);
  v = v.replace(/%([%dhrunp])/g, (_, c: string) => {
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
  return v;
}

function safeLocalUser(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

function loadConfig(file: string): SSHConfig | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read ssh config ${file}: ${(e as Error).message}`);
  }
  try {
    return SSHConfig.parse(text);
  } catch (e) {
    throw new UsageError(`cannot parse ssh config ${file}: ${(e as Error).message}`);
  }
}

export function resolveTarget(o: TargetOptions, env: NodeJS.ProcessEnv = process.env): SshTarget {
  const home = env.HOME || homedir();
  const configFile = o.sshConfigFile ?? join(home, '.ssh', 'config');
  const ctx: Ctx = { env, home, config: loadConfig(configFile) };
  if (o.connectTimeoutMs !== undefined && !(o.connectTimeoutMs > 0)) {
    throw new UsageError(`bad connect timeout ${o.connectTimeoutMs} ms`);
  }
  if (o.port !== undefined) parsePort(String(o.port), 'the port option');
  // like `ssh -i`, a relative --identity is relative to the working directory
  const identity = o.identity === undefined ? undefined : resolve(expand(o.identity, ctx, { host: '', user: '', port: 0, alias: '' }));
  if (identity !== undefined && !existsSync(identity)) {
    throw new UsageError(`identity file ${identity} does not exist`);
  }
  return resolveOne(o, identity, ctx, 0);
}

function resolveOne(o: TargetOptions, identity: string | undefined, ctx: Ctx, depth: number): SshTarget {
  const spec = parseHostSpec(o.host);
  const cfg = ctx.config?.compute(spec.host, { ignoreCase: true, matchExec: false }) ?? {};
  const get = (k: string): string | undefined => first(cfg[k]);

  const user = o.user ?? spec.user ?? get('user') ?? DEFAULT_USER;
  const cfgPort = get('port');
  const port = o.port ?? spec.port ?? (cfgPort !== undefined ? parsePort(cfgPort, 'ssh config Port') : 22);
  const tokens = { host: spec.host, user, port, alias: spec.host };
  const hostName = get('hostname');
  const host = hostName !== undefined ? expand(hostName, ctx, tokens) : spec.host;
  tokens.host = host;

  const identityFiles: string[] = [];
  const addKey = (p: string): void => {
    const abs = isAbsolute(p) ? p : join(ctx.home, '.ssh', p);
    if (!identityFiles.includes(abs) && existsSync(abs)) identityFiles.push(abs);
  };
  if (identity !== undefined) addKey(identity);
  const cfgKeys = cfg['identityfile'];
  for (const k of Array.isArray(cfgKeys) ? cfgKeys : cfgKeys ? [cfgKeys] : []) addKey(expand(k, ctx, tokens));
  for (const k of DEFAULT_KEYS) addKey(join(ctx.home, '.ssh', k));

  const cfgTimeout = get('connecttimeout');
  const readyTimeoutMs =
    o.connectTimeoutMs ?? (cfgTimeout !== undefined && Number(cfgTimeout) > 0 ? Number(cfgTimeout) * 1000 : DEFAULT_READY_TIMEOUT_MS);

  const target: SshTarget = {
    host,
    port,
    user,
    identityFiles,
    knownHostsFile: o.knownHosts !== undefined ? expand(o.knownHosts, ctx, tokens) : join(ctx.home, '.ssh', 'known_hosts'),
    acceptNew: o.acceptNew ?? false,
    readyTimeoutMs,
  };
  if (host !== spec.host) target.alias = spec.host;

  const agent = agentSocket(get('identityagent'), ctx, tokens);
  if (agent !== undefined) target.agent = agent;

  const jump = get('proxyjump');
  if (jump !== undefined && jump.toLowerCase() !== 'none') {
    target.proxyJump = resolveJumpChain(jump, o, identity, ctx, depth);
  }
  return target;
}

function agentSocket(cfgValue: string | undefined, ctx: Ctx, tokens: Parameters<typeof expand>[2]): string | undefined {
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
    if (prev !== undefined) t.proxyJump = prev;
    prev = t;
    depth += 1;
  }
  if (prev === undefined) throw new UsageError(`empty ProxyJump value "${value}"`);
  return prev;
}
