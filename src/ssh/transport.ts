/**
 * One SSH connection (optionally through ProxyJump hosts) that runs commands one at a time.
 * Knows nothing about routers: exec with stdin in, stdout/stderr/exit status out.
 */
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import { ConnectError, RemoteError } from '../errors.js';
import { openClient } from './open-client.js';
import type { Prompter } from './prompt.js';
import type { SshTarget } from './target.js';

export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  /** null when the server sent no exit-status (a known dropbear bug); never invented. */
  code: number | null;
  signal: string | null;
}

export interface ExecOptions {
  stdin?: string | Buffer;
  timeoutMs?: number;
  /** Called with each chunk of stdout as it arrives (the result still holds all of it). */
  onStdout?: (chunk: Buffer) => void;
}

export interface Transport {
  /** Commands run strictly one after another; concurrent calls queue. */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
  /** Number of exec calls made. */
  readonly roundTrips: number;
  readonly target: SshTarget;
}

export type TransportEvent = { type: 'connect' | 'hostkey' | 'auth' | 'exec' | 'exec-done' | 'close'; detail: string };

export interface ConnectOptions {
  onEvent?: (e: TransportEvent) => void;
  /** Only from the caller (env OWRT_ECMP_SSH_PASSWORD); sent to the final target, never to jump hosts. */
  password?: string;
  /** For encrypted identity files; defaults to env OWRT_ECMP_SSH_PASSPHRASE. */
  passphrase?: string;
  /** Only on a terminal: ask for unknown host keys, passphrases, a password. */
  prompter?: Prompter;
  /** Things the user should see even without --verbose (a host key recorded). */
  onWarning?: (msg: string) => void;
  /** Hears every secret typed at a prompt, so the caller can mask it. */
  onSecret?: (secret: string) => void;
}

export function describeTarget(t: SshTarget): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `${t.user}@${host}:${t.port}`;
}

export async function connect(target: SshTarget, opts: ConnectOptions = {}): Promise<Transport> {
  const emit = opts.onEvent ?? (() => {});
  const passphrase = opts.passphrase ?? process.env.OWRT_ECMP_SSH_PASSPHRASE;
  const hops: ssh2.Client[] = [];
  const deps = { emit, warn: opts.onWarning ?? (() => {}), ...(opts.prompter ? { prompter: opts.prompter } : {}) };
  const shared = {
    ...(passphrase !== undefined ? { passphrase } : {}),
    ...(opts.onSecret ? { onSecret: opts.onSecret } : {}),
  };
  try {
    let sock: Duplex | undefined;
    if (target.proxyJump) {
      const { password: _never, ...hopOpts } = opts; // the password is for the target only
      const jump = (await connect(target.proxyJump, hopOpts)) as SshTransport;
      hops.push(...jump.clients);
      sock = await forwardTo(jump.clients[jump.clients.length - 1] as ssh2.Client, target);
    }
    const secrets = { ...shared, ...(opts.password !== undefined ? { password: opts.password } : {}) };
    const client = await openClient(target, deps, secrets, sock);
    return new SshTransport(target, [...hops, client], emit);
  } catch (e) {
    for (const c of hops) c.end();
    throw e;
  }
}

function forwardTo(jump: ssh2.Client, target: SshTarget): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    jump.forwardOut('127.0.0.1', 0, target.host, target.port, (err, stream) => {
      if (err) {
        reject(new ConnectError(`the jump host could not open a connection to ${target.host}:${target.port}: ${err.message}`,
          'check the target address as seen from the jump host'));
      } else {
        resolve(stream);
      }
    });
  });
}

/** Write stdin then EOF; gather output until the channel closes. Exit status stays null if never sent. */
function collectChannel(ch: ClientChannel, stdin: Buffer | undefined, done: (r: ExecResult) => void, onStdout?: (b: Buffer) => void): void {
  const out: Buffer[] = [];
  const errOut: Buffer[] = [];
  let code: number | null = null;
  let signal: string | null = null;
  ch.on('data', (b: Buffer) => {
    out.push(b);
    onStdout?.(b);
  });
  ch.stderr.on('data', (b: Buffer) => errOut.push(b));
  ch.on('exit', (c: number | null, s?: string) => {
    if (typeof c === 'number') code = c;
    if (typeof s === 'string') signal = s;
  });
  ch.on('close', () => done({ stdout: Buffer.concat(out), stderr: Buffer.concat(errOut), code, signal }));
  ch.end(stdin);
}

