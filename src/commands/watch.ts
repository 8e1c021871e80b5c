import { ExitCode } from '../errors.js';
import { parseIntOption } from '../options.js';
import { CLEAR_SCREEN, formatWatch } from '../output/watch.js';
import { render } from '../render/env.js';
import { runScript } from '../remote/run.js';
import { buildStatus } from '../report/status.js';
import { buildRecord, newEvents, parseWatchSections, type Sample } from '../watch/record.js';
import { onInterrupt } from './interrupt.js';
import { type GlobalOptions, withSession } from './session.js';
import { statusScript } from './setup.js';

export interface WatchOptions extends GlobalOptions {
  interval?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `status --watch`: one SSH connection for the whole watch, one status round trip per
 * interval over it. A terminal gets the screen redrawn in place; anything else gets one
 * JSON object per line. Ctrl-C ends it with 0; a lost connection throws ConnectError (3).
 */
export async function watchCommand(o: WatchOptions): Promise<number> {
  const interval = parseIntOption('--interval', o.interval ?? '2', 1, 3600);
  const tty = Boolean(process.stdout.isTTY) && !o.json;
  onInterrupt(() => ExitCode.ok);
  return withSession(o, async (s) => {
    const t = await s.transport();
    const script = `${statusScript()}\n${render('watch.sh', { lines: '20' })}`;
    let prev: Sample | undefined;
    let baseline: Set<string> | undefined;
    let events: string[] = [];
    for (;;) {
      const started = Date.now();
      // longer than the transport's keepalive gives up (3 × 10 s), so a router that vanished
      // without a word ends the watch as a lost connection (exit 3), not as a slow command
      const res = await runScript(t, script, 'status', 60_000);
      const cur: Sample = { report: buildStatus(res.sections), ...parseWatchSections(res.sections) };
      baseline ??= new Set(cur.log);
      events = newEvents(baseline, events, cur.log);
      const record = buildRecord(cur, prev, events, new Date());
      process.stdout.write(tty ? `${CLEAR_SCREEN}${formatWatch(record, { host: s.target.host, interval })}\n` : `${JSON.stringify(record)}\n`);
      prev = cur;
      await sleep(Math.max(0, interval * 1000 - (Date.now() - started)));
    }
  });
}
