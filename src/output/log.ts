import { styleText } from 'node:util';

/** Progress and diagnostics go to stderr; data (plans, status, JSON) to stdout. */
export interface Log {
  step(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  verbose(msg: string): void;
  debug(msg: string): void;
}

export interface LogOptions {
  verbose?: boolean;
  debug?: boolean;
  quiet?: boolean;
  color?: boolean;
}

export function useColor(stream: NodeJS.WriteStream, flag: boolean | undefined): boolean {
  if (flag === false || process.env.NO_COLOR !== undefined || process.env.TERM === 'dumb') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY);
}

export function createLog(o: LogOptions, redactFn: (s: string) => string = (s) => s): Log {
  const color = useColor(process.stderr, o.color);
  const paint = (style: Parameters<typeof styleText>[0], s: string) => (color ? styleText(style, s) : s);
  const write = (s: string) => process.stderr.write(`${redactFn(s)}\n`);
  return {
    step: (m) => !o.quiet && write(`${paint('cyan', '›')} ${m}`),
    info: (m) => !o.quiet && write(m),
    warn: (m) => write(`${paint('yellow', 'warning:')} ${m}`),
    verbose: (m) => (o.verbose || o.debug) && write(paint('dim', m)),
    debug: (m) => o.debug && write(paint('dim', `[debug] ${m}`)),
  };
}
