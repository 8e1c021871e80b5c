import { ExitCode } from '../errors.js';
import { writeJson } from '../output/json.js';
import { checkCapabilities } from '../plan/capabilities.js';
import { readSettings } from '../plan/store.js';
import { parseFacts } from '../probe/facts.js';
import { redact } from '../redact.js';
import { runScript } from '../remote/run.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { splitPackages, supportScript } from '../support/dump.js';
import { type GlobalOptions, withSession } from './session.js';

/** Capability probe with fixes, plus a redacted support dump. One round trip. */
export async function doctorCommand(o: GlobalOptions): Promise<number> {
  return withSession(o, async (s) => {
    // configs come back already masked by the router (templates/redact.sh.hbs)
    const res = await runScript(await s.transport(), supportScript(), 'doctor');
    const facts = parseFacts(res.sections);
    const settings = readSettings(facts.config.owrtEcmp) ?? { ...DEFAULT_SETTINGS, dials: 2, weights: [1, 1] };
    const caps = checkCapabilities(facts, settings);
    const clean = (t: string) => redact(t, s.secretList);
    const configs = {
      network: res.sections.get('config_network') ?? '',
      firewall: res.sections.get('config_firewall') ?? '',
      owrt_ecmp: res.sections.get('config_owrt_ecmp') ?? '',
      ...splitPackages(res.sections.get('configs') ?? ''),
    };
    const report = {
      schemaVersion: 1,
      router: {
        release: facts.release,
        kernel: facts.kernel,
        ip: facts.ip,
        firewall: facts.firewall,
        packageManager: facts.pkg,
        macvlan: facts.macvlan,
        pppoePlugin: facts.pppoePlugin,
        rpcd: facts.rpcd,
        nft: facts.nft,
      },
      configured: Boolean(readSettings(facts.config.owrtEcmp)),
      routeMode: caps.routeMode,
      problems: caps.problems,
      warnings: caps.warnings,
      mwan3: facts.mwan3,
      pendingUciChanges: facts.pendingChanges.length,
      dump: {
        config: Object.fromEntries(Object.entries(configs).map(([k, v]) => [k, clean(v)])),
        routes: clean(res.sections.get('routes_all') ?? ''),
        routes6: clean(res.sections.get('routes6_all') ?? ''),
        rules: clean(res.sections.get('rules_text') ?? ''),
        pinning: clean(res.sections.get('nft_own') ?? ''),
        nexthops: clean(res.sections.get('nexthops_text') ?? ''),
        log: clean(res.sections.get('log') ?? ''),
        hotplugDir: clean(res.sections.get('hotplug_dir') ?? ''),
      },
    };
    if (o.json) {
      writeJson(report);
    } else {
      const r = facts.release;
      const out = [
        `router: ${r ? `${r.id} ${r.version}` : 'not OpenWrt'}, kernel ${facts.kernel}, ip ${facts.ip.kind}${facts.ip.multipath ? ' (multipath)' : ''}${facts.ip.nexthopObjects ? ' (nexthop objects)' : ''}, firewall ${facts.firewall ?? '?'}, packages ${facts.pkg ?? '?'}`,
        `route mode owrt-ecmp would use: ${caps.routeMode}`,
        caps.problems.length
          ? `problems:\n${caps.problems.map((p) => `  ✗ ${p.what}\n    fix: ${p.fix}`).join('\n')}`
          : 'no problems found',
        ...caps.warnings.map((w) => `  ! ${w}`),
        '',
        '--- support dump (every value not known to be harmless is masked) ---',
        ...Object.entries(report.dump.config).flatMap(([k, v]) => [`## /etc/config/${k}`, v || '(empty)']),
        ...Object.entries(report.dump)
          .filter(([k]) => k !== 'config')
          .flatMap(([k, v]) => [`## ${k}`, typeof v === 'string' && v ? v : '(empty)']),
      ];
      process.stdout.write(`${out.join('\n')}\n`);
    }
    return caps.problems.length ? ExitCode.capability : ExitCode.ok;
  });
}
