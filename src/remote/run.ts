import { RemoteError } from '../errors.js';
import type { Transport } from '../ssh/index.js';

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
 * it never show up in `ps`). It runs in a subshell, parsed whole before it starts, so a
 * dropped connection cannot cut it short and an `exit` cannot skip the sentinel. Its
 * output goes to a file that the outer shell prints afterwards: nothing it starts (the
 * rollback watchdog, daemons a reload spawns) holds the SSH channel open, and a closed
 * channel cannot kill it with SIGPIPE halfway through.
 */
export function wrapScript(script: string): string {
  return [
    "trap '' HUP PIPE",
    'o=/tmp/owrt-ecmp-out.$$',
    '(',
    script,
    ') >"$o" 2>"$o.err" </dev/null',
    'rc=$?',
    'cat "$o"; cat "$o.err" >&2; rm -f "$o" "$o.err"',
    `printf '\n${SECTION_MARK}rc=%s@@\n' "$rc"`,
    '',
  ].join('\n');
}

export async function runScript(t: Transport, script: string, what: string, timeoutMs = 120_000): Promise<ScriptResult> {
  const wrapped = wrapScript(script);
  const res = await t.exec('sh -s', { stdin: wrapped, timeoutMs });
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
