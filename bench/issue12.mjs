// Issue 12's figures on the lab router: E for --balance hash vs conn, flow stability when a dial
// drops, silent-dial detection with and without the dial monitor, and --dials auto against the
// ISP's session limit. Numbers are printed and written to bench/results/issue12-<date>.json,
// never asserted, and rendered to docs/benchmarks-issue12.md. Usage: npm run build && node bench/issue12.mjs
//   I12_ONLY=e,flows,silence,baseline,probe,boot   a subset (default: all, in that order)  I12_BOOT_TRIALS=3
//   I12_MERGE_INTO=bench/results/issue12-<date>.json [I12_RERUN_WHY=…]   re-run I12_ONLY steps into a full run
//   I12_RUNS=5 (iperf runs per point)  I12_TRIALS=20 (silence trials)  I12_BASELINE=5 (monitor-off trials,
//   each watched for I12_BASELINE_LIMIT=30 s)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { eventually, lab, lanUp, median, owrt, p95, pppBytes, root, router, setupDials, sleep, waitEcmp } from './lib.mjs';
import { flowStability } from './scenarios.mjs';
import { renderIssue12 } from './issue12-report.mjs';

const LABCTL = '/usr/lib/lab-vm/labctl';
const RUNS = Number(process.env.I12_RUNS ?? 5);
const TRIALS = Number(process.env.I12_TRIALS ?? 20);
const BASELINE = Number(process.env.I12_BASELINE ?? 5);
const log = (...a) => console.error('[issue12]', ...a);
const r3 = (x) => (x === null || x === undefined ? null : Math.round(x * 1000) / 1000);

/** F iperf3 flows from the LAN host; iperf3's `error` answers (server busy) are retried. */
async function iperf(flows, seconds = 8) {
  for (let attempt = 1; ; attempt++) {
    const before = await pppBytes();
    const r = await lab.lanRun(`iperf3 -c ${lab.IPERF_HOST} -p ${lab.IPERF_PORTS[0]} -P ${flows} -t ${seconds} -O 2 -J`, { timeoutMs: (seconds + 60) * 1000 });
    const after = await pppBytes();
    let j;
    try { j = JSON.parse(r.stdout); } catch { j = { error: `no JSON: ${r.stderr.slice(0, 200)}` }; }
    const bps = j.end?.sum_received?.bits_per_second;
    if (!j.error && typeof bps === 'number') {
      const mb = Object.fromEntries(Object.keys(after).map((d) => [d, r3((after[d].tx - (before[d]?.tx ?? after[d].tx)) / 1e6)]));
      return { mbit: bps / 1e6, mb };
    }
    if (attempt >= 4) throw new Error(`iperf3 failed ${attempt} times: ${j.error}`);
    log(`iperf3: ${j.error}; again in 3 s`);
    await sleep(3000);
  }
}

async function efficiency(cap) {
  const out = {};
  await setupDials(4, ['--balance', 'hash']);
  await lanUp();
  for (const mode of ['hash', 'conn']) {
    await setupDials(4, ['--balance', mode]);
    for (const f of [4, 16]) {
      const runs = [];
      for (let i = 0; i < RUNS; i++) {
        const x = await iperf(f);
        const e = x.mbit / (4 * cap);
        runs.push({ e: r3(e), mbit: r3(x.mbit), mb: x.mb });
        log(`E ${mode} F=${f} run ${i + 1}: ${e.toFixed(3)} (${x.mbit.toFixed(1)} Mbit/s; ${JSON.stringify(x.mb)})`);
      }
      const es = runs.map((r) => r.e);
      out[`${mode}F${f}`] = { mode, flows: f, mean: r3(es.reduce((a, b) => a + b, 0) / es.length), min: Math.min(...es), max: Math.max(...es), runs };
    }
  }
  return out;
}

/** Seconds from a fault (run on the router) until dev is absent from / present in the ECMP route, on the router's clock. */
async function timed(fault, dev, present, limitS) {
  const out = await router(lab.routeChangeScript(fault, dev, present, limitS), { timeoutMs: (limitS + 60) * 1000 });
  return out.trim() === 'never' ? null : Number(out);
}

async function silence(health, trials, limitS) {
  await setupDials(4, ['--balance', 'hash', '--health', health ? 'on' : 'off']);
  const out = [];
  const back = [];
  for (let i = 0; i < trials; i++) {
    out.push(await timed(`${LABCTL} silence vwan3 on`, 'pppoe-vwan3', false, limitS));
    back.push(out.at(-1) === null ? null : await timed(`${LABCTL} silence vwan3 off`, 'pppoe-vwan3', true, 30));
    if (out.at(-1) === null) await router(`${LABCTL} silence vwan3 off >/dev/null`);
    log(`silence (monitor ${health ? 'on' : 'off'}) trial ${i + 1}: out ${out.at(-1) ?? `not within ${limitS} s`}, back ${back.at(-1)}`);
    await waitEcmp(4, 60);
    await sleep(2000 + 317 * i); // vary the phase against the monitor's 1 s tick
  }
  const seen = out.filter((x) => x !== null);
  return { monitor: health, watcher: 'ip monitor', trials, limitS, out, back, detected: seen.length, medianOut: median(out), p95Out: seen.length === trials ? p95(out) : null, medianBack: median(back), p95Back: p95(back) };
}

