import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/options.js';
import { formatPlan, planJson } from '../../src/output/plan.js';
import { planSetup, type Changes } from '../../src/plan/setup.js';
import { factsFrom } from '../helpers/facts.js';
import { schemaErrors, undocumentedFields } from '../helpers/schemas.js';

const PASSWORD = "n3w$ecret'Zq";
const facts = () => factsFrom('stock-2305.txt');

function setupPlan() {
  const f = facts();
  const plan = planSetup(resolveSettings({ dials: '4', ipv6: 'ecmp' }), f, { password: PASSWORD });
  return { plan, view: { secrets: plan.secrets, firewall: f.config.firewall } };
}

/** What teardown plans on a router set up with 3 dials (the op shapes planTeardown emits). */
function teardownChanges(): Changes {
  return {
    uci: [
      { op: 'delete', config: 'network', section: 'owrt_ecmp_dev2' },
      { op: 'delete', config: 'network', section: 'vwan2' },
      { op: 'delete', config: 'network', section: 'owrt_ecmp_dev3' },
      { op: 'delete', config: 'network', section: 'vwan3' },
      { op: 'delete', config: 'network', section: 'wan', option: 'metric' },
      { op: 'del_list', config: 'firewall', section: '@zone[1]', option: 'network', value: 'vwan2' },
      { op: 'del_list', config: 'firewall', section: '@zone[1]', option: 'network', value: 'vwan3' },
    ],
    files: [],
    removeFiles: ['/usr/lib/owrt-ecmp/owrt-ecmp.sh', '/etc/config/owrt_ecmp'],
    sysctls: new Map([['ipv4/fib_multipath_hash_policy', '0']]),
    sysupgradeAdd: [],
    sysupgradeRemove: ['/usr/lib/owrt-ecmp/owrt-ecmp.sh'],
    packages: [],
    touchesNetwork: true,
  };
}

const empty = (): Changes => ({ uci: [], files: [], removeFiles: [], sysctls: new Map(), sysupgradeAdd: [], sysupgradeRemove: [], packages: [], touchesNetwork: false });

