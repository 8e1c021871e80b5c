import { renderApply, renderConfirm, renderWait } from '../apply/script.js';
import { runApply, runConfirm } from '../apply/index.js';
import { CapabilityError, ConflictError, ExitCode, RemoteError, UsageError } from '../errors.js';
import { type Credentials, type RawSetupOptions, resolveCredentials, resolveSettings } from '../options.js';
import { formatPlan, planData } from '../output/plan.js';
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
import { ROUTER_PATHS } from '../paths.js';
import { buildStatus, type StatusReport } from '../report/status.js';
import { parseIntOption } from '../options.js';
import { type GlobalOptions, type Session, withSession } from './session.js';
import { confirmChange } from './confirm-prompt.js';

export interface SetupOptions extends GlobalOptions, RawSetupOptions {
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
  if (facts.rollbackState?.startsWith('armed')) {
    throw new ConflictError('an earlier owrt-ecmp change on this router is still waiting for confirmation', 'wait for it to confirm or roll back (at most the rollback timeout), then re-run');
  }
}

export function statusScript(): string {
  return render('status.sh', { hotplug: ROUTER_PATHS.hotplug, library: ROUTER_PATHS.library });
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

/**
 * Apply changes in one round trip; when they touch network or firewall config, confirm
 * over a new connection (the proof the router is still reachable). Then read the status.
 */
export async function applyAndVerify(s: Session, job: ApplyJob): Promise<StatusReport> {
  const t = await s.transport();
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
  if (job.changes.touchesNetwork) {
    const applied = await runApply(t, script, s.secretList);
    if (!applied.rollbackArmed) throw new RemoteError('the router did not arm the rollback; nothing to confirm');
    s.log.step('confirming over a new SSH connection');
    const fresh = await s.fresh();
    const confirmed = await runConfirm(fresh, `${renderConfirm(job.confirmDials, job.wait, job.after === 'rebuild' ? job.settings.ecmpMetric : undefined)}\n${statusScript()}`);
    s.log.step(`confirmed; ${confirmed.dialsUp}/${job.confirmDials.length} dial(s) up after ${confirmed.waitedSeconds} s`);
    return buildStatus(confirmed.sections);
  }
  // nothing that could cut us off: apply, wait for the dials and read the status in one round trip
  const applied = await runApply(t, `(\n${script}\n) || exit $?\n${renderWait(job.confirmDials, job.wait, job.after === 'rebuild' ? job.settings.ecmpMetric : undefined)}\n${statusScript()}`, s.secretList);
  return buildStatus(applied.sections);
}

export async function setupCommand(o: SetupOptions): Promise<number> {
  // everything that can be checked without the router is checked before connecting
  resolveSettings({ ...o, dials: o.dials ?? '1', weights: o.dials ? o.weights : undefined });
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
    const settings = resolveSettings(o, readSettings(facts.config.owrtEcmp));
    const plan = planSetup(settings, facts, creds);
    s.addSecrets(plan.secrets);
    gate(plan, o.installPackages);
    checkIdle(facts);
    if (facts.pendingChanges.length) {
      s.log.warn(`${facts.pendingChanges.length} staged uci change(s) by someone else; they stay staged and uncommitted`);
    }
    const empty = isEmpty(plan.changes);
    if (o.json && o.dryRun) {
      process.stdout.write(`${JSON.stringify({ schemaVersion: 1, dryRun: true, changes: !empty, plan: planData(plan.changes, s.secretList) }, null, 2)}\n`);
      return ExitCode.ok;
    }
    if (!o.json) process.stdout.write(`${formatPlan(plan.changes, s.secretList, Boolean(o.debug))}\n`);
    if (o.dryRun) return ExitCode.ok;
    if (empty) {
      s.log.step('the router already matches: no changes');
      return ExitCode.ok;
    }
    if (!(await confirmChange(`Apply these changes to ${s.target.host}?`, o.yes))) return ExitCode.failure;
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
    if (o.json) process.stdout.write(`${JSON.stringify({ schemaVersion: 1, changes: true, status }, null, 2)}\n`);
    else process.stdout.write(`\n${formatStatus(status)}\n`);
    return status.healthy ? ExitCode.ok : ExitCode.unhealthy;
  });
}
