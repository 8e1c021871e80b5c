/**
 * --balance conn on real kernel conntrack, NAT and policy routing: a router netns with four
 * "dials" (veth pairs into an ISP netns with strict rp_filter, so the address the ISP sees is
 * the dial the packet left by), a LAN host netns behind it and a test-made masquerade standing
 * in for fw4's wan zone. The router-side library runs under BusyBox ash as on OpenWrt.
 * E = distinct dials carrying F connections / N dials: what F greedy flows over N equally
 * capped sessions achieve as a share of the N caps.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunNetns, devsOf, type FakeDial, LibHarness, upDials } from '../helpers/router-lib.js';

const tag = `i12b${process.pid % 100000}`;
const R = new LibHarness(`${tag}-r`);
const ISP = `${tag}-i`;
const LAN = `${tag}-l`;
const PY = '/usr/bin/python3';
const helpers = join(import.meta.dirname, '..', 'helpers');
const INTERNET = '198.51.100.10';

const DIALS: FakeDial[] = upDials(4);
const specOf = (weights: number[]) => DIALS.map((d, i) => `${d.name}:${i + 1}:${weights[i] ?? 1}`).join(' ');
const children: ChildProcess[] = [];

const inNs = (ns: string, cmd: string) => execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', cmd], { encoding: 'utf8' });

interface Held {
  sources: (string | null)[];
  ask(cmd: 'who' | 'ping'): Promise<unknown[]>;
  close(): void;
}

/** F connections from the LAN host to the internet host, held open. */
async function hold(f: number): Promise<Held> {
  const child = spawn('ip', ['netns', 'exec', LAN, PY, join(helpers, 'balance-traffic.py'), 'hold', String(f), `${INTERNET}:9000`], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await lines.next()).value as string) as unknown[];
  const sources = (await next()) as (string | null)[];
  return {
    sources,
    ask: async (cmd) => {
      child.stdin!.write(`${cmd}\n`);
      return next();
    },
    close: () => child.kill(),
  };
}

function efficiency(sources: (string | null)[], n: number): number {
  return new Set(sources.filter((s) => s && DIALS.some((d) => d.addr === s))).size / n;
}

function rebuild(dials: FakeDial[], balance: 'hash' | 'conn', weights = [1, 1, 1, 1]): void {
  R.writeDump(dials);
  R.runLib(`OWRT_ECMP_BALANCE=${balance} owrt_ecmp_rebuild test`, { dials: specOf(weights), mode: 'resilient' });
}

