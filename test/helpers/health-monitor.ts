/**
 * Runs the dial monitor (openwrt-files/owrt-ecmp-health.sh) under BusyBox ash in a router
 * netns whose "dials" are veth pairs into an ISP netns. The ISP side answers pings on the
 * PPP peer address; "silence" is an nft drop of everything on the ISP's end, as the lab's
 * `silence` fault does on its pppN. The veths run without ARP and IPv6 (a PPP link has
 * neither), so rx_bytes only grows with IP traffic. ubus answers from a JSON file;
 * ifup/ifdown/ping/ubus/logger are recorded with a timestamp (ping then runs BusyBox ping).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openwrtFilesDir } from '../../src/render/env.js';
import { type FakeDial, LibHarness } from './router-lib.js';

export const PEER = '100.64.255.1';

export interface MonDial extends FakeDial {
  k: number;
  /** ubus fields beyond up/dev/addr */
  pending?: boolean;
  autostart?: boolean;
  errors?: string[];
}

export class MonitorHarness extends LibHarness {
  readonly isp: string;
  readonly calls = join(this.dir, 'calls');
  readonly health = join(this.dir, 'health');
  private proc: ChildProcess | undefined;

  constructor(ns: string) {
    super(ns);
    this.isp = `${ns}isp`;
  }

  override setup(): void {
    super.setup();
    spawnSync('ip', ['netns', 'add', this.isp]);
    const rec = (name: string, tail: string) => {
      const p = `${this.dir}/bin/${name}`;
      writeFileSync(p, `#!/bin/sh\nread -r t _ </proc/uptime\necho "$t ${name} $*" >>${this.calls}\n${tail}\n`);
      chmodSync(p, 0o755);
    };
    rec('ifup', 'exit 0');
    rec('ifdown', 'exit 0');
    rec('ping', 'exec busybox ping "$@"');
    // ubus as LibHarness answers it, each call recorded (the monitor reads netifd sparingly)
    rec('ubus', `[ "$1 $2 $3" = "call network.interface dump" ] && exec cat ${this.dumpFile}; exit 4`);
    rec('logger', `echo "$*" >>${this.logFile}`);
    writeFileSync(this.calls, '');
    this.ispSh('ip link set lo up; sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0');
    this.sh('sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0');
  }

  override teardown(): void {
    this.stop();
    spawnSync('ip', ['netns', 'del', this.isp]);
    super.teardown();
  }

  ispSh(cmd: string): string {
    const r = spawnSync('ip', ['netns', 'exec', this.isp, 'sh', '-c', cmd], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`isp: ${cmd}: ${r.stderr}`);
    return r.stdout;
  }

  /** A point-to-point "PPP" link: same MAC on both ends and no ARP, so no resolution traffic. */
  addLink(d: MonDial): void {
    const isp = `isp${d.k}`;
    const mac = `02:00:00:00:00:${String(d.k).padStart(2, '0')}`;
    this.sh(`ip link add ${d.dev} type veth peer name ${isp} netns ${this.isp}`);
    for (const [run, dev] of [[(c: string) => this.sh(c), d.dev], [(c: string) => this.ispSh(c), isp]] as const) {
      run(`sysctl -qw net.ipv6.conf.${dev}.disable_ipv6=1; ip link set ${dev} address ${mac} arp off up`);
    }
    this.sh(`ip addr add ${d.addr} peer ${PEER}/32 dev ${d.dev}`);
    this.ispSh(`ip addr add ${PEER} peer ${d.addr}/32 dev ${isp}`);
  }

  /** The ISP stops passing IP on dial k's session, both ways (LCP would still pass on PPP). */
  silence(k: number, on: boolean): void {
    const t = `silence${k}`;
    if (!on) {
      this.ispSh(`nft delete table inet ${t} 2>/dev/null; true`);
      return;
    }
    this.ispSh(
      `nft -f - <<'EOF'\ntable inet ${t} {\n chain pre { type filter hook prerouting priority -300; iifname "isp${k}" drop; }\n` +
        ` chain out { type filter hook postrouting priority 300; oifname "isp${k}" drop; }\n}\nEOF`,
    );
  }

