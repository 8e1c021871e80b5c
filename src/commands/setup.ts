import { type EcmpRouteRef, renderApply, renderConfirm, renderWait } from '../apply/script.js';
import { runApply, runConfirm } from '../apply/index.js';
import { CapabilityError, ConflictError, ConnectError, ExitCode, RemoteError, RolledBackError, UsageError } from '../errors.js';
import { type Credentials, type RawSetupOptions, resolveCredentials, resolveSettings } from '../options.js';
import { changeJson, writeJson } from '../output/json.js';
import { formatPlan, planJson, type PlanView } from '../output/plan.js';
import { formatStatus } from '../output/status.js';
import type { Problem } from '../plan/capabilities.js';
import { readSettings } from '../plan/store.js';
import { type Changes, isEmpty, planSetup, type SetupPlan } from '../plan/setup.js';
import type { ResolvedRouteMode } from '../plan/capabilities.js';
import type { Dial } from '../plan/dials.js';
import type { Settings } from '../settings.js';
import { probeRouter, type RouterFacts } from '../probe/index.js';
import { render } from '../render/env.js';
import { runScript } from '../remote/run.js';
import { HEALTH_FILE, ROUTER_PATHS, SERVICE_LINK } from '../paths.js';
import { buildStatus, type StatusReport } from '../report/status.js';
import { parseIntOption } from '../options.js';
import { type GlobalOptions, type Session, withSession } from './session.js';
import { runProbe, probeOptions } from './probe-dials.js';
import { autoDials, formatProbe, type ProbeOptions } from '../plan/probe-dials.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { confirmChange } from './confirm-prompt.js';
import { setPhase } from './interrupt.js';
import { revertTime } from '../output/progress.js';
import type { Step } from '../remote/steps.js';

export interface SetupOptions extends GlobalOptions, RawSetupOptions {
  bogusRanges?: string;
  trialTimeout?: string;
  installPackages?: boolean;
  dryRun?: boolean;
  yes?: boolean;
  rollbackTimeout?: string;
  wait?: string;
}

export function problemsText(problems: Problem[]): string {
  return problems.map((p) => `  - ${p.what}\n    fix: ${p.fix}`).join('\n');
}

/** Stop on capability problems, unless every one of them is fixed by a package we may install. */
export function gate(plan: SetupPlan, installPackages: boolean | undefined): void {
  const blocking = plan.caps.problems.filter((p) => !(installPackages && p.pkg));
  if (blocking.length) {
    throw new CapabilityError(
      `the router cannot run owrt-ecmp as asked:\n${problemsText(blocking)}`,
      blocking.some((p) => p.pkg) ? 'or re-run with --install-packages to install the missing packages' : undefined,
    );
  }
}

export function checkIdle(facts: RouterFacts): void {
  if (facts.rollbackState?.startsWith('armed') || facts.rollbackState?.startsWith('restoring')) {
    throw new ConflictError('an earlier owrt-ecmp change on this router is still waiting for confirmation', 'wait for it to confirm or roll back (at most the rollback timeout), then re-run');
  }
}

export function statusScript(): string {
  return render('status.sh', { hotplug: ROUTER_PATHS.hotplug, library: ROUTER_PATHS.library, healthFile: HEALTH_FILE, serviceLink: SERVICE_LINK });
}

export interface ApplyJob {
  changes: Changes;
  settings: Settings;
  dials: Dial[];
  routeMode: ResolvedRouteMode;
  facts: RouterFacts;
  rollbackTimeout: number;
  /** seconds the confirmation waits for `confirmDials` to come up */
  wait: number;
  confirmDials: Dial[];
  owner: string;
  after: 'rebuild' | 'none';
  before: 'flush' | 'none';
  retry?: Dial[];
}

