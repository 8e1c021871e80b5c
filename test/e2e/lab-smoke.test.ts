/**
 * The lab router itself (no owrt-ecmp, no simulated control plane): the VM answers over
 * real SSH, looks like OpenWrt where the tool cares, runs the ISP in netns "isp", and a
 * hand-made pppd dial over the WAN port gets a session from it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error the lab is plain JavaScript with no type declarations
import * as lab from '../lab/lab-api.mjs';

const enabled = process.env.OWRT_ECMP_LAB !== '0';
if (!enabled) console.warn('lab-smoke: skipped because OWRT_ECMP_LAB=0');

const IP_FULL = '/usr/libexec/ip-full';

async function router(cmd: string): Promise<string> {
  return lab.sshOk(cmd);
}

// A dial by hand, as netifd would start it but without the simulated netifd: a device
// name of its own, so it cannot collide with the sim's dials on the same WAN port.
const DIAL = `
  pppd nodetach plugin pppoe.so nic-wan ifname pppoe-smoke user lab@isp password lab-secret \\
    noipdefault nodefaultroute maxfail 1 mtu 1492 mru 1492 >/tmp/smoke-pppd.log 2>&1 &
  pid=$!
  addr=
  for i in $(seq 1 120); do
    addr=$(${IP_FULL} -4 -o addr show dev pppoe-smoke 2>/dev/null | awk '{ split($4, a, "/"); print a[1] }')
    [ -n "$addr" ] && break
    sleep 0.5
  done
  echo "addr=$addr"
  # the ISP records the session in its ip-up, which may finish just after the client's
  for i in $(seq 1 20); do
    sessions=$(/usr/lib/lab-vm/labctl isp-sessions)
    case $sessions in *"\"ip\":\"$addr\""*) break ;; esac
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
});
