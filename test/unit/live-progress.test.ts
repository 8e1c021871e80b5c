import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { renderApply, renderWait } from '../../src/apply/script.js';
import { interruptMessage } from '../../src/commands/interrupt.js';
import { resolveSettings } from '../../src/options.js';
import { clockTime, createProgress, describeStep, revertTime, spinnerLine } from '../../src/output/progress.js';
import { planSetup } from '../../src/plan/setup.js';
import { planTeardown } from '../../src/plan/teardown.js';
import { parseSections, wrapScript } from '../../src/remote/run.js';
import { parseStep, type Step, stepReader } from '../../src/remote/steps.js';
import { factsFrom } from '../helpers/facts.js';

describe('step markers', () => {
  it('parses plain, dial-count and armed steps', () => {
    expect(parseStep('reload')).toEqual({ kind: 'step', name: 'reload' });
    expect(parseStep('dials 2/4')).toEqual({ kind: 'dials', up: 2, total: 4 });
    expect(parseStep('armed 1764766867 90')).toEqual({ kind: 'armed', routerEpoch: 1764766867, timeoutSeconds: 90 });
  });

  it('reads markers split across chunks, once each, ignoring other lines', () => {
    const seen: Step[] = [];
    const feed = stepReader((s) => seen.push(s));
    for (const c of ['\n@@owrt-ecmp:step pack', 'ages@@\nnoise\n@@owrt-ecmp:res', 'ult@@\n', '@@owrt-ecmp:step dials 1/2@@', '\n']) feed(Buffer.from(c));
    expect(seen).toEqual([{ kind: 'step', name: 'packages' }, { kind: 'dials', up: 1, total: 2 }]);
  });

  it('sections come out without the markers between or inside them', () => {
    const text = "\n@@owrt-ecmp:step packages@@\n\n@@owrt-ecmp:a@@\none\n\n@@owrt-ecmp:step reload@@\ntwo\n\n@@owrt-ecmp:b@@\nthree\n";
    expect([...parseSections(text)]).toEqual([['a', 'one\ntwo'], ['b', 'three']]);
  });
});

describe('router-side markers in the rendered scripts', () => {
  const settings = resolveSettings({ dials: '4' });
  const facts = factsFrom('stock-2305.txt');
  const plan = planSetup(settings, facts, { password: 'x' });
  const markers = (script: string) => [...script.matchAll(/^(?:step (.+)|.*@@owrt-ecmp:step ([^@]+)@@.*)$/gm)].map((m) => (m[1] ?? m[2] ?? '').trim()).filter((m) => m !== '%s');

  it('apply: packages, armed, uci-commit, files, reload, routes, in the order they happen', () => {
    const script = renderApply({
      changes: { ...plan.changes, packages: ['ip-full'] },
      settings, dials: plan.dials, routeMode: 'multipath', configHash: facts.configHash, pkg: 'opkg',
      rollbackTimeout: 90, after: 'rebuild', before: 'none', owner: 'setup',
    });
    expect(markers(script)).toEqual(['packages', 'armed "$armed_at" 90', 'uci-commit', 'files', 'reload', 'routes']);
    // the armed marker comes after the state file and the watchdog it announces
    expect(script.indexOf('step armed')).toBeGreaterThan(script.indexOf('echo $! >"$RB/watchdog.pid"'));
  });

  it("teardown's route flush is reported", () => {
    const script = renderApply({
      changes: planTeardown(facts).changes, settings, dials: plan.dials, routeMode: 'multipath', configHash: facts.configHash,
      pkg: 'opkg', rollbackTimeout: 60, after: 'none', before: 'flush', owner: 'teardown',
    });
    expect(markers(script)).toEqual(['routes']);
  });

  it('wait: dial counts, and the converged route only when a metric is watched', () => {
    expect(markers(renderWait(plan.dials, 60, { metric: 10, base: 3000 }))).toEqual(['dials %s/%s', 'route converged']);
    expect(markers(renderWait(plan.dials, 60))).toEqual(['dials %s/%s']);
  });
});

