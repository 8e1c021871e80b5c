// Programmatic lab API for the CLI (lab.mjs) and for e2e tests (vitest).
//   import { ensureUp, info, sshRun, fault } from '../lab/lab-api.mjs';
import fs from 'node:fs';
import { build, imageInfo, imageIsCurrent } from './lib/image.mjs';
import { log, paths, withLock } from './lib/state.mjs';
import { sshArgs, sshOk, sshRun as rawSshRun, waitForSsh, HOST, USER } from './lib/ssh.mjs';
import { newOverlay, start, stop, vmState } from './lib/vm.mjs';
import { run } from './lib/proc.mjs';

export { build } from './lib/image.mjs';
export { sshOk } from './lib/ssh.mjs';

const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

export const IPERF_HOST = '198.51.100.10';
export const IPERF_HOST6 = '2001:db8:ffff::10';
export const IPERF_PORTS = [5201, 5202, 5203, 5204, 5205, 5206, 5207, 5208];
export const ISP_ACCOUNT = { username: 'lab@isp', password: 'lab-secret' };
export const ISP_NETNS = 'isp';
export const DNS_SERVERS = ['198.51.100.53', '198.51.100.54'];
export const LAN_HOST = { netns: 'lan', ipv4: '192.168.1.100', ipv6: 'fd3c:5b2a:91e0:1::100' };

/** Connection facts for tools and tests (port is null while the VM is down). */
export function info() {
  const vm = vmState();
  return {
    host: HOST, port: vm?.port ?? null, user: USER,
    identityFile: paths.key, knownHostsFile: paths.knownHosts,
    iperfHost: IPERF_HOST, iperfHost6: IPERF_HOST6, iperfPorts: IPERF_PORTS,
    running: Boolean(vm), accel: vm?.accel ?? null,
    rateMbit: vm ? (vm.rate === 'off' ? 'off' : Number(vm.rate)) : null,
    isp: ISP_ACCOUNT, ispNetns: ISP_NETNS, dnsServers: DNS_SERVERS, wanDevice: 'wan',
    lanDevice: 'br-lan', lanAddress: '192.168.1.1', lanHost: LAN_HOST,
    mgmtDevice: 'eth0', mgmtAddress: '10.0.2.15',
  };
}

/**
 * Make sure the VM runs the current image. Builds if needed; an outdated image means the
 * overlay is discarded (it belongs to the old base). opts: see vm.start + rebuild (default true).
 */
export async function up(opts = {}) {
  return withLock(async () => {
    const rebuild = opts.rebuild ?? process.env.LAB_NO_REBUILD !== '1';
    const running = vmState();
    const current = imageInfo() && (!rebuild || imageIsCurrent());
    if (running && current) return { ...running, alreadyRunning: true };
    if (!current) {
      if (running) log('inputs changed: stopping the VM, rebuilding, fresh overlay');
      await stop();
      await build();
      fs.rmSync(paths.overlay, { force: true });
    }
    return start(opts);
  });
}

export const ensureUp = up;

export async function down() {
  return withLock(() => stop());
}

/**
 * Stop, and replace the overlay by a fresh one on the base image (= clean router); rebuilds
 * first if the inputs changed (unless opts.rebuild === false). opts.up: boot it too.
 */
export async function reset(opts = {}) {
  return withLock(async () => {
    await stop();
    const rebuild = opts.rebuild ?? process.env.LAB_NO_REBUILD !== '1';
    if (!imageInfo() || (rebuild && !imageIsCurrent())) await build();
    await newOverlay();
    return opts.up ? start(opts) : undefined;
  });
}

/** Run a command on the router. Resolves { code, stdout, stderr }. */
export function sshRun(command, opts = {}) {
  return rawSshRun(command, opts);
}

/**
 * Run a shell command (BusyBox ash) in network namespace `netns` of the router, over the
 * same SSH helper (same opts as sshRun). Resolves { code, stdout, stderr }.
 */
function netnsRun(netns, command, opts) {
  return rawSshRun(`/usr/libexec/ip-full netns exec ${netns} sh -c ${q(command)}`, opts);
}

/** Run a command on the LAN host (netns `lan`: 192.168.1.100, DNS and gateway = the router). */
export function lanRun(command, opts = {}) {
  return netnsRun(LAN_HOST.netns, command, opts);
}

/** Run a command inside the ISP (netns `isp`: pppoe-server, session devices pppN, inet0). */
export function ispRun(command, opts = {}) {
  return netnsRun(ISP_NETNS, command, opts);
}

