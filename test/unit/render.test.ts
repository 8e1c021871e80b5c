import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderApply, renderConfirm, renderWait, routesSnippet } from '../../src/apply/script.js';
import { resolveSettings } from '../../src/options.js';
import { renderHotplug } from '../../src/plan/files.js';
import { planSetup } from '../../src/plan/setup.js';
import { planTeardown } from '../../src/plan/teardown.js';
import { ROUTER_FILES } from '../../src/paths.js';
import { render, openwrtFilesDir } from '../../src/render/env.js';
import { heredocDelimiter, shQuote } from '../../src/render/quote.js';
import { parseSections, wrapScript } from '../../src/remote/run.js';
import { supportScript } from '../../src/support/dump.js';
import { factsFrom } from '../helpers/facts.js';
import { ashSyntax, shellcheck } from '../helpers/shellcheck.js';

const settings = resolveSettings({ dials: '4', ipv6: 'ecmp' });
const facts = factsFrom('stock-2305.txt');
const plan = planSetup(settings, facts, { password: "it's $(reboot) `id` ;#\\ \"q\" ü" });

const applyScript = renderApply({
  changes: plan.changes,
  settings,
  dials: plan.dials,
  routeMode: plan.caps.routeMode,
  configHash: facts.configHash,
  pkg: 'opkg',
  rollbackTimeout: 90,
  after: 'rebuild',
  before: 'none',
  owner: 'setup --dials 4',
});

describe('shell quoting', () => {
  it.each(["plain", "it's", "$(reboot)", "`id`", 'a"b', 'back\\slash', ' lead', 'ü密码', "''", ''])('shQuote round-trips %j through sh', async (value) => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync('busybox', ['sh', '-c', `printf '%s' ${shQuote(value)}`], { encoding: 'utf8' });
    expect(r.stdout).toBe(value);
  });

  it('picks a heredoc delimiter that is not a line of the body', () => {
    expect(heredocDelimiter('a\nOWRT_ECMP_EOF\nb')).not.toBe('OWRT_ECMP_EOF');
    expect(heredocDelimiter('a\nb')).toBe('OWRT_ECMP_EOF');
  });
});

