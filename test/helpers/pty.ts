/**
 * A command on a real pseudo-terminal (util-linux `script -qec`), with an expect-like driver:
 * stdin, stdout and stderr of the command are the pty, so `isTTY` is true and Ctrl-C typed
 * as \x03 reaches it as SIGINT through the terminal's line discipline, as a user's would.
 * The transcript is what the terminal received (the pty turns \n into \r\n).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export const hasScript = existsSync('/usr/bin/script');

export interface PtyOptions {
  env: NodeJS.ProcessEnv;
  /** terminal size set with stty before the command runs (a bare pty is 0×0) */
  cols?: number;
  rows?: number;
  /** shell lines run on the pty before the command (e.g. `stty -g` to print the terminal state) */
  before?: string[];
  /** shell lines run on the pty after the command; $rc holds its exit status, which stays the result */
  after?: string[];
  timeoutMs?: number;
}

export interface Pty {
  /** everything the terminal received so far */
  out(): string;
  /** resolves once the transcript after the previous match matches `re` */
  expect(re: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** expect `when`, then type `text` and Enter */
  answer(when: RegExp, text: string): Promise<void>;
  /** type raw bytes (e.g. '\x03' for Ctrl-C) */
  send(bytes: string): void;
  done: Promise<{ code: number | null; out: string }>;
}

export const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function commandLine(argv: string[], o: PtyOptions): string {
  const size = o.cols || o.rows ? [`stty${o.cols ? ` cols ${o.cols}` : ''}${o.rows ? ` rows ${o.rows}` : ''}`] : [];
  const cmd = argv.map(shellQuote).join(' ');
  if (!o.before?.length && !o.after?.length) return [...size, `exec ${cmd}`].join('; ');
  // a shell stays around the command; a Ctrl-C for the command must not end that shell first
  return [...size, ...(o.before ?? []), "trap '' INT", `(trap - INT; exec ${cmd})`, 'rc=$?', ...(o.after ?? []), 'exit $rc'].join('; ');
}

export function onPty(argv: string[], o: PtyOptions): Pty {
  const child = spawn('script', ['-qec', commandLine(argv, o), '/dev/null'], { env: { SHELL: '/bin/sh', ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const waiters = new Set<() => void>();
  const onOut = (d: Buffer): void => {
    out += d.toString('utf8');
    for (const w of [...waiters]) w();
  };
  child.stdout.on('data', onOut);
  child.stderr.on('data', onOut);
  const done = new Promise<{ code: number | null; out: string }>((res) => child.on('close', (code) => res({ code, out })));
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
  void done.then(() => {
    clearTimeout(timer);
    child.stdin.end();
  });
  let seen = 0;
  const expect = (re: RegExp, ms = 30_000): Promise<RegExpExecArray> =>
    new Promise((res, rej) => {
      const stop = setTimeout(() => fail(`no ${re} within ${ms} ms`), ms);
      const fail = (why: string): void => {
        waiters.delete(check);
        clearTimeout(stop);
        rej(new Error(`${why}; the terminal got: ${JSON.stringify(out)}`));
      };
      const check = (): void => {
        const m = re.exec(out.slice(seen));
        if (!m) return;
        waiters.delete(check);
        clearTimeout(stop);
        seen += m.index + m[0].length;
        res(m);
      };
      waiters.add(check);
      void done.then(() => waiters.has(check) && fail(`exited before ${re}`));
      check();
    });
  const send = (bytes: string): void => void child.stdin.write(bytes);
  return {
    out: () => out,
    expect,
    answer: async (when, text) => {
      await expect(when);
      send(`${text}\r`);
    },
    send,
    done,
  };
}

/**
 * What a terminal `cols` wide shows after `text`, for what a one-line spinner uses: carriage
 * return, erase to end of line, newline, and autowrap (a character past the last column goes
 * to a new row, and a later \r only returns to the start of that row). Each row as it was
 * left; other escape sequences stay in the text.
 */
export function screenLines(text: string, cols: number): string[] {
  const rows: string[] = [];
  let row = '';
  let col = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (text.startsWith('\x1b[K', i)) {
      row = row.slice(0, Math.min(col, cols - 1));
      i += 2;
    } else if (c === '\r') col = 0;
    else if (c === '\n') {
      rows.push(row);
      row = '';
      col = 0;
    } else {
      if (col === cols) {
        rows.push(row);
        row = '';
        col = 0;
      }
      row = row.slice(0, col) + c + row.slice(col + 1);
      col++;
    }
  }
  if (row) rows.push(row);
  return rows;
}
