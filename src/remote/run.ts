import { RemoteError } from '../errors.js';
import type { Transport } from '../ssh/index.js';
import { type Step, stepReader, stripSteps } from './steps.js';

export const SECTION_MARK = '@@owrt-ecmp:';
const RC_LINE = /^@@owrt-ecmp:rc=(\d+)@@$/m;

export interface ScriptResult {
  sections: Map<string, string>;
  /** Exit status of the script, from our own sentinel (dropbear may lose exit-status). */
  rc: number;
  stdout: string;
  stderr: string;
}

/**
 * One round trip: the script goes to `sh -s` on stdin (nothing in argv, so secrets in
 * it never show up in `ps`). It runs in a background subshell, parsed whole before it
 * starts, so a dropped connection cannot cut it short and an `exit` cannot skip the
 * sentinel. Its output goes to a file, never to the channel: nothing it starts (the
 * rollback watchdog, daemons a reload spawns) holds the SSH channel open, and a closed
 * channel cannot kill it with SIGPIPE halfway through. Meanwhile the outer shell copies
 * each complete line of that file to the channel as it appears, so progress markers
 * arrive live; when the script has ended it copies the rest and the exit status.
 */
export function wrapScript(script: string): string {
  return [
    "trap '' HUP PIPE",
    'o=/tmp/owrt-ecmp-out.$$',
    ': >"$o"',
    '(',
    '(',
    script,
    ') >"$o" 2>"$o.err" </dev/null',
    'echo "$?" >"$o.rc"',
    ') </dev/null >/dev/null 2>&1 &',
    // whole lines only (wc -l counts newlines), so a line is never split across copies
    // polled fast at first, so a short script costs next to nothing extra
    'n=0 i=0',
    'while [ ! -e "$o.rc" ]; do',
    '\tm=$(wc -l <"$o")',
    '\t[ "$m" -gt "$n" ] && sed -n "$((n + 1)),${m}p" "$o" && n=$m',
    '\tif [ "$i" -lt 10 ]; then t=0.03; else t=0.25; fi',
    '\tsleep "$t" 2>/dev/null || sleep 1',
    '\ti=$((i + 1))',
    'done',
    'sed -n "$((n + 1)),\\$p" "$o"',
    'rc=$(cat "$o.rc")',
    'cat "$o.err" >&2; rm -f "$o" "$o.err" "$o.rc"',
    `printf '\n${SECTION_MARK}rc=%s@@\n' "$rc"`,
    '',
  ].join('\n');
}

export async function runScript(t: Transport, script: string, what: string, timeoutMs = 120_000, onStep?: (s: Step) => void): Promise<ScriptResult> {
  const wrapped = wrapScript(script);
  const res = await t.exec('sh -s', { stdin: wrapped, timeoutMs, ...(onStep ? { onStdout: stepReader(onStep) } : {}) });
  const stdout = res.stdout.toString('utf8');
  const stderr = res.stderr.toString('utf8');
  const m = RC_LINE.exec(stdout);
  if (!m) {
    throw new RemoteError(
      `the ${what} script on the router ended without finishing (exit ${res.code ?? 'unknown'})`,
      stderr.trim().split('\n').slice(-3).join(' | ') || 'run with --debug to see the transcript',
    );
  }
  return { sections: parseSections(stdout.slice(0, m.index)), rc: Number(m[1]), stdout, stderr };
}

/** Split "@@owrt-ecmp:<name>@@" delimited output; text before the first mark is dropped. */
export function parseSections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  text = stripSteps(text);
  const re = /^@@owrt-ecmp:([a-z0-9_]+)@@$/gm;
  let name: string | undefined;
  let start = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (name !== undefined) out.set(name, trimSection(text.slice(start, m.index)));
    name = m[1];
    start = m.index + m[0].length;
  }
  if (name !== undefined) out.set(name, trimSection(text.slice(start)));
  return out;
}

function trimSection(s: string): string {
  return s.replace(/^\n/, '').replace(/\n+$/, '');
}
