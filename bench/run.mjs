// npm run bench: every scenario against the lab router, a table on stdout,
// bench/results/<date>.json and docs/benchmarks.md (+ docs/benchmarks-failover.svg).
// BENCH_QUICK=1: fewer dials/flows/trials; BENCH_TRIALS=N failover trials; BENCH_ONLY=a,b scenarios
// (+ BENCH_MERGE_INTO=bench/results/<date>.json [BENCH_RERUN_WHY=…] to replace them in a full run's results). Numbers are reported, never asserted.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { lab, lanDown, root, router, setupDials } from './lib.mjs';
import * as sc from './scenarios.mjs';
import { renderReport, renderSvg, table } from './report.mjs';

const quick = process.env.BENCH_QUICK === '1';
const started = new Date();
const log = (...a) => console.error('[bench]', ...a);

async function main() {
  const wasRunning = lab.info().running;
  await lab.ensureUp();
  const cap = lab.info().rateMbit;
  if (typeof cap !== 'number') throw new Error('the lab must shape sessions (LAB_RATE numeric) to measure efficiency');
  const res = {
    date: started.toISOString(), quick, capMbitPerSession: cap,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), host: `${os.type()} ${os.release()}`, accel: lab.info().accel },
    versions: {
      node: process.version,
      owrtEcmp: JSON.parse(fs.readFileSync(join(root, 'package.json'), 'utf8')).version,
      git: (() => { try { return execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { return null; } })(),
      routerKernel: (await router('uname -r')).trim(),
      iperf3: (await router('iperf3 --version | head -1')).trim(),
    },
    scenarios: {}, errors: [],
  };
  const only = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',') : null; // development: a subset
  const step = async (name, fn) => {
    if (only && !only.includes(name)) return;
    const t = Date.now();
    try {
      res.scenarios[name] = await fn();
    } catch (e) {
      log(`${name} FAILED: ${e.message}`);
      res.errors.push({ scenario: name, error: String(e.message).slice(0, 2000) });
    }
    log(`${name}: ${Math.round((Date.now() - t) / 1000)} s`);
  };
  const trials = Number(process.env.BENCH_TRIALS ?? (quick ? 3 : 20));
  try {
    await router(`${'/usr/lib/lab-vm/labctl'} isp-limit off >/dev/null`);
    await step('routerCosts', () => sc.routerCosts());
    await step('tool', () => sc.tool());
    await step('aggregation', () => sc.aggregation({ quick, cap }));
    await step('hashL3', () => sc.hashL3({ quick, cap }));
    await step('failoverResilient', () => sc.failover({ trials, mode: 'resilient' }));
    // baselines: fewer trials (at least 10 in a full run), as the issue allows
    await step('failoverMultipath', () => sc.failover({ trials: Math.min(trials, quick ? 3 : 10), mode: 'multipath' }));
    await step('failoverHand', () => sc.failover({ trials: quick ? Math.min(trials, 3) : Math.min(trials, 10), mode: 'hand' }));
    await step('flowResilient', () => sc.flowStability({ mode: 'resilient' }));
    await step('flowMultipath', () => sc.flowStability({ mode: 'multipath' }));
    await step('flowHand', () => sc.flowStability({ mode: 'hand' }));
    await step('trace', () => sc.failoverTrace({ cap }));
    await step('storm4', () => sc.storm({ n: 4 }));
    if (!quick) {
      await step('tool16', () => sc.tool16());
      await step('storm16', () => sc.storm({ n: 16 }));
      await step('restore4', () => setupDials(4).then(() => 'ok')); // leave the lab router at 4 dials
    } else if (!only) {
      res.scenarios.storm16 = { skipped: 'BENCH_QUICK=1 (the lab ISP allows up to 64 sessions; the full run does N=16)' };
    }
  } finally {
    await lanDown().catch(() => {});
    if (!wasRunning && process.env.BENCH_KEEP !== '1') await lab.down();
  }
  res.durationS = Math.round((Date.now() - started.getTime()) / 1000);
  const day = started.toISOString().slice(0, 10);
  let file = join(root, 'bench', 'results', `${day}${quick ? '-quick' : ''}${only ? '-partial' : ''}.json`);
  fs.mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  const into = process.env.BENCH_MERGE_INTO;
  if (only && into) {
    // BENCH_ONLY=x BENCH_MERGE_INTO=<results.json>: re-run scenarios of a full run; the file says which and when
    file = join(root, into);
    const full = JSON.parse(fs.readFileSync(file, 'utf8'));
    // the replaced figures stay in the file, with when they were replaced
    const replaced = Object.fromEntries(Object.keys(res.scenarios).filter((k) => k in full.scenarios).map((k) => [k, full.scenarios[k]]));
    if (Object.keys(replaced).length) (full.superseded ??= []).push({ replacedOn: res.date, scenarios: replaced });
    for (const k of Object.keys(res.scenarios)) full.scenarios[k] = res.scenarios[k];
    full.errors = [...full.errors.filter((e) => !only.includes(e.scenario)), ...res.errors];
    (full.reruns ??= []).push({ scenarios: only, date: res.date, durationS: res.durationS, why: process.env.BENCH_RERUN_WHY ?? null });
    fs.writeFileSync(file, `${JSON.stringify(full, null, 2)}\n`);
    Object.assign(res, full);
  } else {
    fs.writeFileSync(file, `${JSON.stringify(res, null, 2)}\n`);
  }
  // a BENCH_ONLY subset is a development run: it leaves the published report alone (unless merged)
  const docs = !only || Boolean(into) || process.env.BENCH_DOCS === '1';
  if (docs && res.scenarios.trace) fs.writeFileSync(join(root, 'docs', 'benchmarks-failover.svg'), renderSvg(res.scenarios.trace));
  if (docs) fs.writeFileSync(join(root, 'docs', 'benchmarks.md'), renderReport(res, file.slice(root.length + 1)));
  console.log(table(res));
  console.log(`\nwrote ${file}${docs ? `, docs/benchmarks.md${res.scenarios.trace ? ', docs/benchmarks-failover.svg' : ''}` : ''} (${res.durationS} s)`);
  if (res.errors.length) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
