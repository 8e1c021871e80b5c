/**
 * Inbound pinning and live connections, on real kernel NAT and routing: a router netns with
 * four "dials" (veth pairs into an ISP netns whose strict rp_filter drops a packet arriving on
 * a session with another session's source address, as an ISP's access concentrator does), a
 * LAN host netns behind it, and a test-made `table inet fwtest` standing in for fw4's port
 * forward (DNAT) and masquerade. The router-side library runs under BusyBox ash as on OpenWrt.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunNetns, devsOf, type FakeDial, LibHarness, upDials } from '../helpers/router-lib.js';

const pid = process.pid;
const R = new LibHarness(`pin-r-${pid}`);
const ISP = `pin-i-${pid}`;
const LAN = `pin-l-${pid}`;
const PY = '/usr/bin/python3';
const traffic = join(import.meta.dirname, '..', 'helpers', 'pin-traffic.py');
const INTERNET = '198.51.100.10';
const LAN_HOST = '192.168.1.100';

const DIALS: FakeDial[] = upDials(4);
const SPEC = DIALS.map((d, i) => `${d.name}:${i + 1}:1`).join(' ');
const children: ChildProcess[] = [];

function inNs(ns: string, cmd: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', cmd], { encoding: 'utf8' });
}

function pyIn(ns: string, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, PY, traffic, ...args], { encoding: 'utf8', timeout: 120_000 });
}

/** A long-running helper; resolves once it printed its first line. */
async function startIn(ns: string, ...args: string[]): Promise<{ child: ChildProcess; lines: AsyncIterator<string> }> {
  const child = spawn('ip', ['netns', 'exec', ns, PY, traffic, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  await lines.next();
  return { child, lines };
}

function rebuild(dials: FakeDial[], why: string): void {
  R.writeDump(dials);
  R.runLib(`owrt_ecmp_rebuild '${why}'`, { dials: SPEC, mode: 'resilient' });
}

function buildTopology(): void {
  R.setup();
  for (const ns of [ISP, LAN]) execFileSync('ip', ['netns', 'add', ns]);
  inNs(ISP, `sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1 net.ipv4.ip_forward=0
    ip link set lo up && ip addr add ${INTERNET}/32 dev lo`);
  R.sh('sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1');
  DIALS.forEach((d, i) => {
    execFileSync('ip', ['link', 'add', d.dev, 'netns', R.ns, 'type', 'veth', 'peer', 'name', `isp${i + 1}`, 'netns', ISP]);
    R.sh(`ip link set ${d.dev} up && ip addr add ${d.addr}/32 dev ${d.dev}`);
    inNs(ISP, `ip link set isp${i + 1} up && ip route add ${d.addr}/32 dev isp${i + 1}`);
    // netifd's own default route per dial: wan keeps its metric (0), dials 2..N 40+k
    R.sh(`ip route add default dev ${d.dev}${i ? ` metric ${41 + i}` : ''}`);
  });
  execFileSync('ip', ['link', 'add', 'lan0', 'netns', R.ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', LAN]);
  R.sh('ip link set lan0 up && ip addr add 192.168.1.1/24 dev lan0');
  inNs(LAN, `ip link set lo up && ip link set eth0 up && ip addr add ${LAN_HOST}/24 dev eth0 && ip route add default via 192.168.1.1`);
  // fw4's redirect (port 8080 on any dial → LAN host:80) and the wan zone's masquerade
  R.sh(`nft -f - <<'NFT'
table inet fwtest {
  chain dstnat { type nat hook prerouting priority dstnat; iifname "pppoe-*" tcp dport 8080 dnat ip to ${LAN_HOST}:80; }
  chain srcnat { type nat hook postrouting priority srcnat; oifname "pppoe-*" masquerade; }
}
NFT`);
}

describe.skipIf(!canRunNetns)('pinning connections to their dial (real kernel NAT, strict ISP)', () => {
  beforeAll(async () => {
    buildTopology();
    await startIn(LAN, 'serve', '80');
    await startIn(ISP, 'serve', '9000');
    await startIn(R.ns, 'serve', '2222');
  }, 60_000);

  afterAll(() => {
    for (const c of children) c.kill();
    for (const ns of [ISP, LAN]) execFileSync('ip', ['netns', 'del', ns]);
    R.teardown();
  });

  it('pin-forward: a port forward and the router itself answer on every dial address, N of N, repeatedly', () => {
    rebuild(DIALS, 'all up');
    expect(devsOf(R.ecmpRoute('-4'))).toHaveLength(4);
    const targets = DIALS.flatMap((d) => [`${d.addr}:8080`, `${d.addr}:2222`]);
    for (let round = 0; round < 2; round++) {
      const got = JSON.parse(pyIn(ISP, 'probe', '4', '1.5', ...targets));
      expect(got).toEqual(Object.fromEntries(targets.map((t) => [t, 4])));
    }
  }, 120_000);

  it('pin-wan: connections through wan made before the dials came up keep passing data; new ones balance', async () => {
    R.runLib('owrt_ecmp_flush', { dials: SPEC });
    // before setup: only wan routes, LAN connections are masqueraded to wan's address
    const held = await startIn(LAN, 'hold', '8', `${INTERNET}:9000`);
    rebuild(DIALS, 'dials 2-4 up');
    held.child.stdin!.write('ping\n');
    const after = JSON.parse((await held.lines.next()).value as string);
    expect(after).toEqual(Array(8).fill(true));
    // and the dials do carry new connections: the ISP sees more than wan's address
    const sources = JSON.parse(pyIn(LAN, 'who', '24', `${INTERNET}:9000`));
    expect(sources).not.toContain('timeout');
    expect(sources.length).toBeGreaterThan(1);
    held.child.stdin!.write('ping\n');
    expect(JSON.parse((await held.lines.next()).value as string)).toEqual(Array(8).fill(true));
    held.child.kill();
  }, 120_000);
});