class SshTransport implements Transport {
  private calls = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private lost: string | undefined;
  private closed = false;
  private abortCurrent: ((err: Error) => void) | undefined;
  private readonly ended = new Set<ssh2.Client>();

  constructor(
    readonly target: SshTarget,
    /** Jump hosts first, the target last. */
    readonly clients: ssh2.Client[],
    private readonly emit: (e: TransportEvent) => void,
  ) {
    for (const c of clients) c.once('close', () => this.ended.add(c));
    const main = clients[clients.length - 1] as ssh2.Client;
    main.on('error', (err: Error) => this.drop(err.message));
    main.on('close', () => this.drop('the server closed the connection'));
  }

  get roundTrips(): number {
    return this.calls;
  }

  private drop(why: string): void {
    if (this.closed || this.lost !== undefined) return;
    this.lost = why;
    this.emit({ type: 'close', detail: `connection lost: ${why}` });
    this.abortCurrent?.(new ConnectError(`connection lost to ${describeTarget(this.target)}: ${why}`,
      'the router may have rebooted or changed its network; check it and re-run'));
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const run = this.queue.then(() => this.execNow(command, opts));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private execNow(command: string, opts: ExecOptions): Promise<ExecResult> {
    if (this.closed) return Promise.reject(new ConnectError('the SSH connection is already closed'));
    if (this.lost !== undefined) {
      return Promise.reject(new ConnectError(`connection lost to ${describeTarget(this.target)}: ${this.lost}`));
    }
    const n = ++this.calls;
    const stdin = opts.stdin === undefined ? undefined : Buffer.isBuffer(opts.stdin) ? opts.stdin : Buffer.from(opts.stdin, 'utf8');
    this.emit({ type: 'exec', detail: `#${n} ${command}${stdin ? ` (stdin ${stdin.length} bytes)` : ''}` });
    const main = this.clients[this.clients.length - 1] as ssh2.Client;
    return new Promise<ExecResult>((resolve, reject) => {
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      let channel: ClientChannel | undefined;
      const finish = (err: Error | undefined, res?: ExecResult): void => {
        if (done) return;
        done = true;
        this.abortCurrent = undefined;
        if (timer) clearTimeout(timer);
        if (err) reject(err);
        else resolve(res as ExecResult);
      };
      this.abortCurrent = (err) => finish(err);
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.emit({ type: 'exec-done', detail: `#${n} timed out after ${opts.timeoutMs} ms` });
          channel?.close();
          finish(new RemoteError(`the command did not finish within ${opts.timeoutMs} ms`,
            'the router may be overloaded or the command hung; check it and re-run'));
        }, opts.timeoutMs);
      }
      main.exec(command, (err, ch) => {
        if (done) {
          ch?.close();
          return;
        }
        if (err) {
          if (this.lost !== undefined) return; // drop() already rejected
          finish(new RemoteError(`the server refused to run a command: ${err.message}`));
          return;
        }
        channel = ch;
        collectChannel(ch, stdin, (res) => {
          if (this.lost !== undefined) return; // drop() already rejected
          this.emit({
            type: 'exec-done',
            detail: `#${n} exit ${res.code ?? (res.signal ? `signal ${res.signal}` : 'unknown')}, stdout ${res.stdout.length} bytes, stderr ${res.stderr.length} bytes`,
          });
          finish(undefined, res);
        }, opts.onStdout);
      });
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.emit({ type: 'close', detail: `closing connection to ${describeTarget(this.target)}` });
    // target first, then the jump hosts it tunnels through
    const waits = [...this.clients].reverse().map((c) =>
      this.ended.has(c)
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            c.once('close', () => resolve());
            c.end();
            setTimeout(resolve, 2000).unref();
          }),
    );
    return Promise.all(waits).then(() => undefined);
  }
}
