import { createInterface } from 'node:readline/promises';
import { UsageError } from '../errors.js';

/** Ask before changing the router; never prompt when stdin is not a terminal. */
export async function confirmChange(question: string, yes: boolean | undefined): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) {
    throw new UsageError('refusing to change the router without confirmation', 'pass --yes (or --dry-run to only see the plan)');
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  // on a terminal readline takes Ctrl-C as a key; hand it to the process-wide handler (exit 130)
  rl.on('SIGINT', () => process.kill(process.pid, 'SIGINT'));
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