  writeMonDump(dials: MonDial[]): void {
    const ifaces = dials.map((d) => ({
      interface: d.name,
      up: d.up,
      pending: d.pending ?? false,
      available: true,
      autostart: d.autostart ?? true,
      proto: 'pppoe',
      ...(d.up ? { l3_device: d.dev, 'ipv4-address': [{ address: d.addr, mask: 32, ptpaddress: PEER }] } : {}),
      ...(d.errors ? { errors: d.errors.map((code) => ({ subsystem: 'pppoe', code })) } : {}),
      data: {},
    }));
    writeFileSync(this.dumpFile, JSON.stringify({ interface: ifaces }));
  }

  /** Start the monitor as procd would: settings from a glue file that sources the library. */
  start(dials: MonDial[], env: Record<string, string> = {}): void {
    const glue = join(this.dir, 'glue');
    writeFileSync(
      glue,
      [
        `export OWRT_ECMP_DIALS='${dials.map((d) => `${d.name}:${d.k}:1`).join(' ')}' OWRT_ECMP_METRIC=10`,
        'export OWRT_ECMP_IPV6=single OWRT_ECMP_ROUTE_MODE=multipath OWRT_ECMP_BASE=3000',
        `. ${join(openwrtFilesDir, 'owrt-ecmp.sh')}`,
        'owrt_ecmp_hotplug',
      ].join('\n'),
    );
    const vars = {
      PATH: `${this.dir}/bin:${process.env.PATH}`,
      OWRT_ECMP_GLUE: glue,
      OWRT_ECMP_STATE: `${this.dir}/state`,
      OWRT_ECMP_IFSTATE: `${this.dir}/ifstate`,
      OWRT_ECMP_LOCK: `${this.dir}/lock`,
      OWRT_ECMP_DUMP: `${this.dir}/ubus.dump`,
      // the library sources its pinning half from here (on the router: /usr/lib/owrt-ecmp)
      OWRT_ECMP_LIBDIR: openwrtFilesDir,
      OWRT_ECMP_HEALTH: this.health,
      OWRT_ECMP_HEALTH_DUMP: `${this.dir}/health-dump`,
      OWRT_ECMP_HEALTH_TARGET: '',
      // what owrt_ecmp.main.health holds: '1' = on (probes), 'redial' = no probes
      OWRT_ECMP_HEALTH_MODE: '1',
      ...env,
    };
    const exports = Object.entries(vars).map(([k, v]) => `export ${k}='${v}'`).join('; ');
    const script = `${exports}; exec busybox sh ${join(openwrtFilesDir, 'owrt-ecmp-health.sh')}`;
    this.proc = spawn('ip', ['netns', 'exec', this.ns, 'sh', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc.stderr?.on('data', (b: Buffer) => process.stderr.write(`[monitor] ${b}`));
  }

  stop(): void {
    if (this.proc && this.proc.exitCode === null) {
      this.proc.kill('SIGTERM');
      spawnSync('sleep', ['1.5']);
    }
    this.proc = undefined;
  }

  /** ifup/ifdown/ping calls: [uptime seconds, command, args] */
  callLog(): [number, string, string][] {
    return readFileSync(this.calls, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [t, cmd, ...rest] = l.split(' ');
        return [Number(t), cmd ?? '', rest.join(' ')];
      });
  }

  healthLines(): Map<string, string[]> {
    let text = '';
    try {
      text = readFileSync(this.health, 'utf8');
    } catch {
      return new Map();
    }
    return new Map(text.split('\n').filter(Boolean).map((l) => { const f = l.split(' '); return [f[0] ?? '', f.slice(1)]; }));
  }

  ecmpDevs(): string[] {
    const out = this.sh('ip -j -4 route show default table 3000 metric 10 2>/dev/null; true').trim();
    let r: { dev?: string; nexthops?: { dev: string }[] } | undefined;
    try {
      r = JSON.parse(out)[0]; // a missing table prints a broken "[" with its error
    } catch {
      return [];
    }
    if (!r) return [];
    return (r.nexthops ?? [{ dev: r.dev }]).map((n: { dev?: string }) => n.dev ?? '').sort();
  }

  pinMap(): string {
    return this.sh('nft list map inet owrt_ecmp dial4 2>/dev/null; true');
  }
}

export async function waitFor(what: string, fn: () => boolean, timeoutMs: number, stepMs = 50): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (fn()) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}
