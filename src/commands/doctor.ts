import { ExitCode } from '../errors.js';
import { checkCapabilities } from '../plan/capabilities.js';
import { readSettings } from '../plan/store.js';
import { parseFacts } from '../probe/facts.js';
import { ROUTER_FILES } from '../paths.js';
import { redact } from '../redact.js';
import { render } from '../render/env.js';
import { runScript } from '../remote/run.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { getOption } from '../uci/parse.js';
import { type GlobalOptions, withSession } from './session.js';

/** Mask every password option in UCI text, whatever its quoting. */
export function maskUciPasswords(text: string): string {
  return text.replace(/^(\s*option\s+(?:password|key)\s+).*$/gm, "$1'•••••'");
}

/** Capability probe with fixes, plus a redacted support dump. One round trip. */
export async function doctorCommand(o: GlobalOptions): Promise<number> {
  return withSession(o, async (s) => {
    const script = `${render('probe.sh', { files: ROUTER_FILES })}\n${render('doctor.sh', {})}`;
    const res = await runScript(await s.transport(), script, 'doctor');
    const facts = parseFacts(res.sections);
    for (const sec of facts.config.network.sections) {
      const pw = getOption(sec, 'password');
      if (typeof pw === 'string') s.addSecrets([pw]);
    }
    const settings = readSettings(facts.config.owrtEcmp) ?? { ...DEFAULT_SETTINGS, dials: 2, weights: [1, 1] };
    const caps = checkCapabilities(facts, settings);
    const clean = (t: string) => redact(maskUciPasswords(t), s.secretList);
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
        network: clean(res.sections.get('config_network') ?? ''),
        firewall: clean(res.sections.get('config_firewall') ?? ''),
        owrtEcmp: clean(res.sections.get('config_owrt_ecmp') ?? ''),
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
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
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
        '--- support dump (passwords masked) ---',
        ...Object.entries(report.dump).flatMap(([k, v]) => [`## ${k}`, v || '(empty)']),
      ];
      process.stdout.write(`${out.join('\n')}\n`);
    }
    return caps.problems.length ? ExitCode.capability : ExitCode.ok;
  });
}
