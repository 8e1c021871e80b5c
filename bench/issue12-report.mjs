// docs/benchmarks-issue12.md from a bench/results/issue12-<date>.json (bench/issue12.mjs writes both;
// `node bench/issue12-report.mjs <file>` re-renders). Figures only; targets are the issue's.
const f2 = (x) => (x === null || x === undefined || Number.isNaN(x) ? '–' : Number(x).toFixed(2));
const f3 = (x) => (x === null || x === undefined || Number.isNaN(x) ? '–' : Number(x).toFixed(3));
const met = (ok) => (ok ? 'met' : 'missed');

function efficiencyRows(e) {
  const rows = [];
  for (const key of ['hashF4', 'connF4', 'hashF16', 'connF16']) {
    const x = e?.[key];
    if (!x) continue;
    const target = x.mode === 'conn' && x.flows === 4 ? `E ≥ 0.9: ${met(x.min >= 0.9)} (min)` : x.mode === 'hash' && x.flows === 4 ? 'about 0.7 expected' : '';
    rows.push(`| ${x.mode} | ${x.flows} | ${x.runs.length} | ${f3(x.mean)} | ${f3(x.min)} | ${f3(x.max)} | ${target} |`);
  }
  return rows;
}

function silenceLine(name, s) {
  if (!s) return `* ${name}: not measured.`;
  const outs = s.out.map((x) => (x === null ? `> ${s.limitS}` : f2(x))).join(', ');
  // runs before 2026-12-04T05 polled the route every 0.1 s on the router, which loaded the TCG CPU
  const watch = s.watcher ?? 'route polled every 0.1 s';
  return `* ${name} (${s.trials} trials, watched ${s.limitS} s each, ${watch}): out of the ECMP set in ${s.detected} of ${s.trials}; ` +
    `median ${f2(s.medianOut)} s, p95 ${s.p95Out === null ? `> ${s.limitS}` : `${f2(s.p95Out)}`} s; back in median ${f2(s.medianBack)} s, ` +
    `p95 ${f2(s.p95Back)} s after traffic passed again. Each trial (s): ${outs}.`;
}

function flowsLine(fl) {
  if (!fl) return '* Flow stability: not measured.';
  return Object.entries(fl).map(([mode, r]) =>
    `* Flow stability, \`--balance ${mode}\`: ${r.flows} long-lived flows over 4 dials, vwan3 hung up and refused; ` +
    `${r.onDroppedDial} were on it; of the ${r.survivors} others ${r.changedDial} changed dial and ${r.broke} broke ` +
    `(stalls ≥ ${r.stallThresholdS} s: ${r.stalledBefore} in the ${r.stallWindowS} s before the hangup, ${r.stalledAfter} after).`).join('\n');
}

function probeLines(p) {
  if (!p) return ['* `--dials auto`: not measured.'];
  const t = p.probe.trials.map((x) => `session ${x.session} ${x.result}${x.seconds ? ` in ${f2(x.seconds)} s` : ''}${x.detail ? ` (${x.detail})` : ''}`).join('; ');
  return [
    `* \`probe-dials --max 6\` with the ISP limited to 3 sessions: found ${p.probe.found}, stopped by ${p.probe.stoppedBy}; ${t}; ` +
      `leftovers: ${p.probe.leftovers.length ? p.probe.leftovers.join(' ') : 'none'}; ${f2(p.probe.wallS)} s in all.`,
    `* \`setup --dials auto:6\` on the same ISP: exit ${p.setupAuto.code}, ${p.setupAuto.dials} dial(s) stored ("${p.setupAuto.said}"), ` +
      `trial devices left: ${p.setupAuto.trialDevicesLeft || 'none'}, session attempts at the ISP in the 20 s after: ${p.setupAuto.ispAttemptsIn20sAfter}; ${f2(p.setupAuto.wallS)} s.`,
  ];
}

/** Figures a later re-run replaced (I12_MERGE_INTO), each with the reason given for it. */
function supersededLines(res, step, name) {
  return (res.superseded ?? []).filter((x) => x.step === step)
    .map((x) => `\n${silenceLine(`${name} (replaced ${x.replacedOn.slice(0, 16)}${x.why ? `: ${x.why}` : ''})`, x.result)}`).join('');
}

function rerunLines(res) {
  return (res.reruns ?? []).map((x) => `\n\nRe-run afterwards and merged: ${x.steps.join(', ')} on ${x.date} (git ${x.git}, ${x.durationS} s${x.hostLoad?.start ? `, host load ${x.hostLoad.start.map((v) => v.toFixed(2)).join(' / ')} at its start` : ''})${x.why ? `: ${x.why}` : ''}.`).join('');
}