function buildTopology(): void {
  R.setup();
  for (const ns of [ISP, LAN]) execFileSync('ip', ['netns', 'add', ns]);
  inNs(ISP, `sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1
    ip link set lo up && ip addr add ${INTERNET}/32 dev lo`);
  R.sh('sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1');
  DIALS.forEach((d, i) => {
    execFileSync('ip', ['link', 'add', d.dev, 'netns', R.ns, 'type', 'veth', 'peer', 'name', `isp${i + 1}`, 'netns', ISP]);
    R.sh(`ip link set ${d.dev} up && ip addr add ${d.addr}/32 dev ${d.dev}`);
    inNs(ISP, `ip link set isp${i + 1} up && ip route add ${d.addr}/32 dev isp${i + 1}`);
  });
  execFileSync('ip', ['link', 'add', 'lan0', 'netns', R.ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', LAN]);
  R.sh('ip link set lan0 up && ip addr add 192.168.1.1/24 dev lan0');
  inNs(LAN, 'ip link set lo up && ip link set eth0 up && ip addr add 192.168.1.100/24 dev eth0 && ip route add default via 192.168.1.1');
  // fw4's wan-zone masquerade
  R.sh(`nft -f - <<'NFT'
table inet fwtest {
  chain srcnat { type nat hook postrouting priority srcnat; oifname "pppoe-*" masquerade; }
}
NFT`);
}

/** Put dial 3's device back after a test removed it. */
function restoreDial3(): void {
  const d = DIALS[2]!;
  if (R.sh(`ip link show ${d.dev} 2>/dev/null || true`).trim()) return;
  execFileSync('ip', ['link', 'add', d.dev, 'netns', R.ns, 'type', 'veth', 'peer', 'name', 'isp3', 'netns', ISP]);
  R.sh(`ip link set ${d.dev} up && ip addr add ${d.addr}/32 dev ${d.dev}`);
  inNs(ISP, `ip link set isp3 up && ip route add ${d.addr}/32 dev isp3`);
}

describe.skipIf(!canRunNetns)('--balance conn on real conntrack and NAT (4 dials, LAN host, strict ISP)', () => {
  beforeAll(async () => {
    buildTopology();
    const server = spawn('ip', ['netns', 'exec', ISP, PY, join(helpers, 'pin-traffic.py'), 'serve', '9000'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(server);
    await createInterface({ input: server.stdout! })[Symbol.asyncIterator]().next();
  }, 60_000);

  afterAll(() => {
    for (const c of children) c.kill();
    for (const ns of [ISP, LAN]) execFileSync('ip', ['netns', 'del', ns]);
    R.teardown();
  });

  it('conn: F = N = 4 connections land one on each dial, every round; hash for comparison', async () => {
    const rounds = 12;
    const e = { conn: [] as number[], hash: [] as number[] };
    for (const mode of ['hash', 'conn'] as const) {
      rebuild(DIALS, mode);
      expect(devsOf(R.ecmpRoute('-4'))).toHaveLength(4);
      for (let i = 0; i < rounds; i++) {
        const h = await hold(4);
        expect(h.sources.every((s) => s !== null)).toBe(true);
        e[mode].push(efficiency(h.sources, 4));
        h.close();
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(`E at F = N = 4 over ${rounds} rounds: conn ${mean(e.conn).toFixed(3)} (min ${Math.min(...e.conn)}), hash ${mean(e.hash).toFixed(3)} (min ${Math.min(...e.hash)})`);
    expect(e.conn).toEqual(Array(rounds).fill(1));
    // hashing 4 flows onto 4 dials leaves one idle most of the time (E ≈ 0.68 expected)
    expect(mean(e.hash)).toBeLessThan(0.95);
  }, 180_000);

  it('conn: weights 2,1,1,1 give dial 1 two slots of five, interleaved', async () => {
    rebuild(DIALS, 'conn', [2, 1, 1, 1]);
    expect(R.sh('nft list chain inet owrt_ecmp prerouting')).toMatch(/numgen inc mod 5 vmap/);
    const h = await hold(10);
    const count = (addr: string) => h.sources.filter((s) => s === addr).length;
    expect(DIALS.map((d) => count(d.addr!))).toEqual([4, 2, 2, 2]);
    h.close();
  }, 60_000);

  it('conn: a dial removed loses only its own connection; the others keep flowing on their dial; new ones skip it', async () => {
    rebuild(DIALS, 'conn');
    const h = await hold(4);
    expect(efficiency(h.sources, 4)).toBe(1);
    const gone = DIALS[2]!;
    // netifd: the PPP device disappears, the interface goes down, hotplug rebuilds
    R.sh(`ip link del ${gone.dev}`);
    rebuild(DIALS.map((d) => (d === gone ? { ...d, up: false } : d)), 'conn');
    expect(devsOf(R.ecmpRoute('-4'))).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      const alive = (await h.ask('ping')) as boolean[];
      expect(alive).toEqual(h.sources.map((s) => s !== gone.addr));
    }
    // the survivors still leave by the same dial (the ISP sees the same address)
    const again = (await h.ask('who')) as (string | null)[];
    expect(again).toEqual(h.sources.map((s) => (s === gone.addr ? null : s)));
    const fresh = await hold(3);
    expect(new Set(fresh.sources)).toEqual(new Set(DIALS.filter((d) => d !== gone).map((d) => d.addr)));
    fresh.close();
    h.close();
    restoreDial3();
  }, 60_000);

  it('flush removes the nft table, the rules and the routes', () => {
    restoreDial3();
    rebuild(DIALS, 'conn');
    expect(R.sh('nft list tables')).toMatch(/inet owrt_ecmp/);
    R.runLib('OWRT_ECMP_BALANCE=conn owrt_ecmp_flush', { dials: specOf([1, 1, 1, 1]) });
    expect(R.sh('nft list tables')).not.toMatch(/owrt_ecmp/);
    expect(R.ipJson('-4 rule show').filter((x) => x.priority >= 3000 && x.priority <= 3264)).toEqual([]);
    expect(R.ecmpRoute('-4')).toBeUndefined();
  });

  it('hash mode has no round robin: switching back removes the conn chains', () => {
    rebuild(DIALS, 'conn');
    expect(R.sh('nft list table inet owrt_ecmp')).toMatch(/numgen/);
    rebuild(DIALS, 'hash');
    const t = R.sh('nft list table inet owrt_ecmp');
    expect(t).not.toMatch(/numgen|chain conn/);
    expect(t).toMatch(/ct reply ip daddr vmap @dial4/);
  });
});
