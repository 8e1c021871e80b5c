// The lab's procd stand-in (router-root/etc/rc.common) on the host: a USE_PROCD init script
// in a temp dir, its instance supervised, respawned, stopped; enable/disable links.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, run } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'lab-rc-'));
const initd = join(dir, 'init.d');
const script = join(initd, 'demo');
const env = { ...process.env, LAB_RC_D: join(dir, 'rc.d'), LAB_PROCD_RUN: join(dir, 'run') };
const rc = (action: string) => run(script, [action], { env });
const starts = () => (existsSync(join(dir, 'starts')) ? readFileSync(join(dir, 'starts'), 'utf8').split('\n').filter(Boolean) : []);
const alive = (pid: string) => run('kill', ['-0', pid]).code === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

mkdirSync(initd);
writeFileSync(
  script,
  `#!/bin/sh ${join(ROOT, 'etc', 'rc.common')}
START=50
USE_PROCD=1
start_service() {
	procd_open_instance
	procd_set_param command /bin/sh -c 'echo $$ >>${dir}/starts; exec sleep 30'
	procd_set_param respawn 3600 1 0
	procd_close_instance
}
stop_service() { echo stop >>${dir}/log; }
`,
);
chmodSync(script, 0o755);

describe('lab rc.common (procd stand-in)', () => {
  afterAll(() => {
    rc('stop');
    rmSync(dir, { recursive: true, force: true });
  });

  it('enable/disable manage the S<START> link', () => {
    expect(rc('enable').code).toBe(0);
    expect(readlinkSync(join(dir, 'rc.d', 'S50demo'))).toBe('../init.d/demo');
    expect(rc('enabled').code).toBe(0);
    expect(rc('disable').code).toBe(0);
    expect(existsSync(join(dir, 'rc.d', 'S50demo'))).toBe(false);
    expect(rc('enabled').code).not.toBe(0);
  });

  it('start runs the instance (arguments intact), respawns it, stop runs stop_service and ends it', async () => {
    expect(rc('start').code).toBe(0);
    await sleep(300);
    expect(starts()).toHaveLength(1);
    const first = starts()[0]!;
    expect(alive(first)).toBe(true);
    expect(rc('running').code).toBe(0);
    // an unchanged definition is left running
    rc('start');
    await sleep(300);
    expect(starts()).toHaveLength(1);
    run('kill', ['-KILL', first]);
    await sleep(1800); // respawn timeout 1 s
    expect(starts()).toHaveLength(2);
    const second = starts()[1]!;
    expect(alive(second)).toBe(true);
    expect(rc('stop').code).toBe(0);
    expect(readFileSync(join(dir, 'log'), 'utf8')).toBe('stop\n');
    expect(alive(second)).toBe(false);
    expect(rc('running').code).not.toBe(0);
    await sleep(1500);
    expect(starts()).toHaveLength(2); // no respawn after a stop
  });
});
