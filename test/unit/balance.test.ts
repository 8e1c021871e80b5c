import { describe, expect, it } from 'vitest';
import { gate } from '../../src/commands/setup.js';
import { CapabilityError, ExitCode, UsageError } from '../../src/errors.js';
import { resolveSettings } from '../../src/options.js';
import { renderHotplug } from '../../src/plan/files.js';
import { planDials } from '../../src/plan/dials.js';
import { planSetup } from '../../src/plan/setup.js';
import { readSettings, settingsToOptions } from '../../src/plan/store.js';
import { parseUciConfig } from '../../src/uci/parse.js';
import { factsFrom } from '../helpers/facts.js';

const fw4 = () => factsFrom('stock-2305.txt', { nft: 'yes' });

function storedConfig(options: Record<string, string | string[]>): string {
  const lines = ["config owrt_ecmp 'main'"];
  for (const [k, v] of Object.entries(options)) {
    for (const x of Array.isArray(v) ? v : [v]) lines.push(`\t${Array.isArray(v) ? 'list' : 'option'} ${k} '${x}'`);
  }
  return `${lines.join('\n')}\n`;
}

describe('--balance', () => {
  it('defaults to hash; conn is accepted; anything else is a usage error', () => {
    expect(resolveSettings({ dials: '4' }).balance).toBe('hash');
    expect(resolveSettings({ dials: '4', balance: 'conn' }).balance).toBe('conn');
    expect(() => resolveSettings({ dials: '4', balance: 'rr' })).toThrow(UsageError);
    expect(() => resolveSettings({ dials: '4', balance: 'rr' })).toThrow(/--balance must be one of hash, conn/);
  });

  it('is stored in the settings and read back; a re-run without the flag keeps it', () => {
    const s = resolveSettings({ dials: '3', balance: 'conn' });
    expect(settingsToOptions(s).balance).toBe('conn');
    const back = readSettings(parseUciConfig(storedConfig(settingsToOptions(s)), 'owrt_ecmp'));
    expect(back?.balance).toBe('conn');
    expect(resolveSettings({}, back).balance).toBe('conn');
    expect(resolveSettings({ balance: 'hash' }, back).balance).toBe('hash');
    // settings stored by a version without the option, or a value it does not know: hash
    const old = { ...settingsToOptions(s) } as Record<string, string | string[]>;
    delete old.balance;
    expect(readSettings(parseUciConfig(storedConfig(old), 'owrt_ecmp'))?.balance).toBe('hash');
    expect(readSettings(parseUciConfig(storedConfig({ ...old, balance: 'zzz' }), 'owrt_ecmp'))?.balance).toBe('hash');
  });

  it('reaches the library through the generated hotplug script', () => {
    for (const balance of ['hash', 'conn'] as const) {
      const s = resolveSettings({ dials: '2', balance });
      expect(renderHotplug(s, planDials(s, 'eth1', '52:54:00:00:00:01'), 'resilient')).toContain(`export OWRT_ECMP_BALANCE='${balance}'\n`);
    }
  });

  it('conn on a fw3 router (no nft) is refused with a capability error (exit 7); hash is not', () => {
    const fw3 = factsFrom('stock-2305.txt', { firewall: 'fw3', nft: 'no' });
    const plan = planSetup(resolveSettings({ dials: '2', balance: 'conn' }), fw3, {});
    expect(plan.caps.problems.map((p) => p.what).join('\n')).toMatch(/--balance conn needs nftables \(firewall4\), this router runs fw3 without nft/);
    let err: unknown;
    try {
      gate(plan, true);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CapabilityError);
    expect((err as CapabilityError).exitCode).toBe(ExitCode.capability);
    const hash = planSetup(resolveSettings({ dials: '2' }), fw3, {});
    expect(hash.caps.problems.some((p) => /--balance/.test(p.what))).toBe(false);
    const ok = planSetup(resolveSettings({ dials: '2', balance: 'conn' }), fw4(), {});
    expect(ok.caps.problems.some((p) => /--balance/.test(p.what))).toBe(false);
  });
});