/** Guest reboot; resolves when SSH answers with a new boot id. */
export async function reboot() {
  const vm = vmState();
  if (!vm) throw new Error('lab VM is not running');
  const before = (await sshOk('cat /proc/sys/kernel/random/boot_id')).trim();
  const t0 = Date.now();
  await rawSshRun('reboot', { timeoutMs: 10_000 });
  for (;;) {
    const id = await waitForSsh(vm.port, { alive: () => Boolean(vmState()) });
    if (id !== before) return { bootId: id, seconds: Math.round((Date.now() - t0) / 100) / 10 };
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Simulated sysupgrade with a stock image: keep what OpenWrt keeps (labctl keep-list:
 * /etc/config/*, /etc/sysupgrade.conf and the paths it and /lib/upgrade/keep.d/* list, ...),
 * boot a fresh overlay of the base image (installed packages are gone), restore, reboot.
 */
export async function sysupgrade(opts = {}) {
  if (!vmState()) throw new Error('lab VM is not running');
  const kept = (await sshOk('/usr/lib/lab-vm/labctl keep-list')).split('\n').filter(Boolean);
  const archive = (await rawSshRun('/usr/lib/lab-vm/labctl keep-list > /tmp/.keep && tar -czf - -T /tmp/.keep',
    { encoding: null })).stdout;
  if (archive.length === 0) throw new Error('sysupgrade: could not archive the kept files');
  const { rate, limit } = vmState();
  await reset({ up: true, rate, limit, ...opts });
  await sshOk('tar -xzf - -C /', { input: archive });
  const rebooted = await reboot();
  return { kept, bootId: rebooted.bootId };
}

const LABCTL = '/usr/lib/lab-vm/labctl';

/**
 * Fault injection. kind: 'kill-pppd' (iface, signal?), 'isp-hangup' (iface | n | 'all'),
 * 'isp-limit' (n | 'off'), 'isp-rate' (mbit | 'off'), 'isp-sticky' ('on' | 'off'), 'walled-garden' (n | 'off'),
 * 'cut-ssh', 'silence' (iface | n | 'all', 'on' | 'off': the ISP stops passing IP on the session, no hangup).
 * Resolves the router's one-line report.
 */
export async function fault(kind, ...args) {
  const allowed = ['kill-pppd', 'isp-hangup', 'isp-limit', 'isp-rate', 'isp-sticky', 'walled-garden', 'cut-ssh', 'silence'];
  if (!allowed.includes(kind)) throw new Error(`unknown fault ${kind} (${allowed.join(', ')})`);
  const out = await sshOk([LABCTL, kind, ...args.filter((a) => a !== undefined).map(q)].join(' '));
  if (kind === 'cut-ssh') await new Promise((r) => setTimeout(r, 1000));
  return out.trim();
}

/**
 * A router shell script that runs `faultCmd`, then waits until the ECMP route (table 3000,
 * metric 10) holds (`present`) or lacks `dev`, and prints the seconds between the two on the
 * router's clock (/proc/uptime), or "never" after `limitS`. It checks the route when `ip
 * monitor` reports a route change (and once a second besides), so it costs the router
 * nothing while it waits: polling every 0.1 s took most of a CPU of the TCG router and
 * delayed what it measured by about a second (2026-12-04: 4.95 s against 3.7 s median).
 * The time runs from just before the fault command, whose own run is counted.
 */
export function routeChangeScript(faultCmd, dev, present, limitS) {
  // BusyBox ash takes no "!" inside a pipeline: the loop ends on grep's status instead
  const until = present ? '&& break' : '|| break';
  return `f=/tmp/route-watch.$$; rm -f $f; mkfifo $f || exit 1
ip -4 -o monitor route >$f & mp=$!; exec 3<$f
read -r t0 _ </proc/uptime; ${faultCmd} >/dev/null || { kill $mp; rm -f $f; exit 1; }
n=0; while [ $n -lt ${limitS} ]; do
  read -r -t 1 _ <&3 || n=$((n + 1))
  read -r t1 _ </proc/uptime
  ip -4 route show default table 3000 metric 10 | tr '\\n' ' ' | sed 's/$/ /' | grep -q ' dev ${dev} ' ${until}
done
kill $mp; exec 3<&-; rm -f $f
[ $n -lt ${limitS} ] || { echo never; exit 0; }
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\\n", b - a }'`;
}

/** Live ISP sessions: [{ n, ifname, pid, ip, mac, sid, prefix6, since }] (n = 1 oldest). */
export async function ispSessions() {
  return JSON.parse(await sshOk(`${LABCTL} isp-sessions`));
}

/** Interactive shell or command with the terminal attached (CLI only). */
export async function sshInteractive(argv) {
  const tty = argv.length === 0 && process.stdin.isTTY;
  const r = await run('ssh', [...sshArgs(undefined, { tty }), ...argv], { stream: true });
  return r.code ?? 1;
}
