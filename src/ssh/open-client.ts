/**
 * One ssh2 client up to "ready": TCP (or a ProxyCommand's stdio, or a jump host's channel),
 * handshake with host key checking, authentication. A connect timeout covers all of it except
 * the time the user spends answering our questions.
 */
import { spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { ConnectConfig } from 'ssh2';
import { ConnectError } from '../errors.js';
import { authHandler, planAuth, type AuthInput } from './auth.js';
import { hostKeyAlgorithms, makeHostVerifier, type HostKeyState } from './hostkey.js';
import type { Prompter } from './prompt.js';
import type { SshTarget } from './target.js';
import type { TransportEvent } from './transport.js';
import { classifyConnectError, timeoutError, type ConnectPhase } from './verify.js';

const KEEPALIVE_MS = 10_000;
const KEEPALIVE_COUNT = 3;

export interface OpenDeps {
  emit: (e: TransportEvent) => void;
  warn: (msg: string) => void;
  prompter?: Prompter;
}

/** A timer that stops while the user is at a prompt; the rest of connecting is still bounded. */
class Deadline {
  private timer: NodeJS.Timeout | undefined;
  private left: number;
  private started = 0;
  private paused = 0;
  constructor(ms: number, private readonly fire: () => void) {
    this.left = ms;
  }
  start(): void {
    this.started = Date.now();
    this.timer = setTimeout(this.fire, this.left);
  }
  pause(): void {
    if (this.paused++ > 0 || !this.timer) return;
    clearTimeout(this.timer);
    this.left -= Date.now() - this.started;
  }
  resume(): void {
    if (--this.paused > 0 || !this.timer) return;
    this.start();
  }
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function pausing(p: Prompter | undefined, d: Deadline): Prompter | undefined {
  if (!p) return undefined;
  const wrap = <T>(fn: () => Promise<T>): Promise<T> => {
    d.pause();
    return fn().finally(() => d.resume());
  };
  return { ask: (q) => wrap(() => p.ask(q)), secret: (q) => wrap(() => p.secret(q)) };
}

/** `ProxyCommand`: run through /bin/sh like ssh does; its stdin/stdout become the connection. */
function proxySocket(target: SshTarget, onExit: (why: string) => void): Duplex {
  const child = spawn('/bin/sh', ['-c', target.proxyCommand as string], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.on('error', (e) => onExit(`cannot start it: ${e.message}`));
  child.on('exit', (code, sig) => onExit(sig ? `killed by ${sig}` : `exit status ${code}`));
  const sock = Duplex.from({ readable: child.stdout, writable: child.stdin });
  sock.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  sock.on('error', () => undefined); // reported through the client
  return sock;
}

export function openClient(target: SshTarget, deps: OpenDeps, secrets: AuthInput, jumpSock: Duplex | undefined): Promise<ssh2.Client> {
  const client = new ssh2.Client();
  let phase: ConnectPhase = 'tcp';
  let proxyGone: string | undefined;
  let fail: (err: Error) => void = () => {};
  const deadline = new Deadline(target.readyTimeoutMs, () => fail(timeoutError(target, phase)));
  const prompter = pausing(deps.prompter, deadline);
  const plan = planAuth(target, { ...secrets, ...(prompter ? { prompter } : {}) });
  const hostKey: HostKeyState = {};
  let sock = jumpSock;
  if (target.proxyCommand !== undefined) sock = proxySocket(target, (why) => (proxyGone = why));
  const cfg: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.user,
    readyTimeout: 0, // ours (Deadline) knows about prompts; ssh2's does not
    keepaliveInterval: KEEPALIVE_MS,
    keepaliveCountMax: KEEPALIVE_COUNT,
    hostVerifier: makeHostVerifier(target, hostKey, { emit: deps.emit, warn: deps.warn, ...(prompter ? { prompter } : {}) }),
    algorithms: { serverHostKey: hostKeyAlgorithms(target) },
    authHandler: authHandler(plan, (label) => {
      phase = 'auth';
      deps.emit({ type: 'auth', detail: `trying ${label}` });
    }),
  };
  if (sock) cfg.sock = sock;
  const via = target.proxyCommand !== undefined ? ' via ProxyCommand' : jumpSock ? ' via jump host' : '';
  deps.emit({ type: 'connect', detail: `connecting to ${target.user}@${target.host}:${target.port}${via}` });
  return new Promise((resolve, reject) => {
    let settled = false;
    fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      deadline.stop();
      client.end();
      sock?.destroy();
      reject(err);
    };
    client.on('connect', () => {
      if (phase === 'tcp') phase = 'handshake';
    });
    client.on('error', (err: Error & { level?: string }) => {
      // non-fatal: ssh2 reports these and moves on to the next auth method
      if (err.level === 'agent' || err.message.startsWith('Error while signing')) {
        deps.emit({ type: 'auth', detail: `skipped: ${err.message}` });
        return;
      }
      fail(classifyConnectError(err, target, hostKey, plan));
    });
    client.on('close', () => {
      if (proxyGone !== undefined && !hostKey.refused && !hostKey.failure) {
        fail(new ConnectError(`the ProxyCommand for ${target.host} ended (${proxyGone}) before the SSH connection was up: ${target.proxyCommand}`,
          'run that command by hand to see why it fails'));
      }
      fail(hostKey.refused ?? hostKey.failure ?? new ConnectError(`${target.user}@${target.host}:${target.port} closed the connection during the SSH handshake`,
        'the server may be rate-limiting connections or refusing this client; retry in a few seconds'));
    });
    client.on('ready', () => {
      if (settled) return;
      settled = true;
      deadline.stop();
      deps.emit({ type: 'connect', detail: `connected to ${target.user}@${target.host}:${target.port}` });
      resolve(client);
    });
    deadline.start();
    try {
      client.connect(cfg);
    } catch (e) {
      fail(new ConnectError(`cannot start SSH to ${target.user}@${target.host}:${target.port}: ${(e as Error).message}`));
    }
  });
}
