import { ConflictError, RemoteError, RolledBackError, CapabilityError } from '../errors.js';
import { redact } from '../redact.js';
import { runScript, type ScriptResult } from '../remote/run.js';
import type { Step } from '../remote/steps.js';
import type { Transport } from '../ssh/index.js';

export interface ApplyResult {
  rollbackArmed: boolean;
  configHash: string | null;
  sections: Map<string, string>;
}

/** Map the apply script's exit code and error section to a typed error. */
function failure(res: ScriptResult, secrets: readonly string[]): Error {
  const msg = redact(res.sections.get('error') ?? (res.stderr.trim() || `exit ${res.rc}`), secrets);
  if (res.rc === 9) return new ConflictError(msg, 'wait for the other run, or re-run owrt-ecmp to read the router again');
  if (res.rc === 7) return new CapabilityError(msg, 'install the packages by hand and re-run without --install-packages');
  return new RemoteError(msg);
}

/** One round trip: the whole transaction. Throws a typed error if the router refused it. */
export async function runApply(t: Transport, script: string, secrets: readonly string[], onStep?: (s: Step) => void): Promise<ApplyResult> {
  const res = await runScript(t, script, 'apply', 10 * 60_000, onStep);
  if (res.rc !== 0) throw failure(res, secrets);
  const result = res.sections.get('result') ?? '';
  const hash = /^config_hash (\S+)$/m.exec(result)?.[1] ?? null;
  return { rollbackArmed: /^rollback armed/m.test(result), configHash: hash, sections: res.sections };
}

export interface ConfirmResult {
  waitedSeconds: number;
  dialsUp: number;
  sections: Map<string, string>;
}

/**
 * One round trip over a connection opened after the apply: reaching the router at all
 * is the first proof, a default route the second. Anything else leaves or triggers the
 * rollback.
 */
export async function runConfirm(t: Transport, script: string, onStep?: (s: Step) => void): Promise<ConfirmResult> {
  const res = await runScript(t, script, 'confirm', 10 * 60_000, onStep);
  if (res.rc === 10) {
    throw new RolledBackError(
      `the router rolled the change back: ${(res.sections.get('rolledback') ?? '').trim()}`,
      'the router is back in its previous state; check the dials with `owrt-ecmp doctor`',
    );
  }
  if (res.rc !== 0) throw new RemoteError((res.sections.get('error') ?? `confirm failed (exit ${res.rc})`).trim());
  const [waited, up] = (res.sections.get('waited') ?? '0 0').trim().split(/\s+/).map(Number);
  return { waitedSeconds: waited ?? 0, dialsUp: up ?? 0, sections: res.sections };
}
