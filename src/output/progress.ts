import type { Step } from '../remote/steps.js';

/**
 * Live progress of a long round trip on stderr: on a terminal one spinner line with the
 * current router-side step and the seconds elapsed, redrawn in place; otherwise one plain
 * line per step. Nothing at all with --quiet or --json (the caller passes `enabled`).
 */
export interface Progress {
  /** A round trip starts; `label` says what it does. */
  start(label: string): void;
  /** A step marker arrived from the router. */
  step(s: Step): void;
  /** The round trip ended: the spinner line is cleared. */
  stop(): void;
}

export interface ProgressOptions {
  enabled: boolean;
  /** redraw a spinner line (a terminal, and no --debug transcript interleaving with it) */
  spinner: boolean;
  write: (s: string) => void;
  /** the terminal's width now (it can change while the spinner runs); unknown: no limit */
  columns?: () => number | undefined;
  now?: () => number;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function clockTime(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8);
}

/** What a person reads for a step. `revertAt` is local time in ms, for the armed step. */
export function describeStep(s: Step, revertAt?: number): string {
  if (s.kind === 'dials') return `${s.up}/${s.total} dials up`;
  if (s.kind === 'armed') {
    return `rollback armed: the router reverts${revertAt ? ` at ${clockTime(revertAt)}` : ` ${s.timeoutSeconds} s from now`} unless confirmed`;
  }
  const known: Record<string, string> = {
    packages: 'installing packages',
    'uci-commit': 'committing the configuration',
    files: 'writing the router-side files',
    reload: 'reloading network and firewall',
    routes: 'rebuilding the routes',
    'route converged': 'the ECMP route holds every dial that is up',
  };
  return known[s.name] ?? s.name;
}

/**
 * One spinner line: frame, what, current step, elapsed seconds, in at most `width`
 * characters. A longer line would wrap, and `\r` only returns to the start of its last
 * row: every redraw would leave a stale row behind. The step text is cut first, so the
 * seconds keep ticking in view.
 */
export function spinnerLine(frame: number, label: string, current: string | undefined, elapsedMs: number, width = Infinity): string {
  const f = FRAMES[frame % FRAMES.length] as string;
  const head = `${f} ${label}${current ? `: ${current}` : ''}`;
  const tail = ` (${Math.floor(elapsedMs / 1000)} s)`;
  const room = width - tail.length;
  return room >= 8 ? `${fit(head, room)}${tail}` : fit(`${head}${tail}`, width);
}

/** `s` cut to `n` characters (code points: the frames and '…' are one column each), '…' marking the cut. */
function fit(s: string, n: number): string {
  const chars = [...s];
  return chars.length <= n ? s : `${chars.slice(0, Math.max(0, n - 1)).join('')}…`;
}

export function createProgress(o: ProgressOptions): Progress {
  const now = o.now ?? Date.now;
  let label = '';
  let current: string | undefined;
  let started = 0;
  let frame = 0;
  let timer: NodeJS.Timeout | undefined;
  // one column short of the width: some terminals wrap as soon as the last column is written
  const width = (): number => {
    const cols = o.columns?.();
    return cols && cols > 1 ? cols - 1 : Infinity;
  };
  const draw = (): void => o.write(`\r\x1b[K${spinnerLine(frame++, label, current, now() - started, width())}`);
  return {
    start(l) {
      if (!o.enabled) return;
      label = l;
      current = undefined;
      started = now();
      if (!o.spinner) return;
      draw();
      timer = setInterval(draw, 100);
      timer.unref();
    },
    step(s) {
      if (!o.enabled) return;
      current = describeStep(s, s.kind === 'armed' ? revertTime(s, now()) : undefined);
      // the revert time stays on screen: it is what the user needs if anything goes wrong
      if (o.spinner && s.kind === 'armed') o.write(`\r\x1b[K  router: ${current}\n`);
      if (o.spinner) draw();
      else o.write(`  router: ${current}\n`);
    },
    stop() {
      if (timer) clearInterval(timer);
      if (timer || (o.spinner && label)) o.write('\r\x1b[K');
      timer = undefined;
      label = '';
    },
  };
}

/**
 * Local time (ms) at which an armed rollback fires: the router's arming time plus its
 * timeout. A router clock far from ours (no NTP yet) would give a wrong wall time, so then
 * the marker's arrival, which is within a fraction of a second of the arming, is used.
 */
export function revertTime(s: Extract<Step, { kind: 'armed' }>, arrivedAt: number): number {
  const routerMs = s.routerEpoch * 1000;
  const base = Math.abs(arrivedAt - routerMs) <= 30_000 ? routerMs : arrivedAt;
  return base + s.timeoutSeconds * 1000;
}
