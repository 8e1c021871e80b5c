import { createLog, type Log } from '../output/log.js';
import { createProgress, type Progress } from '../output/progress.js';
import { atInterrupt } from './interrupt.js';
import { redact } from '../redact.js';
import { canPrompt, connect, describeTarget, resolveTarget, ttyPrompter, type SshTarget, type Transport } from '../ssh/index.js';
import { UsageError } from '../errors.js';
import { parseIntOption } from '../options.js';

/** Options every command takes (commander's camelCase names). */
export interface GlobalOptions {
  host?: string;
  port?: string;
  user?: string;
  identity?: string;
  knownHosts?: string;
  acceptNew?: boolean;
  sshConfig?: string;
  /** Seconds for TCP connect + SSH handshake (default: ssh config ConnectTimeout, else 10). */
  connectTimeout?: string;
  verbose?: boolean;
  debug?: boolean;
  quiet?: boolean;
  json?: boolean;
  color?: boolean;
}

/** A command's view of the router: connections opened on demand, round trips counted. */
export class Session {
  readonly log: Log;
  /** live router-side steps of a long round trip (stderr; silent with --quiet/--json) */
  readonly progress: Progress;
  readonly target: SshTarget;
  private secrets: string[] = [];
  private opened: Transport[] = [];
  private current: Transport | undefined;
  private readonly untrack: () => void;

  constructor(readonly opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env) {
    this.log = createLog(
      { verbose: opts.verbose, debug: opts.debug, quiet: opts.quiet || opts.json, color: opts.color },
      (s) => redact(s, this.secrets),
    );
    this.progress = createProgress({
      enabled: !(opts.quiet || opts.json),
      // verbose and debug lines would land in the middle of a redrawn line: plain lines then
      spinner: Boolean(process.stderr.isTTY) && !opts.debug && !opts.verbose,
      write: (s) => process.stderr.write(s),
      columns: () => process.stderr.columns,
    });
    this.untrack = atInterrupt(() => this.progress.stop());
    const host = opts.host ?? env.OWRT_ECMP_HOST;
    if (!host) throw new UsageError('no router given', 'pass --host [user@]host[:port] or set OWRT_ECMP_HOST');
    this.target = resolveTarget(
      {
        host,
        ...(opts.port !== undefined ? { port: parseIntOption('--port', opts.port, 1, 65535) } : {}),
        ...(opts.user !== undefined ? { user: opts.user } : {}),
        ...(opts.identity !== undefined ? { identity: opts.identity } : {}),
        ...(opts.knownHosts !== undefined ? { knownHosts: opts.knownHosts } : {}),
        ...(opts.sshConfig !== undefined ? { sshConfigFile: opts.sshConfig } : {}),
        ...(opts.connectTimeout !== undefined
          ? { connectTimeoutMs: parseIntOption('--connect-timeout', String(opts.connectTimeout), 1, 3600) * 1000 }
          : {}),
        ...(opts.acceptNew ? { acceptNew: true } : {}),
      },
      env,
      (m) => this.log.warn(m),
    );
    if (env.OWRT_ECMP_SSH_PASSWORD) this.addSecrets([env.OWRT_ECMP_SSH_PASSWORD]);
  }

  addSecrets(list: readonly string[]): void {
    for (const s of list) if (s && !this.secrets.includes(s)) this.secrets.push(s);
  }

  get secretList(): readonly string[] {
    return this.secrets;
  }

  /** The open connection, or a first one. */
  async transport(): Promise<Transport> {
    this.current ??= await this.open();
    return this.current;
  }

  /** A brand-new connection (used to prove the router is still reachable after a change). */
  async fresh(): Promise<Transport> {
    if (this.current) {
      await this.current.close();
      this.current = undefined;
    }
    this.current = await this.open();
    return this.current;
  }

  private async open(): Promise<Transport> {
    this.log.verbose(`connecting to ${describeTarget(this.target)}`);
    const password = process.env.OWRT_ECMP_SSH_PASSWORD;
    // ask like ssh only where a person can answer: a terminal, and not when a program reads --json
    const prompter = !this.opts.json && canPrompt() ? ttyPrompter() : undefined;
    const t = await connect(this.target, {
      onEvent: (e) => this.log.debug(`ssh ${e.type}: ${e.detail}`),
      onWarning: (m) => this.log.warn(m),
      onSecret: (s) => this.addSecrets([s]),
      ...(prompter ? { prompter } : {}),
      ...(password ? { password } : {}),
    });
    this.opened.push(t);
    return t;
  }

  get roundTrips(): number {
    return this.opened.reduce((n, t) => n + t.roundTrips, 0);
  }

  async close(): Promise<void> {
    this.progress.stop();
    this.untrack();
    await Promise.allSettled(this.opened.map((t) => t.close()));
    this.log.verbose(`${this.roundTrips} SSH round trip(s) over ${this.opened.length} connection(s)`);
  }
}

export async function withSession<T>(opts: GlobalOptions, fn: (s: Session) => Promise<T>): Promise<T> {
  const s = new Session(opts);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}
