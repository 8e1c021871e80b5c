import { type EcmpRouteRef, renderApply, renderConfirm, renderWait } from '../apply/script.js';
import { runApply, runConfirm } from '../apply/index.js';
import { CapabilityError, ConflictError, ConnectError, ExitCode, RemoteError, RolledBackError, UsageError } from '../errors.js';
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
import { HEALTH_FILE, ROUTER_PATHS, SERVICE_LINK } from '../paths.js';
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
    const applied = await runApply(t, script, s.secretList).catch((e: unknown) => {
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
    s.log.step('confirming over a new SSH connection');
    const fresh = await s.fresh().catch((e: unknown) => {
      if (e instanceof ConnectError) return reportRollback(s, e, appliedAt + job.rollbackTimeout * 1000);
      throw e;
    });
    const confirmed = await runConfirm(fresh, `${renderConfirm(job.confirmDials, job.wait, ecmpRef(job))}\n${statusScript()}`);
    s.log.step(`confirmed; ${confirmed.dialsUp}/${job.confirmDials.length} dial(s) up after ${confirmed.waitedSeconds} s`);
    return buildStatus(confirmed.sections);
  }
  // nothing that could cut us off: apply, wait for the dials and read the status in one round trip
  const applied = await runApply(t, `(\n${script}\n) || exit $?\n${renderWait(job.confirmDials, job.wait, ecmpRef(job))}\n${statusScript()}`, s.secretList);
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
    for (const w of plan.caps.warnings) s.log.warn(w);
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