describe('the round-trip wrapper streams (BusyBox ash)', () => {
  it('copies each line while the script runs; a last line without newline comes at the end', async () => {
    const child = spawn('busybox', ['sh', '-s'], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(wrapScript("echo first\nsleep 1\nprintf 'tail'"));
    const chunks: Array<{ at: number; text: string }> = [];
    child.stdout.setEncoding('utf8').on('data', (d: string) => chunks.push({ at: Date.now(), text: d }));
    await new Promise((r) => child.once('close', r));
    const all = chunks.map((c) => c.text).join('');
    expect(all).toBe('first\ntail\n@@owrt-ecmp:rc=0@@\n');
    const first = chunks.find((c) => c.text.includes('first'));
    const last = chunks[chunks.length - 1];
    expect(first && last && last.at - first.at).toBeGreaterThan(700);
  });
});

describe('progress display', () => {
  const armed: Extract<Step, { kind: 'armed' }> = { kind: 'armed', routerEpoch: 1_000_000, timeoutSeconds: 90 };

  it('revert time: router time + timeout when the clocks agree, arrival + timeout when the router clock is off', () => {
    expect(revertTime(armed, 1_000_000_400)).toBe(1_000_090_000);
    expect(revertTime(armed, 1_700_000_000_000)).toBe(1_700_000_090_000);
  });

  it('describes steps for people', () => {
    expect(describeStep({ kind: 'dials', up: 2, total: 4 })).toBe('2/4 dials up');
    expect(describeStep({ kind: 'step', name: 'uci-commit' })).toBe('committing the configuration');
    expect(describeStep({ kind: 'step', name: 'something new' })).toBe('something new');
    expect(describeStep(armed, Date.UTC(2026, 0, 1, 12, 41, 7))).toBe(`rollback armed: the router reverts at ${clockTime(Date.UTC(2026, 0, 1, 12, 41, 7))} unless confirmed`);
  });

  it('spinner line: frame, label, step, whole seconds', () => {
    expect(spinnerLine(0, 'applying', 'reloading network and firewall', 12_900)).toBe('⠋ applying: reloading network and firewall (12 s)');
    expect(spinnerLine(11, 'confirming', undefined, 0)).toBe('⠙ confirming (0 s)');
  });

  it('a line wider than the terminal is cut in the step text, the seconds kept, so it never wraps', () => {
    const line = spinnerLine(0, 'applying', 'rollback armed: the router reverts at 12:41:07 unless confirmed', 3000, 40);
    expect(line).toBe('⠋ applying: rollback armed: the r… (3 s)');
    expect([...line]).toHaveLength(40);
    expect(spinnerLine(0, 'applying', 'reloading', 3000, 40)).toBe('⠋ applying: reloading (3 s)');
    expect([...spinnerLine(0, 'applying', 'reloading', 3000, 10)]).toHaveLength(10);
    let out = '';
    let cols: number | undefined = 30;
    const p = createProgress({ enabled: true, spinner: true, write: (s) => (out += s), columns: () => cols, now: () => 0 });
    p.start('applying');
    p.step({ kind: 'step', name: 'reload' });
    cols = undefined;
    p.step({ kind: 'step', name: 'routes' });
    p.stop();
    // one column to spare: some terminals wrap as soon as the last column is written
    expect(out).toBe('\r\x1b[K⠋ applying (0 s)\r\x1b[K⠙ applying: reloading … (0 s)\r\x1b[K⠹ applying: rebuilding the routes (0 s)\r\x1b[K');
  });

  it('not a terminal: one plain line per step; disabled: nothing', () => {
    let out = '';
    const p = createProgress({ enabled: true, spinner: false, write: (s) => (out += s) });
    p.start('applying');
    p.step({ kind: 'step', name: 'reload' });
    p.step({ kind: 'dials', up: 1, total: 2 });
    p.stop();
    expect(out).toBe('  router: reloading network and firewall\n  router: 1/2 dials up\n');
    let none = '';
    const q = createProgress({ enabled: false, spinner: true, write: (s) => (none += s) });
    q.start('applying');
    q.step({ kind: 'step', name: 'reload' });
    q.stop();
    expect(none).toBe('');
  });

  it('terminal: redraws one line in place and clears it at the end', () => {
    let out = '';
    let now = 5000;
    const p = createProgress({ enabled: true, spinner: true, write: (s) => (out += s), now: () => now });
    p.start('applying');
    now = 8200;
    p.step({ kind: 'step', name: 'reload' });
    p.stop();
    expect(out).toBe('\r\x1b[K⠋ applying (0 s)\r\x1b[K⠙ applying: reloading network and firewall (3 s)\r\x1b[K');
    expect(out).not.toContain('\n');
  });

  it('terminal: the armed step (with the revert time) stays on screen above the spinner', () => {
    let out = '';
    const p = createProgress({ enabled: true, spinner: true, write: (s) => (out += s), now: () => 1_000_000_000 });
    p.start('applying');
    out = '';
    p.step({ kind: 'armed', routerEpoch: 1_000_000, timeoutSeconds: 90 });
    const line = `rollback armed: the router reverts at ${clockTime(1_000_090_000)} unless confirmed`;
    expect(out).toBe(`\r\x1b[K  router: ${line}\n\r\x1b[K⠙ applying: ${line} (0 s)`);
    p.stop();
  });
});

describe('Ctrl-C messages', () => {
  const at = Date.UTC(2026, 11, 3, 12, 41, 7);
  it.each([
    [{ kind: 'idle' } as const, 'interrupted: nothing was changed'],
    [{ kind: 'sent', rollbackTimeout: 90 } as const, 'interrupted: the router finishes the change on its own and, unconfirmed, reverts it within 90 s; `owrt-ecmp status` shows it'],
    [{ kind: 'sent', rollbackTimeout: null } as const, 'interrupted: the router finishes the change on its own (it cannot cut access, so it is not rolled back); `owrt-ecmp status` shows it'],
    [{ kind: 'armed', revertAt: at } as const, `interrupted: the router reverts at ${clockTime(at)} unless confirmed; \`owrt-ecmp status\` shows it`],
    [{ kind: 'confirming', revertAt: at } as const, `interrupted during the confirmation: the router either completes it (the change stays) or reverts at ${clockTime(at)}; \`owrt-ecmp status\` shows which`],
    [{ kind: 'confirmed' } as const, 'interrupted: the change was confirmed and stays; `owrt-ecmp status` shows it'],
  ])('%j', (phase, text) => {
    expect(interruptMessage(phase)).toBe(text);
  });
});
