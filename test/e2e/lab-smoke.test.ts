/**
 * The lab router itself (no owrt-ecmp, no simulated control plane): the VM answers over
 * real SSH, looks like OpenWrt where the tool cares, runs the ISP in netns "isp", and a
 * hand-made pppd dial over the WAN port gets a session from it. Then the router's
 * surroundings: the LAN host (netns "lan"), the router's dnsmasq, the ISP's DNS, its
 * per-session anti-spoofing and its "same address on redial" fault.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error the lab is plain JavaScript with no type declarations
import * as lab from '../lab/lab-api.mjs';

const enabled = process.env.OWRT_ECMP_LAB !== '0';
if (!enabled) console.warn('lab-smoke: skipped because OWRT_ECMP_LAB=0');

const IP_FULL = '/usr/libexec/ip-full';
const LABVM = '/usr/lib/lab-vm';

async function router(cmd: string): Promise<string> {
  return lab.sshOk(cmd);
}

// A dial by hand, as netifd would start it but without the simulated netifd: a device
// name of its own, so it cannot collide with the sim's dials on the same WAN port.
const DIAL = `
  pppd nodetach plugin pppoe.so nic-wan ifname pppoe-smoke user lab@isp password lab-secret \\
    noipdefault nodefaultroute maxfail 1 mtu 1492 mru 1492 lcp-echo-interval 0 >/tmp/smoke-pppd.log 2>&1 &
  pid=$!
  addr=
  for i in $(seq 1 120); do
    addr=$(${IP_FULL} -4 -o addr show dev pppoe-smoke 2>/dev/null | awk '{ split($4, a, "/"); print a[1] }')
    [ -n "$addr" ] && break
    sleep 0.5
  done
  echo "addr=$addr"
  # the ISP records the session in its ip-up, which may finish just after the client's (or,
  # on a loaded TCG host, many seconds later; LCP echoes are off above for the same reason:
  # the ISP's pppd does not answer them while its ip-pre-up runs)
  for i in $(seq 1 120); do
    sessions=$(/usr/lib/lab-vm/labctl isp-sessions)
    case $sessions in *'"ip":"'"$addr"'"'*) break ;; esac
    sleep 0.5
  done
  echo "isp=$sessions"
  kill $pid; wait $pid
  echo "pppd_exit=$?"
  ${IP_FULL} link show pppoe-smoke >/dev/null 2>&1 && echo device=still-there || echo device=gone
`;

describe.skipIf(!enabled)('lab router VM (set OWRT_ECMP_LAB=0 to skip)', () => {
  beforeAll(async () => {
    await lab.reset({ up: true }); // a stock router: no packages installed by earlier runs
  }, 900_000);

  afterAll(async () => {
    if (process.env.OWRT_ECMP_LAB_KEEP !== '1') await lab.down();
  }, 120_000);

  it('answers over real SSH as root, in BusyBox ash, with the pinned host key', async () => {
    const i = lab.info();
    expect(i.running).toBe(true);
    expect(i.port).toBeGreaterThan(0);
    const r = await lab.sshRun('echo "$0:$(id -u):$(hostname)"');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('ash:0:OpenWrt');
  });

  it('has BusyBox ip on /sbin/ip (and on PATH) with iproute2 kept aside as ip-full', async () => {
    expect((await router('readlink /sbin/ip')).trim()).toBe('/bin/busybox');
    expect((await router('command -v ip')).trim()).toBe('/sbin/ip');
    expect(await router('ip 2>&1 | head -n1; true')).toMatch(/^BusyBox v/);
    expect(await router(`${IP_FULL} -V`)).toMatch(/iproute2/);
    expect((await router('readlink /bin/sh')).trim()).toBe('busybox');
  });

  it("has OpenWrt's lock: held across processes until lock -u, -n fails while held, -s shares", async () => {
    const out = await router(
      'f=/tmp/smoke.lock; lock $f; echo "holder=$(cat $f)"; kill -0 "$(cat $f)" && echo holder-alive; ' +
        'lock -n $f; echo "n-held=$?"; lock -u $f; sleep 0.2; lock -n $f; echo "n-free=$?"; lock -u $f; sleep 0.2; ' +
        'lock -s $f; lock -s -n $f; echo "s-shared=$?"; lock -n $f; echo "x-vs-s=$?"; ' +
        'for p in $(pgrep -f "^lock -s"); do kill $p; done; true',
    );
    expect(out).toMatch(/^holder=\d+$/m);
    expect(out).toMatch(/^holder-alive$/m);
    expect(out).toMatch(/^n-held=1$/m);
    expect(out).toMatch(/^n-free=0$/m);
    expect(out).toMatch(/^s-shared=0$/m);
    expect(out).toMatch(/^x-vs-s=1$/m);
  });

  it('keeps macvlan unloadable until kmod-macvlan is installed', async () => {
    const r = await lab.sshRun('modprobe macvlan');
    expect(r.code).not.toBe(0);
  });

  it('runs pppoe-server inside the isp network namespace, WAN port wired to it', async () => {
    const pid = (await router('cat /run/isp/pppoe-server.pid')).trim();
    expect(pid).toMatch(/^\d+$/);
    expect(await router(`tr '\\0' ' ' < /proc/${pid}/cmdline`)).toMatch(/pppoe-server --iface isp0/);
    expect((await router(`${IP_FULL} netns identify ${pid}`)).trim()).toBe('isp');
    expect(await router(`${IP_FULL} -o link show wan`)).toMatch(/state UP/);
    expect(await router(`${IP_FULL} -n isp -o addr show dev inet0`)).toContain(lab.IPERF_HOST);
  });

  it('a hand-made pppd dial over wan comes up with an IPv4 address from the ISP', async () => {
    const out = await router(DIAL);
    const field = (k: string) => out.match(new RegExp(`^${k}=(.*)$`, 'm'))?.[1] ?? '';
    const addr = field('addr');
    expect(addr).toMatch(/^100\.64\.0\.\d+$/);
    const sessions = JSON.parse(field('isp')) as { ip: string }[];
    expect(sessions.map((s) => s.ip)).toContain(addr);
    expect(field('pppd_exit')).toBe('5'); // pppd: terminated by a signal
    expect(field('device')).toBe('gone');
  }, 90_000);

  it('has a LAN host in netns lan with its addresses, routes and resolver, reaching the router', async () => {
    const i = lab.info();
    expect(i.lanHost).toEqual({ netns: 'lan', ipv4: '192.168.1.100', ipv6: 'fd3c:5b2a:91e0:1::100' });
    expect([i.lanDevice, i.lanAddress, i.mgmtDevice, i.mgmtAddress]).toEqual(['br-lan', '192.168.1.1', 'eth0', '10.0.2.15']);
    const out = await lanOk('ip -o addr show dev eth0; ip route; ip -6 route; cat /etc/resolv.conf; ' +
      'echo "txrehash=$(cat /proc/sys/net/core/txrehash)"');
    expect(out).toContain('inet 192.168.1.100/24');
    expect(out).toContain('inet6 fd3c:5b2a:91e0:1::100/64');
    expect(out).toMatch(/^default via 192\.168\.1\.1 dev eth0/m);
    expect(out).toMatch(/^default via fd3c:5b2a:91e0:1::1 dev eth0/m);
    expect(out).toMatch(/^nameserver 192\.168\.1\.1$/m);
    expect(out).toMatch(/^txrehash=0$/m);
    expect((await router('cat /proc/sys/net/core/txrehash')).trim()).toBe('1'); // only the LAN host's
    // the other end of its cable is lan1 in the router (a port of br-lan once netifd is up)
    await until('lan1 is an up port of br-lan', async () =>
      /master br-lan .*state UP/.test(await router(`${IP_FULL} -o link show lan1`)));
    await until('the LAN host pings the router', async () => (await lab.lanRun('ping -c1 -W2 192.168.1.1')).code === 0);
  }, 90_000);

  it("runs dnsmasq as OpenWrt does: the router and the LAN host resolve through it", async () => {
    expect((await router('readlink /etc/resolv.conf')).trim()).toBe('/tmp/resolv.conf');
    expect(await router('cat /tmp/resolv.conf')).toMatch(/^nameserver 127\.0\.0\.1$/m);
    const conf = await router('cat /var/etc/dnsmasq.conf.*');
    expect(conf).toMatch(/^resolv-file=\/tmp\/resolv\.conf\.d\/resolv\.conf\.auto$/m);
    expect(conf).not.toMatch(/^(no-poll|no-resolv|dhcp-range)/m);
    expect((await router(`${LABVM}/dnsq localhost 127.0.0.1 A`)).trim()).toBe('127.0.0.1');
    // the router's own name, from the LAN (dnsmasq listens on br-lan's 192.168.1.1)
    const lanAnswer = await until('dnsmasq answers on 192.168.1.1', async () => {
      const r = await lab.lanRun(`${LABVM}/dnsq OpenWrt.lan 192.168.1.1 A`);
      return r.code === 0 && r.stdout.trim();
    });
    expect(lanAnswer).toBe('192.168.1.1');
    expect(await router('logread -e dnsmasq')).toMatch(/dnsmasq\[\d+\]: started/);
  }, 60_000);

  it('has the ISP resolver on 198.51.100.53 and .54 answering for lab.example and its subdomains only', async () => {
    expect(lab.info().dnsServers).toEqual(['198.51.100.53', '198.51.100.54']);
    expect(lab.info().ispNetns).toBe('isp');
    expect(await ispOk(`${LABVM}/dnsq www.lab.example 198.51.100.53`)).toBe('198.51.100.10\n2001:db8:ffff::10\n');
    expect(await ispOk(`${LABVM}/dnsq www.lab.example 198.51.100.54 AAAA`)).toBe('2001:db8:ffff::10\n');
    expect(await ispOk(`${LABVM}/dnsq x1.www.lab.example 198.51.100.53 A`)).toBe('198.51.100.10\n');
    const other = await lab.ispRun(`${LABVM}/dnsq www.example.com 198.51.100.53`);
    expect(other.code).toBe(1); // an answer (NXDOMAIN), not a timeout
    expect(other.stderr).toMatch(/rcode 3/);
  }, 60_000);

  describe('ISP sessions (hand-made dials; the sim\'s wan dial is taken down first)', () => {
    beforeAll(async () => {
      await router('ifdown wan');
      await until('no ISP sessions left', async () => (await lab.ispSessions()).length === 0);
    }, 120_000);

    afterAll(async () => {
      await lab.sshRun(`${LABVM}/labctl isp-sticky off; for p in $(pgrep -f "ifname pppoe-(spa|spb|sta|stb|sil) "); do kill $p; done`);
    }, 120_000);

    it('drops packets entering on a session with a source that is not that session\'s', async () => {
      const a = await dial('spa', { v6: true });
      const b = await dial('spb', { v6: true });
      const p6 = (s: Session) => s.prefix6.replace(/::\/64$/, '::99');
      const out = await router(spoofProbe('pppoe-spb', [
        ['legit4', b.ip, 'spb'], ['other4', a.ip, 'spa'], ['foreign4', '192.0.2.99', 'spb'],
        ['legit6', p6(b), 'spb'], ['other6', p6(a), 'spa'],
      ]));
      const received = [...out.matchAll(/^from \S+ (\w+)$/gm)].map((m) => m[1]).sort();
      expect(received).toEqual(['legit4', 'legit6']);
      const count = (k: string) => out.match(new RegExp(`^${k} (\\d+) (\\d+)$`, 'm'))!.slice(1).map(Number);
      const [rpf0, rpf1] = count('rpf');
      expect(rpf1! - rpf0!).toBeGreaterThanOrEqual(2); // strict rp_filter dropped other4, foreign4
      const [nft0, nft1] = count('nft');
      expect(nft1! - nft0!).toBeGreaterThanOrEqual(1); // the fib rule dropped other6
      await hangUp('spa');
      await hangUp('spb');
    }, 240_000);

    it('isp-sticky on: a redial gets its previous address back; off: the lowest free one', async () => {
      // all hand-made dials share the WAN port's MAC, and sticky means "the address this MAC
      // was granted last": that is b's. A session of an earlier test may still be ending, so
      // which of the two got the lower address is read, not assumed.
      const a = { name: 'sta', ip: (await dial('sta')).ip };
      const b = { name: 'stb', ip: (await dial('stb')).ip };
      const lowest = Math.min(ipNum(a.ip), ipNum(b.ip));
      await hangUp(a.name); // a's address is free now
      expect(await lab.fault('isp-sticky', 'on')).toBe('isp sticky addresses: on');
      await lab.fault('isp-hangup', b.name);
      await gone(b.name, b.ip);
      expect((await dial(b.name)).ip).toBe(b.ip);
      // sticky off: the lowest free address, whatever b had
      expect(await lab.fault('isp-sticky', 'off')).toBe('isp sticky addresses: off');
      await lab.fault('isp-hangup', b.name);
      await gone(b.name, b.ip);
      expect(ipNum((await dial(b.name)).ip)).toBeLessThanOrEqual(lowest);
      await hangUp(b.name);
    }, 300_000);

    it('silence on: the session passes no IP but stays up (same ISP pppd); off: traffic again', async () => {
      const s = await dial('sil');
      const ping = async () => (await lab.sshRun(`${IP_FULL} route replace ${lab.IPERF_HOST}/32 dev pppoe-sil && ping -c 2 -W 2 ${lab.IPERF_HOST}`)).code;
      expect(await ping()).toBe(0);
      expect(await lab.fault('silence', 'sil', 'on')).toMatch(/^silence on on ISP session ppp\d+ \(client 100\.64\.0\.\d+\)$/);
      expect(await ping()).not.toBe(0);
      const live = ((await lab.ispSessions()) as Session[]).find((x) => x.ip === s.ip);
      expect(live?.pid).toBe(s.pid);
      // "off" used to exit 1 (a `[ on ] && ... || exit 1` in labctl) though it had lifted the drop
      expect(await lab.fault('silence', 'sil', 'off')).toMatch(/^silence off on ISP session ppp\d+/);
      expect(await ping()).toBe(0);
      await hangUp('sil');
    }, 240_000);
  });
});

interface Session { ip: string; prefix6: string; ifname: string; pid: number }

const lanOk = async (cmd: string) => okOf(await lab.lanRun(cmd), cmd);
const ispOk = async (cmd: string) => okOf(await lab.ispRun(cmd), cmd);

function okOf(r: { code: number; stdout: string; stderr: string }, cmd: string): string {
  if (r.code !== 0) throw new Error(`netns command failed (exit ${r.code}): ${cmd}\n${r.stderr}`);
  return r.stdout;
}

const ipNum = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);

/** Poll `fn` (once a second) until it returns something truthy; that value is the result. */
async function until<T>(what: string, fn: () => Promise<T | false | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * A hand-made dial on the WAN port with a device of its own (pppoe-NAME), in the background.
 * No LCP echoes: on a loaded TCG host the ISP's ip-pre-up can keep its pppd from answering
 * for longer than OpenWrt's 5 s echo budget. Resolves the ISP's session once recorded (and
 * its IPv6 prefix routed, with v6).
 */
async function dial(name: string, { v6 = false } = {}): Promise<Session> {
  const addr = (await router(`
    setsid pppd nodetach plugin pppoe.so nic-wan ifname pppoe-${name} user lab@isp password lab-secret \\
      noipdefault nodefaultroute maxfail 1 mtu 1492 mru 1492 lcp-echo-interval 0 ${v6 ? '+ipv6' : 'noipv6'} \\
      </dev/null >/dev/null 2>&1 &
    for i in $(seq 1 120); do
      addr=$(${IP_FULL} -4 -o addr show dev pppoe-${name} 2>/dev/null | awk '{ split($4, a, "/"); print a[1] }')
      [ -n "$addr" ] && break
      sleep 0.5
    done
    echo "$addr"`)).trim();
  expect(addr, `dial ${name}`).toMatch(/^100\.64\.0\.\d+$/);
  return until(`the ISP records ${name}'s session`, async () => {
    const s = ((await lab.ispSessions()) as Session[]).find((x) => x.ip === addr);
    return s && (!v6 || s.prefix6) ? s : undefined;
  });
}

/** The router's pppd of dial NAME ends (SIGTERM: LCP TermReq + PADT); wait until it is gone. */
async function hangUp(name: string): Promise<void> {
  const ip = (await router(`${IP_FULL} -4 -o addr show dev pppoe-${name} | awk '{ split($4, a, "/"); print a[1] }'`)).trim();
  await lab.fault('kill-pppd', name);
  await gone(name, ip);
}

/** Until pppoe-NAME is gone on the router and the ISP has no session for `ip`. */
async function gone(name: string, ip: string): Promise<void> {
  await until(`pppoe-${name} and its ISP session are gone`, async () =>
    (await lab.sshRun(`${IP_FULL} link show pppoe-${name}`)).code !== 0 &&
    !((await lab.ispSessions()) as Session[]).some((s) => s.ip === ip));
}

/**
 * Shell for the anti-spoofing test: UDP listeners on the ISP's internet host (IPv4 and IPv6),
 * routes to it through device VIA, then one datagram per [text, source, dial the source
 * lives on] (sources not yet on the router are added there, nodad). Prints what arrived
 * ("from SRC TEXT") and the ISP's drop counters before and after ("rpf A B", "nft A B").
 */
function spoofProbe(via: string, sends: [string, string, string][]): string {
  // IPReversePathFilter is a TcpExt counter: a header line of names, then one of values
  const counters = `
    ${IP_FULL} netns exec isp awk '/^TcpExt/ { if (!n++) { split($0, k); next }
      for (i = 1; i <= NF; i++) if (k[i] == "IPReversePathFilter") print $i }' /proc/net/netstat
    ${IP_FULL} netns exec isp nft list table ip6 isp_antispoof | awk '/counter/ { for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) }'`;
  return `
    P=${LABVM}/udp-probe d=${via}
    set -- $( ${counters} )
    rpf0=$1 nft0=$2
    ${IP_FULL} route replace ${lab.IPERF_HOST}/32 dev "$d"
    ${IP_FULL} -6 route replace ${lab.IPERF_HOST6}/128 dev "$d"
    ${IP_FULL} netns exec isp $P listen ${lab.IPERF_HOST} 7001 12 > /tmp/probe4.out &
    ${IP_FULL} netns exec isp $P listen ${lab.IPERF_HOST6} 7001 12 > /tmp/probe6.out &
    for i in $(seq 1 60); do grep -q ready /tmp/probe4.out && grep -q ready /tmp/probe6.out && break; sleep 0.25; done
    ${sends.map(([text, src, on]) => `
    ${IP_FULL} addr show dev pppoe-${on} | grep -q " ${src}[/ ]" || ${IP_FULL} addr add ${src}/${src.includes(':') ? 128 : 32} dev pppoe-${on} ${src.includes(':') ? 'nodad' : ''}
    $P send ${src} ${src.includes(':') ? lab.IPERF_HOST6 : lab.IPERF_HOST} 7001 ${text}`).join('')}
    wait
    cat /tmp/probe4.out /tmp/probe6.out
    set -- $( ${counters} )
    echo "rpf $rpf0 $1"; echo "nft $nft0 $2"
    ${IP_FULL} route del ${lab.IPERF_HOST}/32; ${IP_FULL} -6 route del ${lab.IPERF_HOST6}/128`;
}