/** The VM is the emulated router's CPU: the host's load says whether it had the 2 cores to itself. */
function hostLoadLine(h) {
  if (!h?.start) return 'The machine\'s 2 cores were shared with other lab VMs during this run.';
  const la = (x) => x.map((v) => v.toFixed(2)).join(' / ');
  return `Host load average (1 / 5 / 15 min) on 2 cores: ${la(h.start)} at the start, ${h.end ? la(h.end) : '–'} at the end (the VM alone makes about 2).`;
}

function bootLines(b) {
  if (!b) return ['* Boot: not measured.'];
  const each = (xs) => xs.map((x) => f2(x.allUpS)).join(', ');
  const fails = (xs) => xs.reduce((a, x) => a + x.failedOrDownEvents, 0);
  return [
    `* ${b.dials} dials, ${b.trials} reboots each; seconds from netifd's first interface event to the last dial up (its \`ifup\` hotplug event), stamped on the router.`,
    `* All at once (netifd's default, what setup configures): median ${f2(b.concurrentMedianS)} s (${each(b.concurrent)}); failed or dropped dial events: ${fails(b.concurrent)}.`,
    `* One after another (dials 2..N \`auto 0\`, each brought up by a hotplug script once the one before is up): median ${f2(b.sequentialMedianS)} s (${each(b.sequential)}); failed or dropped dial events: ${fails(b.sequential)}.`,
  ];
}

export function renderIssue12(res, file) {
  const r = res.results;
  const e = efficiencyRows(r.e);
  return `# Benchmarks: balance modes, dial monitor, --dials auto (issue 12)

Generated by \`node bench/issue12.mjs\` on ${res.date}; raw results: \`${file}\`. Lab: the QEMU router of
\`test/lab\` under ${res.accel ?? 'TCG'}, every ISP session shaped to ${res.capMbitPerSession} Mbit/s per direction, flows from the
lab's LAN host through the lab's fw4 (masquerade, conntrack). ${hostLoadLine(res.hostLoad)} Throughput is bounded
by the emulated CPU and timings are pessimistic against a real router.
Method of the flow-stability run: [benchmarks.md](benchmarks.md) (Method, flow stability).${rerunLines(res)}${res.errors?.length ? `\n\nSteps that failed: ${res.errors.map((x) => `${x.step}: ${x.error.split('\n')[0]}`).join('; ')}.` : ''}

## Efficiency: --balance hash vs conn

E = received Mbit/s / (F × ${res.capMbitPerSession} Mbit/s) for F = 4 (= N) flows, and received / (4 dials × cap) for F = 16;
iperf3 upload from the LAN host, 8 s after 2 s omitted, one setup per mode.

| balance | F | runs | E mean | min | max | target |
|---|---|---|---|---|---|---|
${e.join('\n') || '| – | – | – | – | – | – | not measured |'}

## A dial that falls silent

The lab's \`silence\` fault: the ISP stops passing IP on one session (vwan3) without a hangup, and LCP is still
answered. Timed on the router's clock from just before the fault command to the dial leaving the ECMP route in
table 3000. How the route was watched is given per run: polling it every 0.1 s (a pipeline of four processes ten times
a second) took most of a CPU of the TCG router and delayed what it measured: 4.95 s against 3.7 s median with
\`ip monitor\` (6 trials each, same code, 2026-12-04; bench/results/issue12-2026-12-04-watcher.txt). Runs since
watch with \`ip monitor\` (lab.routeChangeScript).

${silenceLine('Dial monitor on (`--health on`)', r.silence)}${r.silence ? ` Target: median ≤ 3 s, ${met(r.silence.detected === r.silence.trials && r.silence.medianOut <= 3)}.` : ''}${supersededLines(res, 'silence', 'Dial monitor on, before the re-run')}
${silenceLine('Monitor off: pppd\'s LCP keepalive as setup configures it', r.baseline)}
* mwan3 (computed, not measured): its tracker marks an interface down after \`down\` failed rounds; with the
  code's defaults (\`interval 10\`, \`down 5\`, \`timeout 4\`, one track IP) ≈ 5 × 4 s + 4 × 10 s ≈ 60 s, with the
  sample configuration it ships (\`interval 5\`, \`down 3\`, \`timeout 2\`) ≈ 34 s.
* pppd alone never notices this fault (LCP is answered); a dead line (no LCP) is ended after
  \`lcp-echo-failure\` × \`lcp-echo-interval\` (OpenWrt's \`keepalive '5 1'\`: about 5–10 s).

## Flow stability

${flowsLine(r.flows)}

## Finding the ISP's session limit

${probeLines(r.probe).join('\n')}

## Dials up at boot: all at once or one after another

${bootLines(r.boot).join('\n')}
`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const fs = await import('node:fs');
  const { join, relative, resolve } = await import('node:path');
  const { root } = await import('./lib.mjs');
  const file = resolve(process.argv[2] ?? '');
  fs.writeFileSync(join(root, 'docs', 'benchmarks-issue12.md'), renderIssue12(JSON.parse(fs.readFileSync(file, 'utf8')), relative(root, file)));
}
