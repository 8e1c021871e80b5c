/**
 * Progress markers from router-side scripts: a line `@@owrt-ecmp:step <text>@@`, printed
 * as a step happens (see templates/apply.sh.hbs). They arrive while the round trip is
 * still running (src/remote/run.ts streams the script's output), and are removed from
 * the output before it is split into sections.
 */
const STEP_LINE = /^@@owrt-ecmp:step ([^\n@]*)@@$/;
const STEP_LINES = /\n?^@@owrt-ecmp:step [^\n]*@@\n/gm;

/** What a step marker means to the host. */
export type Step =
  | { kind: 'step'; name: string }
  | { kind: 'dials'; up: number; total: number }
  | { kind: 'armed'; routerEpoch: number; timeoutSeconds: number };

export function parseStep(text: string): Step {
  const dials = /^dials (\d+)\/(\d+)$/.exec(text);
  if (dials) return { kind: 'dials', up: Number(dials[1]), total: Number(dials[2]) };
  const armed = /^armed (\d+) (\d+)$/.exec(text);
  if (armed) return { kind: 'armed', routerEpoch: Number(armed[1]), timeoutSeconds: Number(armed[2]) };
  return { kind: 'step', name: text };
}

/** Feed stdout chunks in; each complete marker line comes out once, in order. */
export function stepReader(onStep: (s: Step) => void): (chunk: Buffer | string) => void {
  let pending = '';
  return (chunk) => {
    pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const m = STEP_LINE.exec(line);
      if (m?.[1]) onStep(parseStep(m[1]));
    }
  };
}

export function stripSteps(text: string): string {
  return text.replace(STEP_LINES, '');
}
