/**
 * Questions asked on the user's terminal, like ssh asks them: a host key (yes/no), a key
 * passphrase or a password (not echoed). Prompts go to stderr; answers come from stdin in raw
 * mode so a secret is never echoed, and it is handed only to the caller, never logged.
 */

export interface Prompter {
  /** A line with echo on (yes/no questions). undefined when the user ended input (Ctrl-D). */
  ask(question: string): Promise<string | undefined>;
  /** A secret, echo off. undefined on Ctrl-D; Ctrl-C rejects. */
  secret(question: string): Promise<string | undefined>;
}

/** Prompt only where ssh would: both stdin and stderr are terminals (and the caller is not in --json mode). */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}

export class PromptInterrupted extends Error {
  constructor() {
    super('interrupted at a prompt');
  }
}

/** Read one line from a TTY stdin in raw mode, echoing only when asked. */
function readLine(question: string, echo: boolean): Promise<string | undefined> {
  const input = process.stdin;
  const out = process.stderr;
  return new Promise((resolve, reject) => {
    let buf = '';
    const wasRaw = input.isRaw;
    // raw mode before the question: whatever is typed after it appears is never echoed by the tty
    input.setRawMode(true);
    out.write(question);
    input.resume();
    const finish = (value: string | undefined, err?: Error): void => {
      input.off('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      out.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish(buf);
        if (ch === '\u0003') return finish(undefined, new PromptInterrupted());
        if (ch === '\u0004') return finish(buf === '' ? undefined : buf);
        if (ch === '\u007f' || ch === '\b') {
          if (buf.length > 0 && echo) out.write('\b \b');
          buf = [...buf].slice(0, -1).join('');
        } else if (ch === '\u0015') {
          buf = ''; // Ctrl-U: kill the line, as a terminal would
        } else if (ch >= ' ') {
          buf += ch;
          if (echo) out.write(ch);
        }
      }
    };
    input.on('data', onData);
  });
}

export function ttyPrompter(): Prompter {
  // one question at a time, even if two connections (a jump host and its target) ask together
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn);
    queue = run.catch(() => undefined);
    return run;
  };
  return {
    ask: (q) => serial(() => readLine(q, true)),
    secret: (q) => serial(() => readLine(q, false)),
  };
}
