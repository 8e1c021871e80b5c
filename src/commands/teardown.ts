import { ExitCode } from '../errors.js';
import { parseIntOption } from '../options.js';
import { changeJson, writeJson } from '../output/json.js';
import { formatPlan, planJson, type PlanView } from '../output/plan.js';
import { resolveRouteMode } from '../plan/capabilities.js';
import { planDials } from '../plan/dials.js';
import { isEmpty } from '../plan/setup.js';
import { planTeardown } from '../plan/teardown.js';
import { probeRouter } from '../probe/index.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { applyAndVerify, checkIdle } from './setup.js';
import { confirmChange } from './confirm-prompt.js';
import { type GlobalOptions, withSession } from './session.js';

export interface TeardownOptions extends GlobalOptions {
  dryRun?: boolean;
  yes?: boolean;
  rollbackTimeout?: string;
}

/** Back to the router's pre-setup configuration: owned sections, restored values, files, routes, rules, sysctls. */
export async function teardownCommand(o: TeardownOptions): Promise<number> {
  const rollbackTimeout = parseIntOption('--rollback-timeout', o.rollbackTimeout ?? '90', 30, 3600);
  return withSession(o, async (s) => {
    const facts = await probeRouter(await s.transport());
    checkIdle(facts);
    const plan = planTeardown(facts);
    const settings = plan.settings ?? { ...DEFAULT_SETTINGS, dials: 1, weights: [1] };
    const dials = planDials(settings, 'wan', '00:00:00:00:00:00');
    const secrets = plan.changes.uci.flatMap((op) => ('option' in op && op.option === 'password' && 'value' in op ? [op.value] : []));
    s.addSecrets(secrets);
    const empty = isEmpty(plan.changes);
    const view: PlanView = { secrets: s.secretList, verbose: Boolean(o.verbose || o.debug), firewall: facts.config.firewall };
    if (o.json && (o.dryRun || empty)) {
      writeJson(changeJson('teardown', { dryRun: Boolean(o.dryRun), changes: !empty, applied: false, plan: planJson(plan.changes, view) }));
      return ExitCode.ok;
    }
    if (!o.json) process.stdout.write(`${formatPlan(plan.changes, view)}\n`);
    if (o.dryRun) return ExitCode.ok;
    if (empty) {
      s.log.step('nothing of owrt-ecmp is on this router');
      return ExitCode.ok;
    }
    await confirmChange(`Remove owrt-ecmp from ${s.target.host}?`, o.yes);
    const status = await applyAndVerify(s, {
      changes: plan.changes,
      settings,
      dials,
      routeMode: resolveRouteMode(settings.routeMode, facts.kernel, facts.ip),
      facts,
      rollbackTimeout,
      wait: 30,
      confirmDials: dials.slice(0, 1),
      owner: 'teardown',
      after: 'none',
      before: 'flush',
    });
    s.log.step('owrt-ecmp removed; the router is back to its configuration before setup');
    if (o.json) writeJson(changeJson('teardown', { dryRun: false, changes: true, applied: true, plan: planJson(plan.changes, view), status }));
    return ExitCode.ok;
  });
}
