/**
 * A short flap soak (bench/soak.mjs, 6 random dial events, every kind at least once; SOAK_EVENTS=n for more) against the lab router: a
 * correctness test, not a speed target (`npm run soak` reports against the 2 s target).
 * Every change of a dial must reach the ECMP set (within 30 s: under TCG, hotplug events
 * queue behind the lab firewall's reload, one at a time, as netifd runs them), and there
 * must be no moment without a default route while a dial is up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error the soak is plain JavaScript with no type declarations
import { runSoak } from '../../bench/soak.mjs';
import { diagnoseFailures, lab, labEnabled, owrt } from './lab-cli.js';

describe.skipIf(!labEnabled)('flap soak on the lab router', () => {
  diagnoseFailures();
  beforeAll(async () => {
    await lab.reset({ up: true });
    const r = owrt(['setup', '--dials', '4', '--install-packages', '--yes']);
    expect(r.code, r.stderr).toBe(0);
  }, 600_000);

  afterAll(async () => {
    if (process.env.OWRT_ECMP_LAB_KEEP !== '1') await lab.down();
  }, 120_000);

  const events = Number(process.env.SOAK_EVENTS ?? 6);
  it(`${events} random events: the ECMP set follows the up dials and a default route is always there`, async () => {
    const r = await runSoak({ events, boundS: 30, log: () => {} });
    console.log(
      `soak (seed ${r.seed}): ${JSON.stringify(r.counts)}; ${r.transitions} transitions, convergence median ${r.convergenceMedianS?.toFixed(2)} s, ` +
        `p95 ${r.convergenceP95S?.toFixed(2)} s, max ${r.convergenceMaxS?.toFixed(2)} s, ` +
        `no-default max ${r.noDefaultWhileUpMaxS.toFixed(3)} s`,
    );
    expect(r.transitions).toBeGreaterThan(0);
    expect(r.slow, 'dial changes the ECMP set did not follow within 30 s').toEqual([]);
    expect(r.unresolved).toBe(0);
    expect(r.noDefaultWhileUpMaxS, 'time without a default route while a dial was up').toBe(0);
  }, 900_000);
});
