import { ROUTER_FILES } from '../paths.js';
import { render } from '../render/env.js';
import { runScript } from '../remote/run.js';
import type { Transport } from '../ssh/index.js';
import { parseFacts, type RouterFacts } from './facts.js';

export type { RouterFacts } from './facts.js';

/** One round trip, read-only. */
export async function probeRouter(t: Transport): Promise<RouterFacts> {
  const res = await runScript(t, render('probe.sh', { files: ROUTER_FILES }), 'probe', 60_000);
  return parseFacts(res.sections);
}
