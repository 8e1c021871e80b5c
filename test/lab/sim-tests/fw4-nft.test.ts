/**
 * The lab's fw4 stand-in against a real kernel: it turns the router's default
 * /etc/config/firewall (plus uci changes) into `table inet fw4`, and real traffic between
 * network namespaces shows masquerade, DNAT, zone policies and the management guard.
 * Needs root, `ip netns` and `nft` (Debian package nftables).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, sh } from './fw4-net.js';
import { ROOT, run, UCI } from './helpers.js';

const FW4 = join(ROOT, 'usr', 'lib', 'lab-sim', 'fw4_cli.py');
const canRun = process.getuid?.() === 0 && sh('command -v nft && command -v ip').code === 0;

const dir = mkdtempSync(join(tmpdir(), 'lfw4-'));
const confdir = join(dir, 'config');
mkdirSync(confdir);
const env = {
  ...process.env,
  UCI_SIM_CONFDIR: confdir,
  UCI_SIM_DEFAULT_SAVEDIR: join(dir, 'tmp-uci'),
  FW4_SIM_UBUS_DUMP: join(dir, 'dump.json'),
  NETIFD_SIM_FW_STATE: join(dir, 'fw4-sim.state'),
};
const lab = new Lab(dir);

type Iface = { interface: string; up: boolean; l3_device?: string; device?: string };
function dump(ifaces: Iface[]): void {
  writeFileSync(env.FW4_SIM_UBUS_DUMP, JSON.stringify({ interface: ifaces }));
}
const BASE: Iface[] = [
  { interface: 'lan', up: true, l3_device: 'lan1', device: 'lan1' },
  { interface: 'mgmt', up: true, l3_device: 'eth0', device: 'eth0' },
  { interface: 'wan', up: true, l3_device: 'dial1', device: 'dial1' },
  { interface: 'wan6', up: false },
  { interface: 'wan2', up: true, l3_device: 'dial2mv', device: 'dial2mv' },
];

const uci = (...args: string[]) => run(UCI, ['-c', confdir, ...args], { env });
const fw4 = (...args: string[]) => run('ip', ['netns', 'exec', lab.ns.r, 'python3', FW4, ...args], { env });
const ruleset = () => sh(`ip netns exec ${lab.ns.r} nft -s list table inet fw4`);
const state = () => JSON.parse(readFileSync(env.NETIFD_SIM_FW_STATE, 'utf8'));

function redirect(): void {
  for (const cmd of [
    'add firewall redirect',
    'set firewall.@redirect[-1].name=Web-to-LAN',
    'set firewall.@redirect[-1].src=wan',
    'set firewall.@redirect[-1].dest=lan',
    'set firewall.@redirect[-1].proto=tcp',
    'set firewall.@redirect[-1].src_dport=8080',
    'set firewall.@redirect[-1].dest_ip=192.168.1.100',
    'set firewall.@redirect[-1].dest_port=80',
  ]) {
    expect(uci(...cmd.split(' ')).code).toBe(0);
  }
}

describe.skipIf(!canRun)('fw4 stand-in: nftables ruleset in a real kernel', () => {
  beforeAll(async () => {
    copyFileSync(join(ROOT, 'etc', 'config', 'firewall'), join(confdir, 'firewall'));
    dump(BASE);
    lab.up();
    await lab.serve(lab.ns.isp, 80); // "the internet"
    await lab.serve(lab.ns.lan, 80); // a LAN web server
    await lab.serve(lab.ns.r, 2222); // a service on the router itself
  }, 60_000);

  afterAll(() => {
    lab.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it('without a ruleset every probe below comes out the other way', () => {
    expect(lab.connect(lab.ns.lan, '198.51.100.10', 80)).toBe('timeout'); // ISP drops the LAN source
    expect(lab.connect(lab.ns.isp, '100.64.1.2', 8080)).toBe('refused'); // nothing forwards the port
    expect(lab.connect(lab.ns.isp, '100.64.1.2', 2222)).toBe('peer=100.64.1.1'); // wan input open
  });

  it('start loads table inet fw4 and records the zones', () => {
    const r = fw4('start');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(ruleset().out).toMatch(/chain input_wan \{/);
    expect(state()).toMatchObject({ flow_offloading: false, flow_offloading_hw: false, offload: 'off' });
    expect(fw4('network', 'mgmt').stdout).toBe('lan\n');
    expect(fw4('-q', 'network', 'wan6').stdout).toBe('wan\n');
  });

  it('masquerades LAN traffic leaving a wan device', () => {
    expect(lab.connect(lab.ns.lan, '198.51.100.10', 80)).toBe('peer=100.64.1.2');
  });

  it('rejects wan input to a router port (TCP reset) while lan and management reach it', () => {
    expect(lab.connect(lab.ns.isp, '100.64.1.2', 2222)).toBe('refused');
    expect(lab.connect(lab.ns.lan, '192.168.1.1', 2222)).toBe('peer=192.168.1.100');
    expect(lab.connect(lab.ns.mgmt, '10.0.2.15', 2222)).toBe('peer=10.0.2.2');
  });

  it('a redirect DNATs an ISP-side connection to the LAN host and lets it through', () => {
    redirect();
    const r = fw4('reload');
    expect(r.code).toBe(0);
    expect(lab.connect(lab.ns.isp, '100.64.1.2', 8080)).toBe('peer=100.64.1.1');
    expect(ruleset().out).toMatch(/ct status dnat accept/);
  });

  it('print shows zones, masquerade and the redirect without touching the kernel', () => {
    const before = ruleset().out;
    const r = fw4('print');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^table inet fw4\nflush table inet fw4\n\ntable inet fw4 \{/);
    expect(r.stdout).toMatch(/iifname \{ "lan1", "eth0" \} jump input_lan/);
    expect(r.stdout).toMatch(/iifname "dial1" jump input_wan/);
    expect(r.stdout).toMatch(/chain srcnat_wan \{\n\t\tmeta nfproto ipv4 masquerade/);
    expect(r.stdout).toMatch(/tcp dport 8080 counter dnat ip to 192\.168\.1\.100:80 comment "!fw4: Web-to-LAN"/);
    expect(r.stdout).toMatch(/oifname "dial1" tcp flags syn \/ syn,fin,rst tcp option maxseg size set rt mtu/);
    expect(ruleset().out).toBe(before);
  });

  it('eth0 stays reachable when the mgmt network is missing from netifd', () => {
    dump(BASE.filter((i) => i.interface !== 'mgmt'));
    expect(fw4('reload').code).toBe(0);
    expect(ruleset().out).not.toMatch(/iifname \{ "lan1", "eth0" \}/);
    expect(lab.connect(lab.ns.mgmt, '10.0.2.15', 2222)).toBe('peer=10.0.2.2');
    dump(BASE);
  });

  it('a second wan device joins the zone through uci and gets the same treatment', () => {
    expect(uci('add_list', 'firewall.@zone[1].network=wan2').code).toBe(0);
    expect(fw4('reload').code).toBe(0);
    expect(ruleset().out).toMatch(/iifname \{ "dial1", "dial2mv" \} jump input_wan/);
    expect(lab.connect(lab.ns.isp, '100.64.2.2', 2222)).toBe('refused');
  });

  it('flow_offloading_hw with a macvlan (or PPP on one) falls back to software offloading', () => {
    uci('set', 'firewall.@defaults[0].flow_offloading=1');
    uci('set', 'firewall.@defaults[0].flow_offloading_hw=1');
    uci('add_list', 'firewall.@zone[1].network=wan3');
    // pppoe-wan3 has no lower link in sysfs; netifd's `device` says it runs over the macvlan
    dump([...BASE, { interface: 'wan3', up: true, l3_device: 'pppoe-wan3', device: 'dial2mv' }]);
    const kernelFlowtables =
      sh(
        `ip netns exec ${lab.ns.r} nft -c 'add table inet t; add flowtable inet t f { hook ingress priority 0; devices = { "dial1" }; }'`,
      ).code === 0;
    const r = fw4('start');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/dial2mv, pppoe-wan3 on a macvlan, falling back to software offloading/);
    expect(state()).toMatchObject({ flow_offloading: true, flow_offloading_hw: true });
    if (kernelFlowtables) {
      expect(state().offload).toBe('sw');
      expect(ruleset().out).toMatch(/flowtable ft \{/);
      expect(ruleset().out).not.toMatch(/flags offload/);
    } else {
      // e.g. a host kernel built without CONFIG_NF_FLOW_TABLE (OpenWrt always has it)
      expect(state().offload).toBe('off');
      expect(r.stderr).toMatch(/no flowtable support/);
    }
    dump(BASE);
  });

  it('a reload flushes the table in place, as fw4 does: it is never deleted and added again (same table handle)', () => {
    // with a flowtable loaded (the test above) too: fw4 deletes it before redeclaring it
    const handle = () => /table inet fw4 \{ # handle (\d+)/.exec(sh(`ip netns exec ${lab.ns.r} nft -a list table inet fw4`).out)?.[1];
    const before = handle();
    expect(before).toBeDefined();
    for (let i = 0; i < 3; i++) expect(fw4('reload').code).toBe(0);
    expect(handle()).toBe(before);
  });

  it('the kernel accepts every option form the stand-in renders', () => {
    const extra = `
config zone
	option name 'guest'
	list device 'wg+'
	list device 'lan1'
	option masq '1'
	option masq6 '1'
	option masq_src '192.168.1.0/24 fd00::/64'
	option masq_dest '!10.0.0.0/8 !fc00::/7'
	option input 'DROP'
	option forward 'DROP'

config forwarding
	option src 'guest'
	option dest 'wan'
	option family 'ipv6'

config rule
	option name 'Ports'
	option src 'wan'
	option dest 'guest'
	option proto 'tcp udp'
	option src_port '1024-65535'
	option dest_port '80 443 8000:8100'
	option dest_ip '192.168.1.100 fd00::100'
	option target 'REJECT'

config rule
	option name 'Any-ICMP'
	option src '*'
	option proto 'icmp'
	list icmp_type 'echo-request'
	list icmp_type 'host-unreachable'
	option limit '10/min'
	option limit_burst '5'
	option target 'DROP'

config rule
	option name 'Out'
	option dest 'wan'
	option proto 'tcp'
	option dest_port '25'
	option src_ip '!192.168.1.0/24'
	option target 'REJECT'

config redirect
	option name 'Both'
	option src 'wan'
	option proto 'tcp udp'
	option src_dport '5000-5010'
	option src_dip '100.64.1.2'
	option dest_ip '192.168.1.100'

config redirect
	option name 'Six'
	option src 'wan'
	option family 'ipv6'
	option proto 'tcp'
	option src_dport '2222'
	option dest_ip 'fd00::100'
	option dest_port '22'

config redirect
	option name 'Local'
	option src 'lan'
	option family 'any'
	option proto 'udp'
	option src_dport '53'
`;
    const file = join(confdir, 'firewall');
    const saved = readFileSync(file, 'utf8');
    writeFileSync(file, saved + extra);
    const r = fw4('print');
    writeFileSync(file, saved);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/oifname "wg\*" jump srcnat_guest/);
    expect(r.stdout).toMatch(/ip saddr 192\.168\.1\.0\/24 ip daddr != 10\.0\.0\.0\/8 masquerade/);
    expect(r.stdout).toMatch(/meta l4proto \{ tcp, udp \} th dport 5000-5010 counter dnat ip to 192\.168\.1\.100 comment/);
    expect(r.stdout).toMatch(/dnat ip6 to \[fd00::100\]:22/);
    expect(r.stdout).toMatch(/udp dport 53 counter redirect comment/);
    expect(r.stdout).toMatch(/ip6 saddr fd00::\/64 ip6 daddr != fc00::\/7 masquerade/);
    writeFileSync(join(dir, 'all.nft'), r.stdout);
    const check = sh(`ip netns exec ${lab.ns.r} nft -c -f ${join(dir, 'all.nft')}`);
    expect(check.out).toBe('');
    expect(check.code).toBe(0);
  });

  it('stop deletes the table and the state: the wan port is open again', () => {
    expect(fw4('stop').code).toBe(0);
    expect(ruleset().code).not.toBe(0);
    expect(existsSync(env.NETIFD_SIM_FW_STATE)).toBe(false);
    expect(lab.connect(lab.ns.isp, '100.64.1.2', 2222)).toBe('peer=100.64.1.1');
  });
});
