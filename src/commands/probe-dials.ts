import { CapabilityError, ConflictError, ExitCode, RemoteError } from '../errors.js';
import { type Credentials, parseIntOption, type RawSetupOptions, resolveCredentials } from '../options.js';
import { checkCapabilities } from '../plan/capabilities.js';
import { DEFAULT_PROBE_MAX, formatProbe, parseBogusRanges, parseProbe, type ProbeOptions, type ProbeReport, renderProbe } from '../plan/probe-dials.js';
import { readSettings } from '../plan/store.js';
import type { RouterFacts } from '../probe/facts.js';
import { probeRouter } from '../probe/index.js';
import { runScript } from '../remote/run.js';
import { DEFAULT_SETTINGS, type Settings } from '../settings.js';
import { checkIdle } from './setup.js';
import { type GlobalOptions, type Session, withSession } from './session.js';

export interface ProbeDialsOptions extends GlobalOptions, Pick<RawSetupOptions, 'wan' | 'username' | 'passwordFile'> {
  max?: string;
  installPackages?: boolean;
  trialTimeout?: string;
  bogusRanges?: string;
}

export function probeOptions(max: number, o: { trialTimeout?: string; bogusRanges?: string }): ProbeOptions {
  return { max, timeout: parseIntOption('--trial-timeout', o.trialTimeout ?? '30', 5, 300), bogus: parseBogusRanges(o.bogusRanges) };
}

/**
 * Run the trial sessions on the router (one round trip; it ends every trial itself, even
 * if this connection drops) and return what it found. Shared by probe-dials and setup --dials auto.
 */
export async function runProbe(
  s: Session,
  facts: RouterFacts,
  settings: Settings,
  o: ProbeOptions,
  creds: Credentials,
  installPackages = false,
): Promise<ProbeReport> {
  checkIdle(facts);
  const caps = checkCapabilities(facts, { ...settings, dials: Math.max(settings.dials, 2) });
  // with --install-packages the probe script installs what it lacks before the first trial
  const packages = installPackages ? caps.packages : [];
  const blocking = caps.problems.filter(
    (p) => !(p.pkg && packages.includes(p.pkg)) && /pppoe|PPPoE|macvlan|BusyBox ip|no interface|no device|not an OpenWrt/.test(p.what),
  );
  if (!caps.wanDevice || blocking.length) {
    throw new CapabilityError(`cannot probe the ISP's session limit: ${blocking.map((p) => p.what).join('; ') || 'wan has no device'}`, blocking[0]?.fix);
  }
  const parentMac = facts.netdevs.get(caps.wanDevice) ?? caps.wanDevice;
  if (packages.length) s.log.step(`installing ${packages.join(' ')} before the trials`);
  s.log.step(`probing the ISP's session limit: up to ${o.max} session(s), one at a time (at most ${o.timeout} s each)`);
  const budgetMs = (o.max * (o.timeout + 8) + 60 + (packages.length ? 300 : 0)) * 1000;
  const script = renderProbe(settings, caps.wanDevice, parentMac, o, creds, { packages, pkg: facts.pkg });
  const res = await runScript(await s.transport(), script, 'probe-dials', budgetMs);
  const failed = res.sections.get('error');
  if (failed !== undefined) throw new CapabilityError(failed, 'install them by hand (see doctor), then re-run');
  const text = res.sections.get('probe_dials');
  if (text === undefined) throw new RemoteError('the probe-dials script printed no report', res.stderr.trim().split('\n').slice(-2).join(' | '));
  const report = parseProbe(text);
  if (report.stoppedBy === 'busy') throw new ConflictError('another probe-dials is running on this router', 'wait for it to finish, then re-run');
  return report;
}

export async function probeDialsCommand(o: ProbeDialsOptions): Promise<number> {
  const max = parseIntOption('--max', o.max ?? String(DEFAULT_PROBE_MAX), 1, 64);
  const opts = probeOptions(max, o);
  const creds = resolveCredentials(o, process.env);
  return withSession(o, async (s) => {
    s.addSecrets([creds.password, creds.username].filter((x): x is string => Boolean(x)));
    const facts = await probeRouter(await s.transport());
    const stored = readSettings(facts.config.owrtEcmp);
    const settings: Settings = stored ?? { ...DEFAULT_SETTINGS, wan: o.wan ?? DEFAULT_SETTINGS.wan, dials: 1, weights: [1] };
    const report = await runProbe(s, facts, settings, opts, creds, o.installPackages);
    if (o.json) process.stdout.write(`${JSON.stringify({ schemaVersion: 1, max, bogusRanges: opts.bogus, ...report }, null, 2)}\n`);
    else process.stdout.write(`${formatProbe(report, max)}\n`);
    return report.leftovers.length ? ExitCode.remote : ExitCode.ok;
  });
}