describe('rendered router-side shell', () => {
  const scripts: Record<string, string> = {
    apply: applyScript,
    teardown: renderApply({
      changes: planTeardown(facts).changes,
      settings,
      dials: plan.dials,
      routeMode: 'multipath',
      configHash: facts.configHash,
      pkg: 'apk',
      rollbackTimeout: 60,
      after: 'none',
      before: 'flush',
      owner: 'teardown',
    }),
    confirm: renderConfirm(plan.dials, 30, { metric: 10, base: 3000 }),
    confirmTeardown: renderConfirm(plan.dials.slice(0, 1), 30),
    hotplugApply: `(\n${renderApply({
      changes: { ...plan.changes, uci: [], touchesNetwork: false },
      settings,
      dials: plan.dials,
      routeMode: 'group',
      configHash: facts.configHash,
      pkg: 'opkg',
      rollbackTimeout: 90,
      after: 'rebuild',
      before: 'none',
      owner: 'hotplug',
      retry: plan.dials.slice(1),
    })}\n) || exit $?\n${renderWait(plan.dials, 60, { metric: 10, base: 3000 })}`,
    hotplug: renderHotplug(settings, plan.dials, 'resilient'),
    probe: render('probe.sh', { files: ROUTER_FILES }),
    status: render('status.sh', { hotplug: '/h', library: '/l', healthFile: '/var/run/h', serviceLink: '/etc/rc.d/S96x' }),
    monitor: readFileSync(join(openwrtFilesDir, 'owrt-ecmp-health.sh'), 'utf8'),
    service: readFileSync(join(openwrtFilesDir, 'owrt-ecmp.init'), 'utf8'),
    doctor: supportScript(),
    rebuild: routesSnippet('rebuild', settings, plan.dials, 'group'),
    library: readFileSync(join(openwrtFilesDir, 'owrt-ecmp.sh'), 'utf8'),
    pinLibrary: readFileSync(join(openwrtFilesDir, 'owrt-ecmp-pin.sh'), 'utf8'),
    wrapped: wrapScript(applyScript),
  };

  it.each(Object.keys(scripts))('%s passes shellcheck -s sh and BusyBox ash parses it', (name) => {
    const text = scripts[name] ?? '';
    expect(text.length).toBeGreaterThan(50);
    expect(shellcheck(text)).toBe('');
    expect(ashSyntax(text)).toBe('');
  });

  it.each(Object.keys(scripts))('%s closes every heredoc on a line of its own', (name) => {
    const lines = (scripts[name] ?? '').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const m = /<<'([A-Z_0-9]+)'$/.exec(lines[i] ?? '');
      if (!m) continue;
      const end = lines.indexOf(m[1] ?? '', i + 1);
      expect(end, `heredoc ${m[1]} opened on line ${i + 1} is never closed`).toBeGreaterThan(i);
      // nothing between that is itself a heredoc opener: bodies do not swallow script
      expect(lines.slice(i + 1, end).some((l) => /^[a-z].*<<'/.test(l))).toBe(false);
    }
  });

  it('puts the password only inside the quoted heredoc fed to uci batch', () => {
    const pw = "it's $(reboot) `id` ;#\\ \"q\" ü";
    const quoted = `'it'\\''s $(reboot) \`id\` ;#\\ "q" ü'`;
    expect(applyScript).toContain(`set network.vwan2.password=${quoted}`);
    const lines = applyScript.split('\n').filter((l) => l.includes('$(reboot)'));
    expect(lines.every((l) => l.startsWith('set network.vwan') && l.includes('.password='))).toBe(true);
    expect(applyScript).not.toMatch(new RegExp(`^[^s].*${pw.slice(0, 4)}`, 'm'));
  });

  it('the hotplug glue carries dials, metric and modes, and nothing secret', () => {
    const glue = scripts.hotplug ?? '';
    expect(glue).toContain("export OWRT_ECMP_DIALS='wan:1:1 vwan2:2:1 vwan3:3:1 vwan4:4:1'");
    expect(glue).toContain("export OWRT_ECMP_ROUTE_MODE='resilient'");
    expect(glue).toContain("export OWRT_ECMP_IPV6='ecmp'");
    expect(glue).not.toMatch(/password|reboot/);
  });
});

describe('round-trip wrapper', () => {
  it('delivers sections, stderr and the exit status even when the script exits early', async () => {
    const { spawnSync } = await import('node:child_process');
    const script = "printf '\\n@@owrt-ecmp:a@@\\none\\n'; echo oops >&2; exit 3; echo never";
    const r = spawnSync('busybox', ['sh', '-s'], { input: wrapScript(script), encoding: 'utf8' });
    expect(r.stdout).toMatch(/@@owrt-ecmp:rc=3@@/);
    expect(r.stderr).toBe('oops\n');
    expect(parseSections(r.stdout.slice(0, r.stdout.indexOf('@@owrt-ecmp:rc='))).get('a')).toBe('one');
  });

  it('does not wait for background processes the script leaves behind', async () => {
    const { spawnSync } = await import('node:child_process');
    // a background child holding the channel's stdout would keep the exec open for 30 s
    const r = spawnSync('busybox', ['sh', '-s'], { input: wrapScript('( sleep 30 ) &\necho done'), encoding: 'utf8', timeout: 10_000 });
    expect(r.error).toBeUndefined();
    expect(r.stdout).toMatch(/done/);
  });
});

describe('library settings', () => {
  // found on the lab: an apply's rebuild lacked OWRT_ECMP_BALANCE, so `setup --balance conn` on
  // a router already set up (no network reload, so no hotplug event after it) kept hashing
  it('every setting the library documents is exported alike by the hotplug script and by an apply\'s rebuild', () => {
    const header = readFileSync(join(openwrtFilesDir, 'owrt-ecmp.sh'), 'utf8').split('\n').filter((l) => l.startsWith('#'));
    const documented = [...new Set(header.join('\n').match(/^#\s+(OWRT_ECMP_[A-Z_]+)\s/gm)!.map((l) => l.replace(/^#\s+/, '').trim()))];
    expect(documented).toContain('OWRT_ECMP_BALANCE');
    const settings = resolveSettings({ dials: '3', balance: 'conn', ipv6: 'ecmp', weights: '2,1,1' });
    const dials = planSetup(settings, facts, {}).dials;
    const exported = (text: string) =>
      Object.fromEntries([...text.matchAll(/^\s*export (OWRT_ECMP_[A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
    const fromHotplug = exported(renderHotplug(settings, dials, 'resilient'));
    const fromApply = exported(routesSnippet('rebuild', settings, dials, 'resilient'));
    for (const name of documented) expect(fromHotplug[name], name).toBeDefined();
    expect(fromApply).toEqual(fromHotplug);
    expect(fromApply.OWRT_ECMP_BALANCE).toBe("'conn'");
  });
});
