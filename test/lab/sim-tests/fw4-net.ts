// Network namespaces and socket probes for the fw4 stand-in's host tests: a router netns
// between a LAN host, a management client and an ISP reached over two "dial" links.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function sh(cmd: string): { code: number; out: string } {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function must(cmd: string): void {
  const r = sh(cmd);
  if (r.code !== 0) throw new Error(`${cmd}: ${r.out}`);
}

// The server answers each connection with the peer address it saw; the client prints that
// answer, or the error (refused = a reset came back, timeout = dropped somewhere).
const SERVER = `import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16); print("ready", flush=True)
while True:
    c, a = s.accept(); c.sendall(("peer=%s\\n" % a[0]).encode()); c.close()
`;
const CLIENT = `import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    print(c.recv(100).decode().strip())
except ConnectionRefusedError: print("refused")
except OSError as e: print("timeout" if isinstance(e, TimeoutError) else "error %s" % e)
`;

export class Lab {
  readonly ns: { r: string; lan: string; isp: string; mgmt: string };
  private servers: ChildProcess[] = [];
  private server: string;
  private client: string;

  constructor(readonly dir: string) {
    const p = `lfw4-${process.pid}`;
    this.ns = { r: `${p}-r`, lan: `${p}-lan`, isp: `${p}-isp`, mgmt: `${p}-mgmt` };
    this.server = join(dir, 'server.py');
    this.client = join(dir, 'client.py');
    writeFileSync(this.server, SERVER);
    writeFileSync(this.client, CLIENT);
  }

  /** lan1 <-> LAN host, eth0 <-> management client, dial1 and dial2mv (a macvlan on dial2) <-> ISP. */
  up(): void {
    const { r, lan, isp, mgmt } = this.ns;
    for (const n of [r, lan, isp, mgmt]) must(`ip netns add ${n}`);
    const pair = (a: string, an: string, b: string, bn: string) =>
      must(`ip -n ${an} link add ${a} type veth peer name ${b} netns ${bn}`);
    pair('lan1', r, 'eth0', lan);
    pair('eth0', r, 'eth0', mgmt);
    pair('dial1', r, 'isp1', isp);
    pair('dial2', r, 'isp2', isp);
    pair('pppoe-wan3', r, 'isp3', isp);
    must(`ip -n ${r} link add link dial2 name dial2mv type macvlan mode private`);
    const cmds = [
      `ip -n ${r} addr add 192.168.1.1/24 dev lan1`,
      `ip -n ${r} addr add 10.0.2.15/24 dev eth0`,
      `ip -n ${r} addr add 100.64.1.2/24 dev dial1`,
      `ip -n ${r} addr add 100.64.2.2/24 dev dial2mv`,
      `ip -n ${lan} addr add 192.168.1.100/24 dev eth0`,
      `ip -n ${mgmt} addr add 10.0.2.2/24 dev eth0`,
      `ip -n ${isp} addr add 100.64.1.1/24 dev isp1`,
      `ip -n ${isp} addr add 100.64.2.1/24 dev isp2`,
      `ip -n ${isp} addr add 198.51.100.10/32 dev lo`,
    ];
    for (const c of cmds) must(c);
    for (const [n, devs] of [
      [r, ['lo', 'lan1', 'eth0', 'dial1', 'dial2', 'dial2mv', 'pppoe-wan3']],
      [lan, ['lo', 'eth0']],
      [mgmt, ['lo', 'eth0']],
      [isp, ['lo', 'isp1', 'isp2', 'isp3']],
    ] as const) {
      for (const d of devs) must(`ip -n ${n} link set ${d} up`);
    }
    must(`ip -n ${lan} route add default via 192.168.1.1`);
    must(`ip -n ${r} route add default via 100.64.1.1 dev dial1`);
    must(`ip netns exec ${r} sysctl -qw net.ipv4.ip_forward=1`);
    // The ISP drops what comes in with a source it would not route back there (anti-spoofing).
    must(`ip netns exec ${isp} sysctl -qw net.ipv4.conf.all.rp_filter=1`);
    for (const d of ['isp1', 'isp2', 'isp3']) must(`ip netns exec ${isp} sysctl -qw net.ipv4.conf.${d}.rp_filter=1`);
  }

  /** Starts a TCP server in a netns; resolves once it listens. */
  async serve(ns: string, port: number): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', ns, 'python3', this.server, String(port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.servers.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout?.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`server on ${ns}:${port} exited ${code}`)));
    });
  }

  /** `peer=<address the server saw>`, `refused` or `timeout`. */
  connect(ns: string, host: string, port: number, timeoutS = 2): string {
    return sh(`ip netns exec ${ns} python3 ${this.client} ${host} ${port} ${timeoutS}`).out.trim();
  }

  down(): void {
    for (const s of this.servers) s.kill();
    for (const n of Object.values(this.ns)) sh(`ip netns del ${n}`);
  }
}
