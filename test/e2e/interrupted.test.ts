/**
 * Interrupted runs: the tool killed, or every SSH session on the router cut, at the round-trip
 * boundaries of setup, teardown and hotplug. Afterwards the router must be fully in the old or
 * fully in the new state with no staged uci changes, and the next run must converge.
 * Round trips are counted from the tool's --debug transcript ("ssh exec: #n …" per exec).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diagnoseFailures, eventually, exportCmd, lab, labEnabled, owrt, owrtAsync, router } from './lab-cli.js';

type Command = 'setup' | 'teardown' | 'hotplug';
interface Cut {
  command: Command;
  /** kill the tool, or cut every SSH session from the router's side */
  how: 'kill' | 'cut-ssh';
  /** 'during' = as round trip k starts; 'after' = as soon as round trip k has returned */
  when: 'during' | 'after';
  k: number;
}

const ARGS: Record<Command, string[]> = {
  setup: ['setup', '--dials', '3', '--yes', '--rollback-timeout', '30', '--wait', '10', '--debug'],
  teardown: ['teardown', '--yes', '--rollback-timeout', '30', '--debug'],
  hotplug: ['hotplug', '--yes', '--wait', '10', '--debug'],
};

// Chained so that each case starts where the previous one's converging run left the router
// (setup needs the old state to have three round trips). CI runs these six; the full matrix
// (OWRT_ECMP_E2E_FULL=1) adds the other boundaries.
const CI_CASES: Cut[] = [
  { command: 'setup', how: 'kill', when: 'after', k: 1 },
  { command: 'hotplug', how: 'cut-ssh', when: 'during', k: 1 },
  { command: 'teardown', how: 'kill', when: 'after', k: 2 },
  { command: 'setup', how: 'cut-ssh', when: 'during', k: 2 },
  { command: 'teardown', how: 'cut-ssh', when: 'during', k: 3 },
  { command: 'setup', how: 'kill', when: 'during', k: 3 },
];
const MORE_CASES: Cut[] = [
  { command: 'hotplug', how: 'kill', when: 'during', k: 2 },
  { command: 'hotplug', how: 'kill', when: 'after', k: 1 },
  { command: 'teardown', how: 'cut-ssh', when: 'during', k: 2 },
  { command: 'setup', how: 'kill', when: 'after', k: 2 },
  { command: 'teardown', how: 'kill', when: 'after', k: 1 },
  { command: 'setup', how: 'cut-ssh', when: 'during', k: 3 },
  { command: 'teardown', how: 'kill', when: 'during', k: 3 },
  { command: 'setup', how: 'cut-ssh', when: 'during', k: 1 },
];
const CASES = process.env.OWRT_ECMP_E2E_FULL === '1' ? [...CI_CASES, ...MORE_CASES] : CI_CASES;

const count = (text: string, re: RegExp): number => (text.match(re) ?? []).length;

describe.skipIf(!labEnabled)('interrupted runs on the lab router', () => {
  diagnoseFailures();
  let before = '';
  let after = '';

  beforeAll(async () => {
    await lab.reset({ up: true });
    await router('opkg update >/dev/null && opkg install ip-full kmod-macvlan >/dev/null');
    before = await router(exportCmd);
    // the "new" state, for comparison
    expect(owrt(ARGS.setup.filter((a) => a !== '--debug')).code).toBe(0);
    after = await router(exportCmd);
    expect(owrt(['teardown', '--yes']).code).toBe(0);
    expect(await router(exportCmd)).toBe(before);
  }, 600_000);

  afterAll(async () => {
    if (process.env.OWRT_ECMP_LAB_KEEP !== '1') await lab.down();
  }, 120_000);

  it.each(CASES)('$command: $how $when round trip $k → old or new state, nothing staged, the next run converges', async (c) => {
    const start = await router(exportCmd);
    let fired = false;
    const run = await owrtAsync(ARGS[c.command], (stderr, kill) => {
      if (fired) return;
      const n = c.when === 'during' ? count(stderr, /ssh exec: #/g) : count(stderr, /ssh exec-done: #/g);
      if (n < c.k) return;
      fired = true;
      if (c.how === 'kill') kill();
      else void lab.fault('cut-ssh');
    });
    expect(fired, `the run ended before round trip ${c.k}:\n${run.stderr}`).toBe(true);
    console.log(`${c.command} ${c.how} ${c.when} #${c.k}: the tool exited ${run.code}; ${run.stderr.trim().split('\n').filter((l) => !/ssh |debug/.test(l)).slice(-2).join(' | ')}`);

    // let the router finish on its own: the apply completes (it ignores a lost session) and an
    // unconfirmed change rolls back when its timeout (30 s) expires
    await eventually(
      'the router to settle (no apply running, no rollback armed or running)',
      async () => (await router('cat /tmp/owrt-ecmp-rollback/state 2>/dev/null; ls -d /tmp/owrt-ecmp-apply.lock 2>/dev/null; true')).match(/armed|restoring|lock/) === null,
      120,
      500,
    );
    const now = await router(exportCmd);
    expect([before, after], `${c.command} left the router half-way`).toContain(now);
    expect(await router('uci changes')).toBe('');

    const converge = owrt(ARGS[c.command].filter((a) => a !== '--debug'));
    expect(converge.code, converge.stderr).toBe(0);
    const target = c.command === 'teardown' ? before : after;
    expect(await router(exportCmd)).toBe(target);
    expect(await router('uci changes')).toBe('');
    console.log(`  started ${start === before ? 'old' : 'new'}, ended ${now === before ? 'old' : 'new'} after the interruption, converged`);
  }, 400_000);
});
