/**
 * The apply script's router lock, run as it runs on OpenWrt (BusyBox ash), with several
 * runs started at the same moment: only one may be inside at a time, the others stop
 * with exit 9 and say who holds it, and a lock left by a dead run is taken over.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { render } from '../../src/render/env.js';

const busybox = ['/usr/bin/busybox', '/bin/busybox'].find((p) => existsSync(p));
const dir = mkdtempSync(join(tmpdir(), 'owrt-ecmp-lock-'));
const lockPath = join(dir, 'lock');
const logFile = join(dir, 'log');

/** The lock section as rendered into every apply, pointed at a private path, around a critical section. */
function script(owner: string): string {
  const lock = render('apply-lock.sh', { owner }).replace(/^LOCK=.*$/m, `LOCK='${lockPath}'`);
  expect(lock).toContain(`LOCK='${lockPath}'`);
  return `sec() { printf '\\n@@owrt-ecmp:%s@@\\n' "$1"; }
${lock}
lock_take
echo "in $$" >>'${logFile}'
sleep 0.2
echo "out $$" >>'${logFile}'
lock_release
exit 0
`;
}

function run(owner: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(busybox!, ['sh', '-c', script(owner)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => resolve({ code, out }));
  });
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!busybox)('apply lock (BusyBox ash)', () => {
  it('lets one of three simultaneous runs in at a time, 25 times over', async () => {
    for (let trial = 0; trial < 25; trial++) {
      writeFileSync(logFile, '');
      const results = await Promise.all(['setup --dials 3', 'setup --dials 2', 'teardown'].map(run));
      const codes = results.map((r) => r.code);
      expect(codes.every((c) => c === 0 || c === 9), JSON.stringify(results)).toBe(true);
      expect(codes).toContain(0);
      for (const r of results.filter((x) => x.code === 9)) {
        expect(r.out).toMatch(/@@owrt-ecmp:error@@\nanother owrt-ecmp run is applying changes on this router \(since .+\)/);
      }
      // inside the lock: every "in" is followed by the same run's "out" before anyone else's "in"
      const lines = readFileSync(logFile, 'utf8').trim().split('\n');
      expect(lines.length).toBe(2 * codes.filter((c) => c === 0).length);
      for (let i = 0; i < lines.length; i += 2) {
        expect(lines[i]).toMatch(/^in \d+$/);
        expect(lines[i + 1]).toBe(lines[i]?.replace('in', 'out'));
      }
      expect(existsSync(lockPath) || isLink(lockPath)).toBe(false);
    }
  }, 120_000);

  it('refuses while the holder lives, naming it, and leaves its lock alone', async () => {
    const holder = `${process.pid} Tue Dec  1 21:00:00 UTC 2026 setup --dials 4`;
    symlinkSync(holder, lockPath);
    try {
      const r = await run('teardown');
      expect(r.code).toBe(9);
      expect(r.out).toContain('(since Tue Dec  1 21:00:00 UTC 2026 setup --dials 4)');
      expect(readlinkSync(lockPath)).toBe(holder);
    } finally {
      rmSync(lockPath, { force: true });
    }
  });

  it('takes over a lock whose holder has died, and releases it', async () => {
    const dead = spawnSync(busybox!, ['sh', '-c', 'echo $$']).stdout.toString().trim();
    symlinkSync(`${dead} Tue Dec  1 21:00:00 UTC 2026 setup --dials 4`, lockPath);
    writeFileSync(logFile, '');
    const r = await run('teardown');
    expect(r.code, r.out).toBe(0);
    expect(readFileSync(logFile, 'utf8')).toMatch(/^in \d+\nout \d+\n$/);
    expect(isLink(lockPath)).toBe(false);
  });
});

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
