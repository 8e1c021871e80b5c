import { spawnSync } from 'node:child_process';

/** Run `shellcheck -s sh` on a script given as text; returns its findings ('' when clean). */
export function shellcheck(script: string): string {
  const r = spawnSync('shellcheck', ['-s', 'sh', '-f', 'gcc', '-'], { input: script, encoding: 'utf8' });
  if (r.error) throw new Error(`shellcheck is not installed: ${r.error.message}`);
  return (r.stdout + r.stderr).trim();
}

/** BusyBox ash's own parser (what OpenWrt runs) must accept the script. */
export function ashSyntax(script: string): string {
  const r = spawnSync('busybox', ['sh', '-n'], { input: script, encoding: 'utf8' });
  if (r.error) throw new Error(`busybox is not installed: ${r.error.message}`);
  return r.status === 0 ? '' : r.stderr.trim() || `exit ${r.status}`;
}
