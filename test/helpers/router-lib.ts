/**
 * Drives the router-side library (openwrt-files/owrt-ecmp.sh) under BusyBox ash inside a
 * network namespace: a ubus that answers from a JSON file, the lab's jsonfilter, and
 * logger/lock stand-ins that only record. Shared by the router-lib integration tests.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openwrtFilesDir } from '../../src/render/env.js';

const root = join(import.meta.dirname, '..', '..');
export const jsonfilterPath = join(root, 'test/lab/router-root/usr/bin/jsonfilter');
export const canRunNetns = process.getuid?.() === 0 && existsSync(jsonfilterPath);

export interface FakeDial {
  name: string;
  up: boolean;
  dev: string;
  addr?: string;
  gw6?: string;
}

/** Dials wan, vwan2… up on pppoe-<name> with addresses 100.64.0.2… (the host suites' ISP). */
export function upDials(n: number): FakeDial[] {
  return Array.from({ length: n }, (_, i) => {
    const name = i === 0 ? 'wan' : `vwan${i + 1}`;
    return { name, up: true, dev: `pppoe-${name}`, addr: `100.64.0.${i + 2}` };
  });
}

export interface LibEnv {
  dials?: string;
  mode?: string;
  ipv6?: string;
  busyboxIp?: boolean;
  /** OWRT_ECMP_GEN: the settings' name, checked against the glue at ${dir}/glue */
  gen?: string;
}

/** One ubus `network.interface` entry per dial (and its `_6` when it has an IPv6 gateway). */
export function dumpOf(dials: FakeDial[], pad = 0): object {
  const ifaces: object[] = [];
  for (const d of dials) {
    ifaces.push({
      interface: d.name,
      up: d.up,
      pending: !d.up,
      available: true,
      autostart: true,
      dynamic: false,
      proto: 'pppoe',
      device: `${d.name}mv`,
      // what a real dump carries besides the fields the library reads (for size)
      data: pad ? { filler: 'x'.repeat(pad) } : {},
      ...(d.up
        ? { l3_device: d.dev, uptime: 10, 'ipv4-address': [{ address: d.addr, mask: 32, ptpaddress: '100.64.255.1' }], route: [] }
        : {}),
    });
    if (d.up && d.gw6) {
      ifaces.push({
        interface: `${d.name}_6`,
        up: true,
        pending: false,
        available: true,
        autostart: true,
        dynamic: true,
        proto: 'dhcpv6',
        device: d.dev,
        l3_device: d.dev,
        route: [{ target: '::', mask: 0, nexthop: d.gw6, metric: 512, source: '2001:db8::/64' }],
        data: pad ? { filler: 'y'.repeat(pad) } : {},
      });
    }
  }
  return { interface: ifaces };
}

export class LibHarness {
  readonly dir = mkdtempSync(join(tmpdir(), 'owrt-ecmp-lib-'));
  readonly dumpFile = join(this.dir, 'dump.json');
  readonly logFile = join(this.dir, 'log');

  constructor(readonly ns: string) {}

  /** Create the namespace and the stand-ins for ubus, lock, logger, jsonfilter and BusyBox ip. */
  setup(): void {
    execFileSync('ip', ['netns', 'add', this.ns]);
    mkdirSync(`${this.dir}/bin`, { recursive: true });
    mkdirSync(`${this.dir}/bin-bb`, { recursive: true });
    const stub = (path: string, body: string) => {
      writeFileSync(path, `#!/bin/sh\n${body}\n`);
      chmodSync(path, 0o755);
    };
    stub(`${this.dir}/bin/ubus`, `[ "$1 $2 $3" = "call network.interface dump" ] && exec cat ${this.dumpFile}; exit 4`);
    // serialisation is the lab's and OpenWrt's business; here only the calls are recorded
    stub(`${this.dir}/bin/lock`, `echo "lock $*" >>${this.dir}/locklog`);
    stub(`${this.dir}/bin/logger`, `echo "$*" >>${this.logFile}`);
    stub(`${this.dir}/bin/jsonfilter`, `exec ${jsonfilterPath} "$@"`);
    stub(`${this.dir}/bin-bb/ip`, 'exec busybox ip "$@"');
    this.sh('ip link set lo up');
  }

  teardown(): void {
    spawnSync('ip', ['netns', 'del', this.ns]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  writeDump(dials: FakeDial[], pad = 0): void {
    writeFileSync(this.dumpFile, JSON.stringify(dumpOf(dials, pad)));
  }

  sh(cmd: string): string {
    return execFileSync('ip', ['netns', 'exec', this.ns, 'sh', '-c', cmd], { encoding: 'utf8' });
  }

  ipJson(args: string): any[] {
    const out = this.sh(`ip -j ${args}`).trim();
    return out ? JSON.parse(out) : [];
  }

  /** Source the library with these settings and call `fn` (a shell snippet) under BusyBox ash. */
  runLib(fn: string, e: LibEnv = {}): void {
    const bin = e.busyboxIp ? `${this.dir}/bin-bb:${this.dir}/bin` : `${this.dir}/bin`;
    const script = [
      `export PATH=${bin}:$PATH OWRT_ECMP_STATE=${this.dir}/state OWRT_ECMP_IFSTATE=${this.dir}/ifstate OWRT_ECMP_LOCK=${this.dir}/lock OWRT_ECMP_DUMP=${this.dir}/ubus.dump OWRT_ECMP_LIBDIR=${openwrtFilesDir}`,
      `export OWRT_ECMP_DIALS='${e.dials ?? 'wan:1:2 vwan2:2:1 vwan3:3:1'}' OWRT_ECMP_METRIC=10`,
      `export OWRT_ECMP_IPV6=${e.ipv6 ?? 'single'} OWRT_ECMP_ROUTE_MODE=${e.mode ?? 'multipath'} OWRT_ECMP_BASE=3000`,
      `export OWRT_ECMP_GLUE=${this.dir}/glue${e.gen ? ` OWRT_ECMP_GEN=${e.gen}` : ''}`,
      `. ${join(openwrtFilesDir, 'owrt-ecmp.sh')}`,
      fn,
    ].join('\n');
    const r = spawnSync('ip', ['netns', 'exec', this.ns, 'busybox', 'sh', '-c', script], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`library ${fn} failed (${r.status}): ${r.stderr}`);
  }

  /** The ECMP default route: table 3000 (where the library keeps it), metric 10. */
  ecmpRoute(fam: '-4' | '-6'): any | undefined {
    return this.ipJson(`${fam} route show default table 3000 metric 10`)[0];
  }
}

export function devsOf(route: any): string[] {
  if (!route) return [];
  return (route.nexthops ?? [{ dev: route.dev }]).map((n: any) => n.dev).sort();
}
