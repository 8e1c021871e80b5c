/**
 * Plans applied by an independent UCI implementation (the lab's, written from OpenWrt's
 * documented behaviour, sharing no code with src/): a re-run plans nothing, shrinking is
 * clean, teardown gives back `uci export` byte for byte, hostile passwords round-trip.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/options.js';
import { planSetup } from '../../src/plan/setup.js';
import { planTeardown } from '../../src/plan/teardown.js';
import { parseFacts, type RouterFacts } from '../../src/probe/facts.js';
import { renderBatch, type UciOp } from '../../src/uci/batch.js';
import { probeSections } from '../helpers/facts.js';

const uciBin = join(import.meta.dirname, '..', 'lab', 'router-root', 'sbin', 'uci');
const work = mkdtempSync(join(tmpdir(), 'owrt-ecmp-uci-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

class Router {
  readonly conf: string;
  readonly save: string;
  constructor(name: string) {
    this.conf = join(work, name, 'config');
    this.save = join(work, name, 'save');
    mkdirSync(this.conf, { recursive: true });
    const s = probeSections('stock-2305.txt');
    writeFileSync(join(this.conf, 'network'), `${s.get('config_network')}\n`);
    writeFileSync(join(this.conf, 'firewall'), `${s.get('config_firewall')}\n`);
  }

  uci(args: string[], input?: string) {
    const r = spawnSync(uciBin, ['-c', this.conf, '-t', this.save, ...args], { input, encoding: 'utf8' });
    return { out: r.stdout, err: r.stderr, code: r.status };
  }

  /** What the apply script does: one batch into a private save dir, stderr checked, commit. */
  apply(ops: UciOp[]): void {
    const ownFile = join(this.conf, 'owrt_ecmp');
    if (!existsSync(ownFile)) writeFileSync(ownFile, '');
    const b = this.uci(['batch'], renderBatch(ops));
    expect(b.err).toBe('');
    for (const c of ['network', 'firewall', 'owrt_ecmp']) expect(this.uci(['commit', c]).code).toBe(0);
  }

  export(config: string): string {
    return this.uci(['export', config]).out;
  }

  facts(): RouterFacts {
    const read = (n: string) => (existsSync(join(this.conf, n)) ? readFileSync(join(this.conf, n), 'utf8') : '');
    return parseFacts(
      probeSections('stock-2305.txt', {
        config_network: read('network'),
        config_firewall: read('firewall'),
        config_owrt_ecmp: read('owrt_ecmp'),
      }),
    );
  }
}

describe.skipIf(!existsSync(uciBin))('plans applied with an independent uci', () => {
  it('setup, re-run, grow, shrink and teardown', () => {
    const r = new Router('cycle');
    const before = { network: r.export('network'), firewall: r.export('firewall') };
    expect(before.network).toContain("config interface 'wan'");

    const s4 = resolveSettings({ dials: '4' });
    r.apply(planSetup(s4, r.facts(), {}).changes.uci);
    const net = r.export('network');
    expect(net).toContain("config interface 'vwan4'");
    expect(net).toContain("option ifname 'wan'");
    // wan is left alone: a metric change would make netifd re-add its addresses
    expect(r.uci(['get', 'network.wan.metric']).out.trim()).toBe('');
    expect(r.uci(['get', 'firewall.@zone[1].network']).out.trim()).toBe('wan wan6 vwan2 vwan3 vwan4');

    // a re-run with the same settings plans no UCI change at all
    expect(planSetup(s4, r.facts(), {}).changes.uci).toEqual([]);

    // grow to 6, then shrink to 2: the extra sections and zone entries go, nothing else moves
    r.apply(planSetup(resolveSettings({ dials: '6' }, s4), r.facts(), {}).changes.uci);
    expect(r.export('network')).toContain("config interface 'vwan6'");
    const s2 = resolveSettings({ dials: '2' }, s4);
    r.apply(planSetup(s2, r.facts(), {}).changes.uci);
    const shrunk = r.export('network');
    expect(shrunk).toContain("config interface 'vwan2'");
    for (const k of [3, 4, 5, 6]) {
      expect(shrunk).not.toContain(`'vwan${k}'`);
      expect(shrunk).not.toContain(`owrt_ecmp_dev${k}`);
    }
    expect(r.uci(['get', 'firewall.@zone[1].network']).out.trim()).toBe('wan wan6 vwan2');
    expect(planSetup(s2, r.facts(), {}).changes.uci).toEqual([]);

    // teardown: byte for byte what it was
    r.apply(planTeardown(r.facts()).changes.uci);
    expect(r.export('network')).toBe(before.network);
    expect(r.export('firewall')).toBe(before.firewall);
  });

  it('teardown restores an option-style zone network and an existing wan metric exactly', () => {
    const r = new Router('option-zone');
    r.apply([
      { op: 'set', config: 'firewall', section: '@zone[1]', option: 'network', value: 'wan wan6' },
      { op: 'set', config: 'network', section: 'wan', option: 'metric', value: '7' },
    ]);
    const before = { network: r.export('network'), firewall: r.export('firewall') };
    r.apply(planSetup(resolveSettings({ dials: '3', ipv6: 'ecmp' }), r.facts(), {}).changes.uci);
    expect(r.uci(['get', 'firewall.@zone[1].network']).out.trim()).toBe('wan wan6 vwan2 vwan3');
    expect(r.uci(['get', 'firewall.@zone[1].masq6']).out.trim()).toBe('1');
    r.apply(planTeardown(r.facts()).changes.uci);
    expect(r.export('network')).toBe(before.network);
    expect(r.export('firewall')).toBe(before.firewall);
  });

  it.each([
    "quote ' inside",
    'double " and back\\slash',
    '$(reboot) and `id`',
    'semi; colon # hash',
    '  spaces  around  ',
    'unicode ü 密码 🙂',
    "''",
  ])('password %j round-trips byte-exact', (password) => {
    const r = new Router(`pw-${Buffer.from(password).toString('hex').slice(0, 16)}`);
    r.apply(planSetup(resolveSettings({ dials: '2' }), r.facts(), { password, username: 'u s#er' }).changes.uci);
    expect(r.uci(['get', 'network.vwan2.password']).out).toBe(`${password}\n`);
    expect(r.uci(['get', 'network.vwan2.username']).out).toBe('u s#er\n');
    // and the plan reads it back as the same value: no change on a re-run
    expect(planSetup(resolveSettings({ dials: '2' }), r.facts(), { password, username: 'u s#er' }).changes.uci).toEqual([]);
  });
});
