import { CapabilityError, ExitCode } from '../errors.js';
import { parseIntOption } from '../options.js';
import { changeJson, writeJson } from '../output/json.js';
import { formatPlan, planJson, type PlanView } from '../output/plan.js';
import { ROUTER_PATHS } from '../paths.js';
import { formatStatus } from '../output/status.js';
import { renderHotplug } from '../plan/files.js';
import { readSettings } from '../plan/store.js';
import { isEmpty, planSetup } from '../plan/setup.js';
import { probeRouter } from '../probe/index.js';
import { confirmChange } from './confirm-prompt.js';
import { applyAndVerify, checkIdle, gate } from './setup.js';
import { type GlobalOptions, withSession } from './session.js';

export interface HotplugOptions extends GlobalOptions {
  print?: boolean;
  installPackages?: boolean;
  dryRun?: boolean;
  yes?: boolean;
  wait?: string;
}

/**
 * Regenerate and redeploy the router-side files from the settings stored on the router
 * (what a sysupgrade loses), reinstall packages if asked, and rebuild the routes.
 * Network and firewall config are left alone: setup owns those.
 */
export async function hotplugCommand(o: HotplugOptions): Promise<number> {
  return withSession(o, async (s) => {
    const facts = await probeRouter(await s.transport());
    const settings = readSettings(facts.config.owrtEcmp);
    if (!settings) {
      throw new CapabilityError('owrt-ecmp is not set up on this router (no /etc/config/owrt_ecmp)', 'run owrt-ecmp setup --dials N first');
    }
    const plan = planSetup(settings, facts, {});
    s.addSecrets(plan.secrets);
    if (o.print) {
      const content = renderHotplug(settings, plan.dials, plan.caps.routeMode);
      if (o.json) writeJson(changeJson('hotplug', { dryRun: true, changes: false, applied: false, file: { path: ROUTER_PATHS.hotplug, content } }));
      else process.stdout.write(content);
      return ExitCode.ok;
    }
    if (plan.changes.uci.length) {
      s.log.warn(`the router's UCI config differs from the stored settings in ${plan.changes.uci.length} place(s); run owrt-ecmp setup to repair it`);
    }
    plan.changes.uci = [];
    plan.changes.touchesNetwork = false;
    gate(plan, o.installPackages);
    checkIdle(facts);
    const view: PlanView = { secrets: s.secretList, verbose: Boolean(o.verbose || o.debug), firewall: facts.config.firewall };
    const changes = !isEmpty(plan.changes);
    if (o.json && o.dryRun) {
      writeJson(changeJson('hotplug', { dryRun: true, changes, applied: false, plan: planJson(plan.changes, view) }));
      return ExitCode.ok;
    }
    if (!o.json) process.stdout.write(`${formatPlan(plan.changes, view)}\n`);
    if (o.dryRun) return ExitCode.ok;
    // only rebuilding the routes is what the hotplug script does on every ifup: no question for that
    if (!changes) s.log.step('router-side files are up to date; rebuilding the routes');
    else await confirmChange(`Redeploy the owrt-ecmp files on ${s.target.host}?`, o.yes);
    const status = await applyAndVerify(s, {
      ...plan,
      routeMode: plan.caps.routeMode,
      facts,
      rollbackTimeout: 90,
      wait: parseIntOption('--wait', o.wait ?? '60', 0, 600),
      confirmDials: plan.dials,
      retry: plan.dials.slice(1),
      owner: 'hotplug',
      after: 'rebuild',
      before: 'none',
    });
    // the routes are rebuilt even when no file changed: that is the apply
    if (o.json) writeJson(changeJson('hotplug', { dryRun: false, changes, applied: true, plan: planJson(plan.changes, view), status }));
    else process.stdout.write(`\n${formatStatus(status)}\n`);
    return status.healthy ? ExitCode.ok : ExitCode.unhealthy;
  });
}