/** After a rebuild, the wait also covers the ECMP route (table `base`); teardown waits for dials only. */
function ecmpRef(job: ApplyJob): EcmpRouteRef | undefined {
  return job.after === 'rebuild' ? { metric: job.settings.ecmpMetric, base: job.settings.base } : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The change cut us off: nobody can confirm it, so the router's watchdog reverts it at
 * `deadline`. Wait for that, reconnect and say what happened. Never returns.
 */
async function reportRollback(s: Session, cause: ConnectError, deadline: number): Promise<never> {
  s.log.warn(`cannot reach the router over a new SSH connection after the change (${cause.message})`);
  s.log.step(`the router restores the previous configuration by itself at the rollback timeout; waiting ${Math.max(0, Math.round((deadline - Date.now()) / 1000))} s to check`);
  await sleep(Math.max(0, deadline - Date.now()) + 10_000);
  let last: unknown = cause;
  for (let attempt = 0; attempt < 6; attempt++) {
    try {
      const t = await s.fresh();
      const state = (await t.exec('cat /tmp/owrt-ecmp-rollback/state 2>/dev/null || true')).stdout.toString('utf8').trim();
      if (state.startsWith('rolledback')) {
        throw new RolledBackError(
          'the change cut SSH access to the router, so it could not be confirmed: the router rolled it back by itself',
          'the router is back in its previous configuration; find out what cut access (`owrt-ecmp doctor`) before re-running',
        );
      }
      if (!state.startsWith('armed')) {
        throw new RemoteError(`the router was unreachable after the change and its rollback state is now "${state || 'none'}"`, 'check it with `owrt-ecmp status`');
      }
      last = new RemoteError('the rollback is still pending');
    } catch (e) {
      if (!(e instanceof ConnectError)) throw e;
      last = e;
    }
    await sleep(10_000);
  }
  throw new ConnectError(
    `the router is still unreachable ${Math.round((Date.now() - deadline) / 1000)} s after its rollback timeout (${last instanceof Error ? last.message : String(last)})`,
    'its watchdog should have restored the previous configuration; check the router from its console',
  );
}

/**
 * Apply changes in one round trip; when they touch network or firewall config, confirm
 * over a new connection (the proof the router is still reachable). Then read the status.
 */
export async function applyAndVerify(s: Session, job: ApplyJob): Promise<StatusReport> {
  try {
    return await applyTracked(s, job);
  } finally {
    s.progress.stop();
  }
}

/** Router-side steps go to the progress line; the armed one also tells Ctrl-C when the router reverts. */
export function tracker(s: Session): { onStep: (st: Step) => void; revertAt: () => number | undefined } {
  let revertAt: number | undefined;
  const onStep = (st: Step): void => {
    if (st.kind === 'armed') {
      revertAt = revertTime(st, Date.now());
      setPhase({ kind: 'armed', revertAt });
    }
    s.progress.step(st);
  };
  return { onStep, revertAt: () => revertAt };
}

async function applyTracked(s: Session, job: ApplyJob): Promise<StatusReport> {
  const t = await s.transport();
  const track = tracker(s);
  s.log.step(job.changes.touchesNetwork ? `applying (automatic rollback in ${job.rollbackTimeout} s unless confirmed)` : 'applying');
  const script = renderApply({
    changes: job.changes,
    settings: job.settings,
    dials: job.dials,
    routeMode: job.routeMode,
    configHash: job.facts.configHash,
    pkg: job.facts.pkg,
    rollbackTimeout: job.rollbackTimeout,
    after: job.after,
    before: job.before,
    owner: job.owner,
    ...(job.retry ? { retry: job.retry } : {}),
  });
  setPhase({ kind: 'sent', rollbackTimeout: job.changes.touchesNetwork ? job.rollbackTimeout : null });
  s.progress.start('applying');
  if (job.changes.touchesNetwork) {
    const applied = await runApply(t, script, s.secretList, track.onStep).catch((e: unknown) => {
      // the router-side script outlives the session; without a confirmation it reverts
      if (e instanceof ConnectError) {
        throw new ConnectError(
          `${e.message} during the apply`,
          `the router finishes or refuses the change on its own and, unconfirmed, restores the previous configuration within ${job.rollbackTimeout} s; then re-run this command`,
        );
      }
      throw e;
    });
    if (!applied.rollbackArmed) throw new RemoteError('the router did not arm the rollback; nothing to confirm');
    const appliedAt = Date.now();
    const revertAt = track.revertAt() ?? appliedAt + job.rollbackTimeout * 1000;
    s.progress.stop();
    s.log.step('confirming over a new SSH connection');
    setPhase({ kind: 'armed', revertAt });
    s.progress.start('confirming');
    const fresh = await s.fresh().catch((e: unknown) => {
      s.progress.stop();
      if (e instanceof ConnectError) return reportRollback(s, e, appliedAt + job.rollbackTimeout * 1000);
      throw e;
    });
    // from here the router may disarm on its own even if we are interrupted
    setPhase({ kind: 'confirming', revertAt });
    const confirmed = await runConfirm(fresh, `${renderConfirm(job.confirmDials, job.wait, ecmpRef(job))}\n${statusScript()}`, track.onStep);
    setPhase({ kind: 'confirmed' });
    s.progress.stop();
    s.log.step(`confirmed; ${confirmed.dialsUp}/${job.confirmDials.length} dial(s) up after ${confirmed.waitedSeconds} s`);
    return buildStatus(confirmed.sections);
  }
  // nothing that could cut us off: apply, wait for the dials and read the status in one round trip
  const applied = await runApply(t, `(\n${script}\n) || exit $?\n${renderWait(job.confirmDials, job.wait, ecmpRef(job))}\n${statusScript()}`, s.secretList, track.onStep);
  return buildStatus(applied.sections);
}

/** `--dials auto[:MAX]` → MAX (undefined for a number); --weights needs a known count. */
function checkAutoDials(o: SetupOptions): number | undefined {
  const max = autoDials(o.dials);
  if (max !== undefined && o.weights !== undefined) {
    throw new UsageError('--weights cannot be combined with --dials auto', 'run setup --dials auto first, then setup --weights w1,w2,... for the number it found');
  }
  return max;
}

/** Trial sessions one at a time on the router; the largest working total becomes --dials. */
async function dialsFromProbe(s: Session, facts: RouterFacts, o: SetupOptions, p: ProbeOptions, creds: Credentials): Promise<number> {
  const stored = readSettings(facts.config.owrtEcmp);
  const base: Settings = stored ?? { ...DEFAULT_SETTINGS, wan: o.wan ?? DEFAULT_SETTINGS.wan, dials: 1, weights: [1] };
  const report = await runProbe(s, facts, base, p, creds, o.installPackages);
  if (!o.json) process.stdout.write(`${formatProbe(report, p.max)}\n\n`);
  if (report.leftovers.length) throw new RemoteError(`the probe left trial devices behind: ${report.leftovers.join(', ')}`, 'run owrt-ecmp probe-dials again to clean up, or reboot the router');
  if (report.found < 1) {
    throw new CapabilityError(`the ISP accepted no PPPoE session for this account (${report.stoppedBy})`, 'check the credentials and the line; owrt-ecmp probe-dials --verbose shows each trial');
  }
  s.log.step(`--dials auto: using ${report.found} dial(s)`);
  return report.found;
}

export async function setupCommand(o: SetupOptions): Promise<number> {
  // everything that can be checked without the router is checked before connecting
  const autoMax = checkAutoDials(o);
  resolveSettings({ ...o, dials: autoMax ? '1' : (o.dials ?? '1'), weights: o.dials && !autoMax ? o.weights : undefined });
  const probeOpts = autoMax ? probeOptions(autoMax, o) : undefined;
  const creds: Credentials = resolveCredentials(o, process.env);
  const rollbackTimeout = parseIntOption('--rollback-timeout', o.rollbackTimeout ?? '90', 30, 3600);
  const wait = parseIntOption('--wait', o.wait ?? '60', 0, 600);
  if (wait + 20 > rollbackTimeout) {
    throw new UsageError(`--wait ${wait} must leave at least 20 s before the rollback timeout ${rollbackTimeout}`);
  }
  return withSession(o, async (s) => {
    s.addSecrets([creds.password, creds.username].filter((x): x is string => Boolean(x)));
    s.log.step(`probing ${s.target.host}`);
    const facts = await probeRouter(await s.transport());
    if (probeOpts) o = { ...o, dials: String(await dialsFromProbe(s, facts, o, probeOpts, creds)) };
    const settings = resolveSettings(o, readSettings(facts.config.owrtEcmp));
    const plan = planSetup(settings, facts, creds);
    s.addSecrets(plan.secrets);
    gate(plan, o.installPackages);
    checkIdle(facts);
    for (const w of plan.caps.warnings) s.log.warn(w);
    if (facts.pendingChanges.length) {
      s.log.warn(`${facts.pendingChanges.length} staged uci change(s) by someone else; they stay staged and uncommitted`);
    }
    const empty = isEmpty(plan.changes);
    const view: PlanView = { secrets: s.secretList, verbose: Boolean(o.verbose || o.debug), firewall: facts.config.firewall };
    if (o.json && (o.dryRun || empty)) {
      writeJson(changeJson('setup', { dryRun: Boolean(o.dryRun), changes: !empty, applied: false, plan: planJson(plan.changes, view) }));
      return ExitCode.ok;
    }
    if (!o.json) process.stdout.write(`${formatPlan(plan.changes, view)}\n`);
    if (o.dryRun) return ExitCode.ok;
    if (empty) {
      s.log.step('the router already matches: no changes');
      return ExitCode.ok;
    }
    await confirmChange(`Apply these changes to ${s.target.host}?`, o.yes);
    const status = await applyAndVerify(s, {
      ...plan,
      routeMode: plan.caps.routeMode,
      facts,
      rollbackTimeout,
      wait,
      confirmDials: plan.dials,
      owner: `setup --dials ${settings.dials}`,
      after: 'rebuild',
      before: 'none',
    });
    if (o.json) writeJson(changeJson('setup', { dryRun: false, changes: true, applied: true, plan: planJson(plan.changes, view), status }));
    else process.stdout.write(`\n${formatStatus(status)}\n`);
    return status.healthy ? ExitCode.ok : ExitCode.unhealthy;
  });
}
