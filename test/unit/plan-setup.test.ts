import { describe, expect, it } from 'vitest';
import { dialMac } from '../../src/plan/dials.js';
import { isEmpty, planSetup } from '../../src/plan/setup.js';
import { gate } from '../../src/commands/setup.js';
import { CapabilityError } from '../../src/errors.js';
import { resolveSettings } from '../../src/options.js';
import { planJson } from '../../src/output/plan.js';
import { renderBatch } from '../../src/uci/batch.js';
import { factsFrom } from '../helpers/facts.js';

const stock = () => factsFrom('stock-2305.txt');
const WAN_PASSWORD = "pa'ss $(reboot) #;x";

describe('planSetup on a stock 23.05 router', () => {
  it('reads the probe fixture', () => {
    const f = stock();
    expect(f.release?.version).toBe('23.05.5');
    expect(f.ip.kind).toBe('busybox');
    expect(f.firewall).toBe('fw4');
    expect(f.macvlan.available).toBe(false);
  });

  it('names the missing packages and the fixes', () => {
    const plan = planSetup(resolveSettings({ dials: '4' }), stock(), {});
    expect(plan.caps.packages.sort()).toEqual(['ip-full', 'kmod-macvlan']);
    expect(plan.caps.problems.map((p) => p.fix).join('\n')).toMatch(/opkg update && opkg install ip-full/);
    // 5.15 kernel + ip-full about to be installed → resilient groups
    expect(plan.caps.routeMode).toBe('resilient');
  });

  it('creates one macvlan and one PPPoE interface per extra dial, copying wan credentials', () => {
    const plan = planSetup(resolveSettings({ dials: '4' }), stock(), {});
    const batch = renderBatch(plan.changes.uci);
    for (const k of [2, 3, 4]) {
      expect(batch).toContain(`set network.owrt_ecmp_dev${k}='device'\n`);
      expect(batch).toContain(`set network.owrt_ecmp_dev${k}.type='macvlan'\n`);
      expect(batch).toContain(`set network.owrt_ecmp_dev${k}.ifname='wan'\n`);
      expect(batch).toContain(`set network.owrt_ecmp_dev${k}.name='vwan${k}mv'\n`);
      expect(batch).toContain(`set network.vwan${k}='interface'\n`);
      expect(batch).toContain(`set network.vwan${k}.device='vwan${k}mv'\n`);
      expect(batch).toContain(`set network.vwan${k}.metric='${40 + k}'\n`);
      expect(batch).toContain(`add_list firewall.@zone[1].network='vwan${k}'\n`);
    }
    expect(batch).toContain(`set network.vwan2.password='pa'\\''ss $(reboot) #;x'\n`);
    expect(batch).toContain("set owrt_ecmp.main.dials='4'\n");
    expect(batch).not.toContain('vwan1');
    expect(plan.secrets).toContain(WAN_PASSWORD);
  });

  it('never shows the password in the plan', () => {
    const plan = planSetup(resolveSettings({ dials: '3' }), stock(), { password: 'n3w$ecret' });
    const shown = JSON.stringify(planJson(plan.changes, { secrets: plan.secrets, verbose: true }));
    expect(shown).not.toContain('n3w$ecret');
    expect(shown).not.toContain('reboot');
    expect(shown).toContain('set network.vwan2.password=•••••');
  });

  it('gives each dial a stable, unicast, locally administered MAC', () => {
    const a = dialMac('52:54:00:ab:cd:ef', 2);
    expect(a).toBe(dialMac('52:54:00:AB:CD:EF', 2));
    expect(a).not.toBe(dialMac('52:54:00:ab:cd:ef', 3));
    expect(a).toMatch(/^02(:[0-9a-f]{2}){5}$/);
    const plan = planSetup(resolveSettings({ dials: '2' }), stock(), {});
    expect(renderBatch(plan.changes.uci)).toContain(`set network.owrt_ecmp_dev2.macaddr='${a}'`);
  });

  it('reports a non-PPPoE wan, a missing wan zone and taken names as problems', () => {
    const f = stock();
    const wan = f.config.network.sections.find((s) => s.name === 'wan');
    wan?.options.set('proto', 'dhcp');
    f.config.firewall.sections = f.config.firewall.sections.filter((s) => s.options.get('name') !== 'wan');
    const plan = planSetup(resolveSettings({ dials: '2' }), f, {});
    const text = plan.caps.problems.map((p) => p.what).join('\n');
    expect(text).toMatch(/uses proto "dhcp", not pppoe/);
    expect(text).toMatch(/no zone named "wan"/);
  });

  it('refuses --ipv6 ecmp when IPv6 is disabled on wan, and only then', () => {
    const f = stock();
    f.config.network.sections.find((s) => s.name === 'wan')?.options.set('ipv6', '0');
    const what = (ipv6: string) => planSetup(resolveSettings({ dials: '2', ipv6 }), f, {}).caps.problems.map((p) => p.what).join('\n');
    expect(what('ecmp')).toMatch(/--ipv6 ecmp, but IPv6 is disabled on "wan"/);
    expect(what('single')).not.toMatch(/IPv6 is disabled/);
    expect(what('off')).not.toMatch(/IPv6 is disabled/);
  });

  it('keeps an option-style zone network an option', () => {
    const f = stock();
    const zone = f.config.firewall.sections.find((s) => s.options.get('name') === 'wan');
    zone?.options.set('network', 'wan wan6');
    const plan = planSetup(resolveSettings({ dials: '3' }), f, {});
    const batch = renderBatch(plan.changes.uci);
    expect(batch).toContain("set firewall.@zone[1].network='wan wan6 vwan2 vwan3'\n");
    expect(batch).toContain("set owrt_ecmp.restore.zone_network='wan wan6'\n");
    expect(batch).not.toContain('add_list firewall');
  });

  it('sets the sysctls and lists every file in sysupgrade.conf', () => {
    const plan = planSetup(resolveSettings({ dials: '2' }), stock(), {});
    expect([...plan.changes.sysctls]).toEqual([
      ['ipv4/fib_multipath_hash_policy', '1'],
      ['ipv4/fib_multipath_use_neigh', '1'],
      ['ipv6/fib_multipath_hash_policy', '1'],
    ]);
    expect(plan.changes.sysupgradeAdd).toEqual([
      '/usr/lib/owrt-ecmp/owrt-ecmp.sh',
      '/usr/lib/owrt-ecmp/owrt-ecmp-pin.sh',
      '/etc/hotplug.d/iface/95-owrt-ecmp',
      '/etc/sysctl.d/60-owrt-ecmp.conf',
      '/usr/lib/owrt-ecmp/health.sh',
      '/etc/init.d/owrt-ecmp',
      '/etc/rc.d/S96owrt-ecmp',
    ]);
    expect(isEmpty(plan.changes)).toBe(false);
    expect(plan.changes.touchesNetwork).toBe(true);
  });

  it('pin-wan: leaves wan untouched (a metric change makes netifd re-add its addresses and cuts its connections)', () => {
    const batch = renderBatch(planSetup(resolveSettings({ dials: '4' }), stock(), {}).changes.uci);
    expect(batch).not.toMatch(/^\S+ network\.wan\./m);
    expect(batch).not.toContain('wan_metric');
  });

  it('pin-wan: a router set up by an older version keeps wan\'s changed metric and its saved original', () => {
    const f = factsFrom('stock-2305.txt', {
      config_owrt_ecmp: "\nconfig owrt_ecmp 'main'\n\toption dials '2'\n\nconfig restore 'restore'\n\tlist absent 'wan_metric'\n",
    });
    f.config.network.sections.find((x) => x.name === 'wan')?.options.set('metric', '41');
    const plan = planSetup(resolveSettings({ dials: '2' }), f, {});
    const batch = renderBatch(plan.changes.uci);
    expect(batch).not.toMatch(/network\.wan\.metric/);
    expect(batch).not.toMatch(/restore\.absent/);
    expect(plan.dials.map((d) => d.metric)).toEqual([41, 42]);
  });

  it('pin-dns: dials copy wan\'s peerdns and dns (netifd writes resolv.conf.auto only from up interfaces)', () => {
    const plain = renderBatch(planSetup(resolveSettings({ dials: '3' }), stock(), {}).changes.uci);
    expect(plain).not.toContain('peerdns');
    const f = stock();
    const wan = f.config.network.sections.find((x) => x.name === 'wan')!;
    wan.options.set('peerdns', '0');
    wan.options.set('dns', ['9.9.9.9', '1.1.1.1']);
    const batch = renderBatch(planSetup(resolveSettings({ dials: '3' }), f, {}).changes.uci);
    for (const k of [2, 3]) {
      expect(batch).toContain(`set network.vwan${k}.peerdns='0'\n`);
      expect(batch).toContain(`add_list network.vwan${k}.dns='9.9.9.9'\nadd_list network.vwan${k}.dns='1.1.1.1'\n`);
    }
  });

  it('pin-metric: refuses a metric base that gives a dial wan\'s own metric', () => {
    const f = stock();
    f.config.network.sections.find((x) => x.name === 'wan')?.options.set('metric', '43');
    const what = planSetup(resolveSettings({ dials: '4' }), f, {}).caps.problems.map((p) => `${p.what} / ${p.fix}`).join('\n');
    expect(what).toMatch(/"wan" uses metric 43, the metric dial 3 would get .*--metric-base 44/);
    expect(planSetup(resolveSettings({ dials: '4', metricBase: '50' }), f, {}).caps.problems.map((p) => p.what).join('\n')).not.toMatch(/metric 43/);
  });

  it('pin-mwan3: refuses while mwan3 is enabled or running, and says how to proceed', () => {
    for (const mwan3 of ['installed\nenabled', 'installed\nrunning']) {
      const plan = planSetup(resolveSettings({ dials: '2' }), factsFrom('stock-2305.txt', { mwan3 }), {});
      const p = plan.caps.problems.find((x) => /mwan3/.test(x.what));
      expect(p?.fix).toMatch(/\/etc\/init\.d\/mwan3 stop && \/etc\/init\.d\/mwan3 disable/);
      expect(p?.pkg).toBeUndefined();
      expect(() => gate(plan, true)).toThrow(CapabilityError);
    }
    const off = planSetup(resolveSettings({ dials: '2' }), factsFrom('stock-2305.txt', { mwan3: 'installed' }), {});
    expect(off.caps.problems.some((x) => /mwan3/.test(x.what))).toBe(false);
    expect(off.caps.warnings.join('\n')).toMatch(/mwan3 is installed but disabled/);
  });

  it('pin-offload: warns that hardware flow offloading falls back to software with macvlan dials; fw3 is not pinned', () => {
    const f = stock();
    f.config.firewall.sections.find((x) => x.type === 'defaults')?.options.set('flow_offloading_hw', '1');
    expect(planSetup(resolveSettings({ dials: '2' }), f, {}).caps.warnings.join('\n')).toMatch(/flow_offloading_hw is on: .*software offloading/);
    expect(planSetup(resolveSettings({ dials: '2' }), stock(), {}).caps.warnings).toEqual([]);
    const fw3 = factsFrom('stock-2305.txt', { firewall: 'fw3' });
    expect(planSetup(resolveSettings({ dials: '2' }), fw3, {}).caps.warnings.join('\n')).toMatch(/port forwards on dials 2…N are not pinned/);
  });

  it('pin-table: an interface routing into one of the tool\'s tables is a problem; a metric of 10 no longer is', () => {
    const f = stock();
    const lan = f.config.network.sections.find((x) => x.name === 'lan')!;
    lan.options.set('metric', '10');
    expect(planSetup(resolveSettings({ dials: '2' }), f, {}).caps.problems.map((p) => p.what).join('\n')).not.toMatch(/metric 10/);
    lan.options.set('ip4table', '3002');
    expect(planSetup(resolveSettings({ dials: '2' }), f, {}).caps.problems.map((p) => p.what).join('\n')).toMatch(/"lan" routes into table 3002 \(ip4table\)/);
  });
});