describe('the plan a person reads', () => {
  it('setup --dials 4 on a stock router: one headline, one line per group, no uci batch', () => {
    const { plan, view } = setupPlan();
    const text = formatPlan(plan.changes, view);
    const lines = text.split('\n');
    expect(lines[0]).toBe(
      '+3 dials (vwan2 vwan3 vwan4) · firewall: wan zone +3 networks masq6 · files: 6 · sysctls: 3 · packages: ip-full kmod-macvlan',
    );
    expect(text).toMatch(/^ {2}dials {6}\+ vwan2 vwan3 vwan4 \(PPPoE, each on its own macvlan device\)$/m);
    // wan itself is never changed (a metric change would make netifd re-add its addresses)
    expect(text).not.toMatch(/~ wan/);
    expect(text).toMatch(/^ {2}firewall {3}zone wan: \+ vwan2 vwan3 vwan4; masq6='1'$/m);
    expect(text).toMatch(/^ {2}files {6}\/usr\/lib\/owrt-ecmp\/owrt-ecmp\.sh \/usr\/lib\/owrt-ecmp\/owrt-ecmp-pin\.sh \/etc\/hotplug\.d\/iface\/95-owrt-ecmp \/etc\/sysctl\.d\/60-owrt-ecmp\.conf \/usr\/lib\/owrt-ecmp\/health\.sh \/etc\/init\.d\/owrt-ecmp$/m);
    expect(text).toMatch(/^ {2}sysctls {4}net\.ipv4\.fib_multipath_hash_policy=1 net\.ipv4\.fib_multipath_use_neigh=1 net\.ipv6\.fib_multipath_hash_policy=1$/m);
    expect(text).toMatch(/^ {2}packages {3}ip-full kmod-macvlan$/m);
    expect(text).toContain('then: reload network and firewall (rollback armed until confirmed)');
    expect(text).toContain('(--verbose shows the exact uci batch and file contents)');
    expect(text).not.toMatch(/^\s*(set|add_list|delete) /m);
    expect(lines.length).toBeLessThan(15);
  });

  it('--verbose adds the exact batch and the file contents, the password masked', () => {
    const { plan, view } = setupPlan();
    const text = formatPlan(plan.changes, { ...view, verbose: true });
    expect(text).toContain("  set network.vwan4.proto='pppoe'");
    expect(text).toContain('  set network.vwan2.password=•••••');
    expect(text).toContain('write /etc/hotplug.d/iface/95-owrt-ecmp (');
    expect(text).toMatch(/^ {2}\| #!\/bin\/sh/m);
    expect(text).not.toContain('n3w$ecret');
  });

  it('--json: a summary always, details only with --verbose, both valid against schemas/plan.schema.json', () => {
    const { plan, view } = setupPlan();
    const brief = planJson(plan.changes, view);
    expect(brief.details).toBeUndefined();
    expect(brief.summary.dials).toEqual({ added: ['vwan2', 'vwan3', 'vwan4'], removed: [], changed: [] });
    expect(brief.summary.firewall).toEqual([{ zone: 'wan', networksAdded: ['vwan2', 'vwan3', 'vwan4'], networksRemoved: [], set: { masq6: '1' }, deleted: [] }]);
    expect(brief.summary.packages).toEqual(['ip-full', 'kmod-macvlan']);
    expect(brief.summary.empty).toBe(false);
    expect(schemaErrors('plan', brief)).toBe('');
    const full = planJson(plan.changes, { ...view, verbose: true });
    expect(full.details?.uci).toContain('set network.vwan3.password=•••••');
    expect(full.details?.files.map((f) => f.path)).toEqual(full.summary.files.write.map((f) => f.path));
    expect(schemaErrors('plan', full)).toBe('');
    for (const doc of [brief, full]) expect(undocumentedFields('plan', doc)).toEqual([]);
    for (const doc of [brief, full]) expect(JSON.stringify(doc)).not.toContain('n3w$ecret');
  });

  it('the schema is not a rubber stamp: a broken summary is rejected', () => {
    const { plan, view } = setupPlan();
    const doc = planJson(plan.changes, view) as unknown as { summary: Record<string, unknown> };
    delete doc.summary.dials;
    expect(schemaErrors('plan', doc)).toMatch(/dials/);
  });

  it('teardown: removed dials (their macvlan devices folded in), zone networks, files, sysctls', () => {
    const f = facts();
    const text = formatPlan(teardownChanges(), { secrets: [], firewall: f.config.firewall });
    expect(text.split('\n')[0]).toBe('-2 dials (vwan2 vwan3) · ~1 dial (wan) · firewall: wan zone -2 networks · files removed: 2 · sysctls: 1');
    expect(text).toContain('  dials      - vwan2 vwan3 (and their macvlan devices)');
    expect(text).toContain('  firewall   zone wan: - vwan2 vwan3');
    expect(text).toContain('  files      remove /usr/lib/owrt-ecmp/owrt-ecmp.sh /etc/config/owrt_ecmp');
    expect(text).toContain('  upgrades   /etc/sysupgrade.conf drops 1 path');
    expect(schemaErrors('plan', planJson(teardownChanges(), { secrets: [], verbose: true }))).toBe('');
  });

  it('an unknown zone keeps its UCI reference', () => {
    const j = planJson(teardownChanges(), { secrets: [] });
    expect(j.summary.firewall[0]?.zone).toBe('@zone[1]');
  });

  it('nothing to do: "no changes", empty true', () => {
    expect(formatPlan(empty(), { secrets: [] })).toBe('no changes');
    const j = planJson(empty(), { secrets: [] });
    expect(j.summary).toMatchObject({ headline: 'no changes', empty: true });
    expect(schemaErrors('plan', j)).toBe('');
  });

  it('a secret set as a firewall value is masked in the summary too', () => {
    const c = { ...empty(), uci: [{ op: 'set' as const, config: 'firewall', section: '@zone[0]', option: 'x', value: PASSWORD }] };
    const shown = JSON.stringify(planJson(c, { secrets: [PASSWORD] })) + formatPlan(c, { secrets: [PASSWORD] });
    expect(shown).not.toContain('n3w$ecret');
    expect(shown).toContain('•••••');
  });
});
