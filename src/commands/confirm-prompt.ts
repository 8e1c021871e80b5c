import { createInterface } from 'node:readline/promises';
import { OwrtEcmpError, UsageError } from '../errors.js';

/**
 * Ask before changing the router; never prompt when stdin is not a terminal. A "no" is a
 * failure (exit 1) like any other, so `--json` reports it as one document too.
 */
export async function confirmChange(question: string, yes: boolean | undefined): Promise<true> {
  if (yes) return true;
  if (!process.stdin.isTTY) {
    throw new UsageError('refusing to change the router without confirmation', 'pass --yes (or --dry-run to only see the plan)');
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  // on a terminal readline takes Ctrl-C as a key; hand it to the process-wide handler (exit 130)
  rl.on('SIGINT', () => process.kill(process.pid, 'SIGINT'));
  try {
    const answer = await rl.question(`${question} [y/N] `);
    if (/^y(es)?$/i.test(answer.trim())) return true;
    throw new OwrtEcmpError('not confirmed: nothing was changed');
  } finally {
    rl.close();
  }
}