/**
 * Boot: time from netifd's first interface event to every dial in the ECMP route, as netifd
 * dials them (all at once, the default) and one after another (dials 2..N with auto 0, each
 * ifup'ed by a hotplug script when the one before is up). Stamped by a hotplug script on the
 * router's clock; the bench scripts are removed afterwards.
 */
const BOOT_STAMP = `#!/bin/sh
read -r t _ </proc/uptime
echo "$t $ACTION $INTERFACE" >>/tmp/bench-boot-stamps
`;
const seqScript = (n) => `#!/bin/sh
[ "$ACTION" = ifup ] || exit 0
case "$INTERFACE" in
${Array.from({ length: n - 1 }, (_, i) => `${i === 0 ? 'wan' : `vwan${i + 1}`}) ifup vwan${i + 2} >/dev/null 2>&1 & ;;`).join('\n')}
esac
`;

async function bootTrial(n) {
  await lab.reboot();
  const dials = ['wan', ...Array.from({ length: n - 1 }, (_, i) => `vwan${i + 2}`)];
  // every dial's ifup event stamped (the route may hold them all before the last event runs:
  // a rebuild reads every dial that is up in ubus)
  let stamps = [];
  await eventually('an ifup event of every dial', async () => {
    stamps = (await router('cat /tmp/bench-boot-stamps 2>/dev/null; true')).split('\n').filter((l) => /^\d+(\.\d+)? \S+ \S+$/.test(l)).map((l) => l.split(' '));
    return dials.every((d) => stamps.some((x) => x[1] === 'ifup' && x[2] === d));
  }, 240, 1000);
  await waitEcmp(n, 60);
  const first = Math.min(...stamps.map((x) => Number(x[0])));
  const upAt = dials.map((d) => Math.min(...stamps.filter((x) => x[1] === 'ifup' && x[2] === d).map((x) => Number(x[0]))));
  const failed = stamps.filter((x) => x[1] === 'ifup-failed' || (x[1] === 'ifdown' && dials.includes(x[2]))).length;
  return { allUpS: r3(Math.max(...upAt) - first), firstDialUpS: r3(Math.min(...upAt) - first), sinceBootS: r3(Math.max(...upAt)), failedOrDownEvents: failed };
}

async function boot(n = 4, trials = Number(process.env.I12_BOOT_TRIALS ?? 3)) {
  await setupDials(n, ['--balance', 'hash', '--health', 'off']);
  await router(`cat > /etc/hotplug.d/iface/00-bench-boot <<'EOF'\n${BOOT_STAMP}EOF`);
  const out = { dials: n, trials, concurrent: [], sequential: [] };
  try {
    for (let i = 0; i < trials; i++) {
      out.concurrent.push(await bootTrial(n));
      log(`boot, dials at once, trial ${i + 1}: ${JSON.stringify(out.concurrent.at(-1))}`);
    }
    await router(`for i in $(seq 2 ${n}); do uci set network.vwan$i.auto=0; done; uci commit network
cat > /etc/hotplug.d/iface/01-bench-seq <<'EOF'\n${seqScript(n)}EOF`);
    for (let i = 0; i < trials; i++) {
      out.sequential.push(await bootTrial(n));
      log(`boot, one after another, trial ${i + 1}: ${JSON.stringify(out.sequential.at(-1))}`);
    }
  } finally {
    await router(`rm -f /etc/hotplug.d/iface/00-bench-boot /etc/hotplug.d/iface/01-bench-seq /tmp/bench-boot-stamps
for i in $(seq 2 ${n}); do uci -q delete network.vwan$i.auto; done; uci commit network`);
  }
  for (const k of ['concurrent', 'sequential']) out[`${k}MedianS`] = median(out[k].map((x) => x.allUpS));
  return out;
}

