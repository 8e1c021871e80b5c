/**
 * A small OpenWrt stand-in for running the real CLI's `setup` end to end without the lab VM:
 * dropbear in a private network namespace (routes and net sysctls are that namespace's own)
 * and a private mount namespace where /etc, /usr and /tmp carry an overlay with OpenWrt's
 * files (openwrt_release, UCI network/firewall config, init scripts) and commands (the lab's
 * uci and jsonfilter, a ubus that answers `network.interface dump` from a file, fw4, opkg). Every write
 * the apply makes lands in this helper's own upper directories.
 *
 * What is not real: netifd (a reload only takes time, it brings nothing up), pppd, and
 * the firewall. It is for the host side of long round trips, not for router behaviour.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { makeClientKey, startDropbear, type SshServer } from './ssh-servers.js';

const LAUNCH = resolve(import.meta.dirname, '..', 'lab', 'router-root', 'usr', 'lib', 'lab-sim', 'launch');

export interface FakeRouter {
  ns: string;
  server: SshServer;
  /** --host, --identity, --known-hosts for the CLI */
  ssh: string[];
  /** a path as the router sees it, read from the overlay's upper layer (null if never written) */
  written(path: string): string | null;
  /** run a shell command on the router (its network and mount namespaces), as root */
  sh(cmd: string): string;
  stop(): Promise<void>;
}

const NETWORK = `
config interface 'loopback'
	option device 'lo'
	option proto 'static'
	option ipaddr '127.0.0.1'
	option netmask '255.0.0.0'

config interface 'lan'
	option device 'br-lan'
	option proto 'static'
	option ipaddr '192.168.1.1'
	option netmask '255.255.255.0'

config interface 'wan'
	option device 'wan'
	option proto 'pppoe'
	option username 'user@isp'
	option password 'secret-pw'
	option ipv6 'auto'

# left by an earlier two-dial setup: \`setup --dials 1\` removes it, a network change that arms the rollback
config interface 'vwan2'
	option device 'vwan2mv'
	option proto 'pppoe'
	option owrt_ecmp '1'
`;

const FIREWALL = `
config defaults
	option input 'REJECT'
	option output 'ACCEPT'
	option forward 'REJECT'

config zone
	option name 'lan'
	list network 'lan'
	option input 'ACCEPT'
	option output 'ACCEPT'
	option forward 'ACCEPT'

config zone
	option name 'wan'
	list network 'wan'
	option input 'REJECT'
	option output 'ACCEPT'
	option forward 'REJECT'
	option masq '1'
`;

const RELEASE = `DISTRIB_ID='OpenWrt'
DISTRIB_RELEASE='23.05.3'
DISTRIB_REVISION='r23809-234f1a2efa'
DISTRIB_TARGET='x86/64'
DISTRIB_DESCRIPTION='OpenWrt 23.05.3 r23809-234f1a2efa'
`;

/** wan is up on pppoe-wan, as netifd reports a dialled PPPoE session. */
const DUMP = {
  interface: [
    { interface: 'lan', up: true, pending: false, available: true, autostart: true, dynamic: false, proto: 'static', device: 'br-lan', data: {} },
    {
      interface: 'wan', up: true, pending: false, available: true, autostart: true, dynamic: false, uptime: 120, proto: 'pppoe', device: 'wan',
      l3_device: 'pppoe-wan', 'ipv4-address': [{ address: '100.64.0.2', mask: 32, ptpaddress: '100.64.255.1' }],
      route: [{ target: '0.0.0.0', mask: 0, nexthop: '100.64.255.1', metric: 0, source: '0.0.0.0/0' }], data: {},
    },
  ],
};

const LOGGER = `#!/bin/sh
tag=logger prio=user.notice
while getopts "t:p:s" o; do
	case "$o" in t) tag=$OPTARG ;; p) prio=$OPTARG ;; *) ;; esac
done
shift $((OPTIND - 1))
[ "$1" = -- ] && shift
printf '%s %s %s: %s\\n' "$(date '+%a %b %e %H:%M:%S %Y')" "$prio" "$tag" "$*" >>/tmp/syslog
`;

