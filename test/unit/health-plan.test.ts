import { describe, expect, it } from 'vitest';
import { renderApply } from '../../src/apply/script.js';
import { UsageError } from '../../src/errors.js';
import { parseHealthTarget, resolveSettings } from '../../src/options.js';
import { planSetup } from '../../src/plan/setup.js';
import { readSettings, settingsToOptions } from '../../src/plan/store.js';
import { planTeardown } from '../../src/plan/teardown.js';
import { ROUTER_PATHS, SERVICE_LINK } from '../../src/paths.js';
import { parseUciConfig } from '../../src/uci/parse.js';
import { factsFrom } from '../helpers/facts.js';

const stock = () => factsFrom('stock-2305.txt');

describe('dial monitor settings', () => {
  it('--health and --health-target: defaults, values, refusals', () => {
    // redial by default: refused and dead dials need no probe target that answers
    expect(resolveSettings({ dials: '2' })).toMatchObject({ health: 'redial', healthTarget: '' });
    expect(resolveSettings({ dials: '2', health: 'on' })).toMatchObject({ health: 'on' });
    expect(resolveSettings({ dials: '2', health: 'off', healthTarget: '198.51.100.1' })).toMatchObject({ health: 'off', healthTarget: '198.51.100.1' });
    expect(parseHealthTarget('peer')).toBe('');
    for (const bad of ['1.2.3.256', '::1', 'dns.example', '1.2.3', '01.2.3.4', '']) expect(() => parseHealthTarget(bad)).toThrow(UsageError);
    expect(() => resolveSettings({ dials: '2', health: 'maybe' })).toThrow(/--health must be one of off, redial, on/);
  });

  it('are stored in owrt_ecmp.main and read back; an older router without them gets the defaults', () => {
    const s = resolveSettings({ dials: '2', health: 'off', healthTarget: '198.51.100.1' });
    const opts = settingsToOptions(s);
    expect(opts).toMatchObject({ health: '0', health_target: '198.51.100.1' });
    expect(settingsToOptions(resolveSettings({ dials: '2' }))).not.toHaveProperty('health_target');
    const text = `config owrt_ecmp 'main'\n\toption dials '2'\n\toption health '0'\n\toption health_target '198.51.100.1'\n`;
    expect(readSettings(parseUciConfig(text, 'owrt_ecmp'))).toMatchObject({ health: 'off', healthTarget: '198.51.100.1' });
    // '1' and '0' are what routers set up before `redial` hold; the init script reads the same values
    for (const [mode, stored] of [['on', '1'], ['redial', 'redial'], ['off', '0']] as const) {
      expect(settingsToOptions(resolveSettings({ dials: '2', health: mode }))).toMatchObject({ health: stored });
      expect(readSettings(parseUciConfig(`config owrt_ecmp 'main'\n\toption dials '2'\n\toption health '${stored}'\n`, 'owrt_ecmp'))?.health).toBe(mode);
    }
    const old = readSettings(parseUciConfig(`config owrt_ecmp 'main'\n\toption dials '2'\n`, 'owrt_ecmp'));
    expect(old).toMatchObject({ health: 'redial', healthTarget: '' });
  });
});

describe('dial monitor files and service', () => {
  const settings = resolveSettings({ dials: '3' });
  const facts = stock();
  const plan = planSetup(settings, facts, {});
  const apply = (before: 'flush' | 'none', after: 'rebuild' | 'none', changes = plan.changes) =>
    renderApply({ changes, settings, dials: plan.dials, routeMode: 'group', configHash: facts.configHash, pkg: 'opkg', rollbackTimeout: 90, after, before, owner: 't' });

  it('setup deploys the monitor and the init script (executable), keeps both and the rc.d link across sysupgrade', () => {
    const files = new Map(plan.changes.files.map((f) => [f.path, f]));
    expect(files.get(ROUTER_PATHS.monitor)?.mode).toBe('0644');
    expect(files.get(ROUTER_PATHS.service)?.mode).toBe('0755');
    expect(files.get(ROUTER_PATHS.service)?.content).toMatch(/^#!\/bin\/sh \/etc\/rc.common\n/);
    expect(plan.changes.sysupgradeAdd).toEqual(expect.arrayContaining([ROUTER_PATHS.monitor, ROUTER_PATHS.service, SERVICE_LINK]));
  });

  it('setup enables and restarts the service after the routes; the rollback stops it and restores its enabled state', () => {
    const s = apply('none', 'rebuild');
    const rebuild = s.indexOf('owrt_ecmp_rebuild');
    const enable = s.indexOf("'/etc/init.d/owrt-ecmp' enable");
    expect(rebuild).toBeGreaterThan(0);
    expect(enable).toBeGreaterThan(rebuild);
    expect(s.indexOf("'/etc/init.d/owrt-ecmp' restart")).toBeGreaterThan(enable);
    expect(s).toMatch(/\[ -e '\/etc\/rc.d\/S96owrt-ecmp' \] && touch "\$RB\/service_enabled"/);
    const restore = s.slice(s.indexOf('# owrt-ecmp rollback'));
    expect(restore.indexOf("'/etc/init.d/owrt-ecmp' stop")).toBeLessThan(restore.indexOf('"$RB/saved" ] && while'));
    expect(restore).toMatch(/service_enabled.*start.*else rm -f '\/etc\/rc.d\/S96owrt-ecmp'/);
  });

  it('teardown stops and disables the service before anything is removed, and removes its files, link and sysupgrade lines', () => {
    const f = stock();
    for (const p of Object.values(ROUTER_PATHS)) f.files.set(p, 'sum');
    f.sysupgradeConf.push(...Object.values(ROUTER_PATHS), SERVICE_LINK);
    const t = planTeardown(f).changes;
    expect(t.removeFiles).toEqual(expect.arrayContaining([ROUTER_PATHS.monitor, ROUTER_PATHS.service]));
    expect(t.sysupgradeRemove).toEqual(expect.arrayContaining([ROUTER_PATHS.monitor, ROUTER_PATHS.service, SERVICE_LINK]));
    const s = apply('flush', 'none', t);
    const stop = s.indexOf("'/etc/init.d/owrt-ecmp' stop; '/etc/init.d/owrt-ecmp' disable");
    expect(stop).toBeGreaterThan(0);
    expect(stop).toBeLessThan(s.indexOf("rm -f '/etc/init.d/owrt-ecmp'"));
    expect(stop).toBeLessThan(s.indexOf('owrt_ecmp_flush'));
    expect(s).not.toContain("'/etc/init.d/owrt-ecmp' restart");
  });
});
