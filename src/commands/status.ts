import { ExitCode } from '../errors.js';
import { writeJson } from '../output/json.js';
import { formatStatus } from '../output/status.js';
import { runScript } from '../remote/run.js';
import { buildStatus } from '../report/status.js';
import { statusScript } from './setup.js';
import { type GlobalOptions, withSession } from './session.js';
import { watchCommand, type WatchOptions } from './watch.js';

/** Exactly one round trip. Exit 0 when healthy, 8 when not. */
export async function statusCommand(o: GlobalOptions & WatchOptions & { watch?: boolean }): Promise<number> {
  if (o.watch) return watchCommand(o);
  return withSession(o, async (s) => {
    const res = await runScript(await s.transport(), statusScript(), 'status');
    const report = buildStatus(res.sections);
    if (o.json) writeJson(report);
    else process.stdout.write(`${formatStatus(report)}\n`);
    return report.healthy ? ExitCode.ok : ExitCode.unhealthy;
  });
}