/** SIGKILL a PID listed a moment ago; one that has exited since (ESRCH) is what we wanted. */
function killGone(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

function file(path: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}

/** `reloadSeconds`: how long /etc/init.d/network reload takes (a real one with dials takes seconds). */
export async function startFakeRouter(name: string, opts: { reloadSeconds: number }): Promise<FakeRouter> {
  const ns = `ux-live-${name}${process.pid}`;
  // outside /tmp, /etc and /usr: overlay layers must not overlap what they cover
  const base = mkdtempSync('/var/tmp/ux-live-router-');
  const layer = (t: string) => join(base, 'layer', t);
  file(join(layer('etc'), 'openwrt_release'), RELEASE);
  file(join(layer('etc'), 'config/network'), NETWORK);
  file(join(layer('etc'), 'config/firewall'), FIREWALL);
  file(join(layer('etc'), 'sysupgrade.conf'), '');
  file(join(layer('etc'), 'ubus-dump.json'), JSON.stringify(DUMP));
  file(join(layer('etc'), 'init.d/network'), `#!/bin/sh\n# stand-in: a reload takes time, nothing comes up\nsleep ${opts.reloadSeconds}\n`, 0o755);
  file(join(layer('etc'), 'init.d/firewall'), '#!/bin/sh\nexit 0\n', 0o755);
  file(join(layer('usr'), 'lib/pppd/2.4.9/pppoe.so'), '');
  file(join(layer('usr'), 'bin/ubus'), '#!/bin/sh\n[ "$1 $2 $3" = "call network.interface dump" ] && exec cat /etc/ubus-dump.json\necho "Command failed: Not found" >&2\nexit 4\n', 0o755);
  file(join(layer('usr'), 'sbin/fw4'), '#!/bin/sh\nexit 0\n', 0o755);
  file(join(layer('usr'), 'bin/opkg'), '#!/bin/sh\nexit 0\n', 0o755);
  // the host's syslog is not the router's: logger writes syslog-style lines to a file in
  // the overlay, and logread prints that file, as OpenWrt's logread prints its ring buffer
  file(join(layer('usr'), 'bin/logger'), LOGGER, 0o755);
  file(join(layer('usr'), 'sbin/logread'), '#!/bin/sh\ncat /tmp/syslog 2>/dev/null\n', 0o755);
  file(join(layer('usr'), 'bin/lock'), '#!/bin/sh\nexit 0\n', 0o755);
  symlinkSync(LAUNCH, join(layer('usr'), 'sbin/uci'));
  symlinkSync(LAUNCH, join(layer('usr'), 'bin/jsonfilter'));
  mkdirSync(layer('tmp'), { recursive: true });
  const overlays = ['etc', 'usr', 'tmp'].map((t) => {
    for (const d of ['upper', 'work']) mkdirSync(join(base, d, t), { recursive: true });
    return { target: `/${t}`, layer: layer(t), upper: join(base, 'upper', t), work: join(base, 'work', t) };
  });

  const ip = (...a: string[]) => execFileSync('ip', ['-n', ns, ...a]);
  execFileSync('ip', ['netns', 'add', ns]);
  ip('link', 'set', 'lo', 'up');
  ip('link', 'add', 'wan', 'type', 'veth', 'peer', 'name', 'pppoe-wan');
  ip('link', 'set', 'wan', 'up');
  ip('link', 'set', 'pppoe-wan', 'up');
  ip('addr', 'add', '100.64.0.2/32', 'peer', '100.64.255.1', 'dev', 'pppoe-wan');

  const key = await makeClientKey(base, 'client');
  const server = await startDropbear({ authorizedKeys: [key.publicLine], netns: ns, overlays });
  const kh = join(base, 'known_hosts');
  writeFileSync(kh, `[127.0.0.1]:${server.port} ${server.hostPublicKey}\n`);
  return {
    ns,
    server,
    ssh: ['--host', `root@127.0.0.1:${server.port}`, '--identity', key.file, '--known-hosts', kh],
    sh(cmd) {
      return execFileSync('nsenter', ['-t', String(server.pid), '-m', '-n', 'sh', '-c', cmd], { encoding: 'utf8' });
    },
    written(path) {
      try {
        return readFileSync(join(base, 'upper', path), 'utf8');
      } catch {
        return null;
      }
    },
    async stop() {
      // sessions and the rollback watchdog live in the namespace: end them by PID
      const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean).map(Number);
      for (const p of pids) if (p !== server.pid) killGone(p);
      await server.stop();
      execFileSync('ip', ['netns', 'del', ns]);
      rmSync(base, { recursive: true, force: true });
    },
  };
}