async function probe() {
  // from one dial: sessions set up before the limit stay (the ISP only refuses new ones)
  await setupDials(1, ['--balance', 'hash', '--health', 'off']);
  await router(`${LABCTL} isp-limit 3 >/dev/null`);
  try {
    const p = await owrt(['probe-dials', '--json', '--max', '6']);
    const report = JSON.parse(p.stdout);
    const s = await owrt(['setup', '--dials', 'auto:6', '--yes']);
    const leftovers = (await router("ls /sys/class/net | grep -E '^ecmp[tp]'; true")).trim();
    const attempts = async () => Number((await router("grep -c 'session [0-9]* for' /run/isp/pppoe-server.log || true")).trim());
    const a0 = await attempts();
    await sleep(20_000);
    const a1 = await attempts();
    return {
      probe: { found: report.found, stoppedBy: report.stoppedBy, leftovers: report.leftovers, trials: report.trials, wallS: r3(p.ms / 1000) },
      setupAuto: { code: s.code, wallS: r3(s.ms / 1000), said: (/the ISP allows \d+ session\(s\)[^\n]*/.exec(s.stdout) ?? [''])[0], dials: (await router('uci get owrt_ecmp.main.dials')).trim(), trialDevicesLeft: leftovers, ispAttemptsIn20sAfter: a1 - a0 },
    };
  } finally {
    await router(`${LABCTL} isp-limit off >/dev/null`);
  }
}

/** A session left in the walled garden (an earlier fault) carries nothing to the internet: every figure would be wrong. */
async function checkNoWalledGarden() {
  const walled = (await lab.ispSessions()).filter((x) => x.ip.startsWith('172.30.'));
  if (walled.length) throw new Error(`ISP sessions in the walled garden (${walled.map((x) => x.ip).join(' ')}): labctl walled-garden off, then isp-hangup all`);
}

async function main() {
  const t0 = Date.now();
  await lab.ensureUp();
  await checkNoWalledGarden();
  const cap = lab.info().rateMbit;
  if (typeof cap !== 'number') throw new Error('the lab must shape sessions (LAB_RATE numeric) to measure efficiency');
  const only = process.env.I12_ONLY ? process.env.I12_ONLY.split(',') : ['e', 'flows', 'silence', 'baseline', 'probe', 'boot'];
  const git = (() => { try { return execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { return null; } })();
  // the host's load while the VM measured: its two cores are the emulated router's CPU
  const res = { date: new Date().toISOString(), capMbitPerSession: cap, accel: lab.info().accel, git, hostLoad: { start: os.loadavg() }, results: {}, errors: [] };
  const steps = {
    e: () => efficiency(cap),
    // hash mode's flow stability is bench/run.mjs's flowStability (docs/benchmarks.md); I12_FLOWS_HASH=1 repeats it here
    flows: async () => ({
      conn: await flowStability({ mode: 'auto', balance: 'conn' }),
      ...(process.env.I12_FLOWS_HASH === '1' ? { hash: await flowStability({ mode: 'auto', balance: 'hash' }) } : {}),
    }),
    silence: () => silence(true, TRIALS, 15),
    baseline: () => silence(false, BASELINE, Number(process.env.I12_BASELINE_LIMIT ?? 30)),
    probe,
    boot: () => boot(),
  };
  for (const name of only) {
    const ts = Date.now();
    try {
      res.results[name] = await steps[name]();
    } catch (e) {
      log(`${name} failed: ${e.message}`);
      res.errors.push({ step: name, error: String(e.message).slice(0, 2000) });
    }
    log(`${name}: ${Math.round((Date.now() - ts) / 1000)} s`);
  }
  res.durationS = Math.round((Date.now() - t0) / 1000);
  res.hostLoad.end = os.loadavg();
  let file = join(root, 'bench', 'results', `issue12-${res.date.slice(0, 10)}.json`);
  const into = process.env.I12_MERGE_INTO;
  if (into) {
    // I12_ONLY=x I12_MERGE_INTO=<results.json> [I12_RERUN_WHY=…]: steps re-run into a full run's
    // results; the replaced figures stay under `superseded`
    file = join(root, into);
    const full = JSON.parse(fs.readFileSync(file, 'utf8'));
    for (const k of Object.keys(res.results)) {
      if (k in full.results) (full.superseded ??= []).push({ step: k, replacedOn: res.date, why: process.env.I12_RERUN_WHY ?? null, result: full.results[k] });
      full.results[k] = res.results[k];
    }
    full.errors = [...full.errors.filter((e) => !only.includes(e.step)), ...res.errors];
    (full.reruns ??= []).push({ steps: only, date: res.date, git, durationS: res.durationS, hostLoad: res.hostLoad, why: process.env.I12_RERUN_WHY ?? null });
    Object.assign(res, full);
  }
  fs.writeFileSync(file, `${JSON.stringify(res, null, 1)}\n`);
  // a subset run (I12_ONLY) is development: it leaves the published report alone
  if (!process.env.I12_ONLY || into || process.env.I12_DOCS === '1') fs.writeFileSync(join(root, 'docs', 'benchmarks-issue12.md'), renderIssue12(res, file.slice(root.length + 1)));
  const brief = JSON.parse(JSON.stringify(res.results, (k, v) => (['runs', 'survivorsMbitByTimeAfterHangup', 'disrupted', 'trials'].includes(k) ? undefined : v)));
  console.log(JSON.stringify(brief, null, 1));
  console.log(`wrote ${file} (${res.durationS} s)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
