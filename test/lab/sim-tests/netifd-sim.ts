// Runs the lab's netifd-sim on the host inside a private network namespace (prefix `lnd-`),
// with real iproute2 and a hotplug-call stand-in that records events. No pppd: the host
// kernel has no PPP, so only static and bridge interfaces are exercised here.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, run, type Run } from './helpers.js';

const IP = '/usr/sbin/ip';
const NETIFD = join(ROOT, 'usr', 'sbin', 'netifd-sim');
const UBUS = join(ROOT, 'bin', 'ubus');
const UCI = join(ROOT, 'sbin', 'uci');

export class NetifdLab {
  readonly dir = mkdtempSync(join(tmpdir(), 'lnd-'));
  readonly ns: string;
  readonly resolv = join(this.dir, 'resolv.conf.d', 'resolv.conf.auto');
  readonly events = join(this.dir, 'events');
  private proc: ChildProcess | null = null;

  constructor(tag: string) {
    this.ns = `lnd-${tag}-${process.pid}`;
    mkdirSync(join(this.dir, 'config'));
    // records ACTION INTERFACE DEVICE; a file sleep-<iface> holds the queue that many seconds
    writeFileSync(join(this.dir, 'hotplug'), [
      '#!/bin/sh',
      `echo "$ACTION $INTERFACE\${DEVICE:+ $DEVICE}" >> ${this.events}`,
      `[ -f ${this.dir}/sleep-$INTERFACE ] && sleep "$(cat ${this.dir}/sleep-$INTERFACE)"`,
      'exit 0',
      '',
    ].join('\n'));
    // pppd stand-in: records its argv, then waits; on SIGTERM it takes TERM_DELAY seconds to
    // exit (as pppd does while it sends LCP TermReq and PADT), or ignores it with TERM_DELAY=never
    writeFileSync(join(this.dir, 'pppd'), [
      '#!/bin/sh',
      `echo "$*" > ${this.dir}/pppd-$3.argv`,
      `echo $$ > ${this.dir}/pppd-$3.pid`,
      `trap 'd=$(cat ${this.dir}/term-delay 2>/dev/null || echo 0); if [ "$d" != never ]; then sleep "$d"; exit 5; fi' TERM`,
      'while :; do sleep 0.1; done',
      '',
    ].join('\n'));
    chmodSync(join(this.dir, 'pppd'), 0o755);
    chmodSync(join(this.dir, 'hotplug'), 0o755);
    must(run(IP, ['netns', 'add', this.ns]));
  }

  ip(args: string[]): Run {
    return run(IP, ['-n', this.ns, ...args]);
  }

  env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      NETIFD_SIM_SOCK: join(this.dir, 'sock'),
      NETIFD_SIM_CONFDIR: join(this.dir, 'config'),
      NETIFD_SIM_IP: IP,
      NETIFD_SIM_HOTPLUG: join(this.dir, 'hotplug'),
      NETIFD_SIM_FW_STATE: join(this.dir, 'fw4.state'),
      NETIFD_SIM_PIDFILE: join(this.dir, 'pid'),
      NETIFD_SIM_RESOLV: this.resolv,
      NETIFD_SIM_LOGDIR: join(this.dir, 'log'),
      NETIFD_SIM_PPPD: join(this.dir, 'pppd'),
      UCI_SIM_DEFAULT_SAVEDIR: join(this.dir, 'tmp-uci'),
    };
  }

  writeConfig(text: string): void {
    writeFileSync(join(this.dir, 'config', 'network'), text);
  }

  uci(args: string[]): void {
    must(run(UCI, ['-c', join(this.dir, 'config'), ...args], { env: this.env() }));
  }

  async start(): Promise<void> {
    this.proc = spawn(IP, ['netns', 'exec', this.ns, 'python3', NETIFD], {
      env: this.env(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.proc.stderr?.on('data', () => undefined);
    await waitFor(() => existsSync(join(this.dir, 'sock')) && existsSync(join(this.dir, 'pid')));
  }

  ubus(path: string, method: string, args: object = {}): Run {
    return run(UBUS, ['call', path, method, JSON.stringify(args)], { env: this.env() });
  }

  status(iface: string): Record<string, unknown> {
    const r = this.ubus(`network.interface.${iface}`, 'status');
    must(r);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  readEvents(): string[] {
    return existsSync(this.events) ? readFileSync(this.events, 'utf8').trim().split('\n').filter(Boolean) : [];
  }

  readResolv(): string {
    return existsSync(this.resolv) ? readFileSync(this.resolv, 'utf8') : '';
  }

  /** Stops the daemon (SIGTERM, SIGKILL after 3 s) and the pppd stand-ins, then removes the netns. */
  async stop(): Promise<void> {
    const pids: number[] = [];
    for (const f of readdirSync(this.dir)) {
      if (f === 'pid' || /^pppd-.*\.pid$/.test(f)) pids.push(Number(readFileSync(join(this.dir, f), 'utf8')));
    }
    if (this.proc?.pid) pids.push(this.proc.pid);
    for (const pid of pids) signal(pid, 'SIGTERM');
    const end = Date.now() + 3000;
    while (pids.some(alive) && Date.now() < end) await sleep(50);
    for (const pid of pids.filter(alive)) signal(pid, 'SIGKILL');
    spawnSync(IP, ['netns', 'del', this.ns]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export function must(r: Run): Run {
  if (r.code !== 0) throw new Error(`command failed (${r.code}): ${r.stderr}`);
  return r;
}

export async function waitFor(cond: () => boolean, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
