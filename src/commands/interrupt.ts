import { ExitCode } from '../errors.js';
import { interruptedJson, wantsJson, writeJson } from '../output/json.js';
import { clockTime } from '../output/progress.js';

/**
 * What Ctrl-C means depends on how far a change got. The router-side script never
 * depends on us once it is sent (it ignores HUP and writes to a file), so after that
 * point the honest answer is what the router will do on its own.
 */
export type ChangePhase =
  | { kind: 'idle' }
  /** the apply script is on its way or running; `rollbackTimeout` null = nothing to roll back */
  | { kind: 'sent'; rollbackTimeout: number | null }
  /** the router armed its rollback; it fires at `revertAt` (local ms) unless confirmed */
  | { kind: 'armed'; revertAt: number }
  /** the confirmation script runs on the router: it disarms, or the rollback fires */
  | { kind: 'confirming'; revertAt: number }
  | { kind: 'confirmed' };

const STATUS = '`owrt-ecmp status` shows it';

export function interruptMessage(p: ChangePhase): string {
  switch (p.kind) {
    case 'idle':
      return 'interrupted: nothing was changed';
    case 'sent':
      return p.rollbackTimeout === null
        ? `interrupted: the router finishes the change on its own (it cannot cut access, so it is not rolled back); ${STATUS}`
        : `interrupted: the router finishes the change on its own and, unconfirmed, reverts it within ${p.rollbackTimeout} s; ${STATUS}`;
    case 'armed':
      return `interrupted: the router reverts at ${clockTime(p.revertAt)} unless confirmed; ${STATUS}`;
    case 'confirming':
      return `interrupted during the confirmation: the router either completes it (the change stays) or reverts at ${clockTime(p.revertAt)}; \`owrt-ecmp status\` shows which`;
    case 'confirmed':
      return `interrupted: the change was confirmed and stays; ${STATUS}`;
  }
}

let phase: ChangePhase = { kind: 'idle' };
let override: (() => number) | undefined;
const cleanups = new Set<() => void>();

export function setPhase(p: ChangePhase): void {
  phase = p;
}

export function currentPhase(): ChangePhase {
  return phase;
}

/** A command that owns Ctrl-C (status --watch) decides the exit code itself. */
export function onInterrupt(handler: (() => number) | undefined): void {
  override = handler;
}

/** Run before exiting on Ctrl-C (clear a spinner line). */
export function atInterrupt(fn: () => void): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

export function handleInterrupt(write: (s: string) => void, json = false): number {
  for (const fn of cleanups) fn();
  if (override) return override();
  const message = interruptMessage(phase);
  write(`owrt-ecmp: ${message}\n`);
  // --json promises one document on stdout, also when the user stops the command
  if (json) writeJson(interruptedJson(message));
  return ExitCode.interrupted;
}

/** Ctrl-C exits at once with 130 (or the owning command's code), never "unexpected error". */
export function installInterruptHandler(): void {
  process.on('SIGINT', () => {
    process.exit(handleInterrupt((s) => process.stderr.write(s), wantsJson(process.argv)));
  });
}
