// Renders the bench results: a plain-text table, docs/benchmarks.md and the SVG chart.
import fs from 'node:fs';
const f = (x, d = 2) => (x === null || x === undefined ? '–' : Number(x).toFixed(d));
const ms = (s) => (s === null || s === undefined ? '–' : `${Math.round(s * 1000)} ms`);
const gap = (ok, text) => (ok === null ? 'n/a' : ok ? 'met' : `**missed** (${text})`);

const shareText = (r) => (r.minPctOfFair === undefined ? '–'
  : `dial share min ${r.minPctOfFair}% / max ${r.maxPctOfFair}% of fair${r.idleDials ? `, ${r.idleDials} dial(s) idle` : ''}`);
const mp = (x) => (x ? `${ms(x[0])} / ${ms(x[1])}` : '–');

/** Rows: [scenario, measurement, value, target, verdict]. */
export function rows(res) {
  const s = res.scenarios;
  const out = [];
  for (const r of s.aggregation ?? []) {
    const target = r.dials === 4 && r.flows === 16 ? 0.95 : r.dials === 8 && r.flows === 32 ? 0.93 : null;
    out.push(['aggregation', `N=${r.dials} F=${r.flows}: E (Mbit/s; ${r.routerCpuBusyPct ?? '?'}% router CPU)`, `${f(r.efficiency, 3)} (${f(r.mbit, 1)}; ${shareText(r)})`,
      target ? `E ≥ ${target}` : '', target ? gap(r.efficiency >= target, `gap ${f(target - r.efficiency, 3)}`) : '']);
  }
  if (s.hashL3) {
    out.push(['baseline', 'hash policy 0 (l3), N=4 F=16: E', `${f(s.hashL3.l3.efficiency, 3)} (${f(s.hashL3.l3.mbit, 1)}; ${shareText(s.hashL3.l3)})`, '', '']);
    out.push(['baseline', 'router-local iperf3 (not forwarded), N=4 F=16: E', `${f(s.hashL3.routerLocal.efficiency, 3)} (${f(s.hashL3.routerLocal.mbit, 1)}; ${shareText(s.hashL3.routerLocal)})`, '', '']);
  }
  for (const k of ['failoverResilient', 'failoverMultipath', 'failoverHand']) {
    const x = s[k];
    if (!x) continue;
    const label = x.mode === 'hand' ? 'hand-made' : x.mode;
    const own = x.mode === 'hand' ? '`96-bench-hand`' : '`95-owrt-ecmp`';
    out.push(['failover', `${label}: hangup → out of ECMP, median / p95 (${x.trials} trials${x.timedOut ? `; ${x.timedOut} dial(s) not back within 240 s` : ''})`, mp(x.out), '≤ 1 s median',
      gap(x.out?.[0] === null ? null : x.out[0] <= 1, ms(x.out[0]))]);
    out.push(['failover', `${label}: dial back (address) → re-included, median / p95`, mp(x.inclusion), '', '']);
    out.push(['failover', `${label}: netifd's ifup event → route holds the dial, median / p95`, mp(x.netifdToRoute), '≤ 100 ms',
      gap(x.netifdToRoute?.[0] === null ? null : x.netifdToRoute[0] <= 0.1, `median ${ms(x.netifdToRoute[0])}`)]);
    out.push(['failover', `${label}: … of which waiting in netifd's hotplug queue / earlier hotplug scripts (20-firewall), median`,
      `${ms(x.queueWait?.[0])} / ${ms(x.earlierScripts?.[0])}`, '', '']);
    out.push(['failover', `${label}: … of which ${own} starts → route holds the dial, median / p95 (its whole run: ${ms(x.ownScriptWall?.[0])} wall, ${ms(x.ownScriptCpu?.[0])} CPU)`,
      mp(x.ownToRoute), '', '']);
    out.push(['failover', `${label}: longest window without any default route / without the ECMP route (sampled every ~${f(x.sampleIntervalMs, 0)} ms)`,
      `${ms(x.longestNoDefaultS)} / ${ms(x.longestNoEcmpWhileUpS)}`, '', '']);
  }
  for (const k of ['flowResilient', 'flowMultipath', 'flowHand']) {
    const x = s[k];
    if (!x) continue;
    const label = x.mode === 'hand' ? 'hand-made' : x.mode;
    out.push(['flow stability', `${label}: of ${x.survivors} flows not on the dropped dial (${x.onDroppedDial} were): changed dial / broke`, `${x.changedDial} / ${x.broke}`,
      x.mode === 'resilient' ? '0' : '', x.mode === 'resilient' ? gap(x.changedDial + x.broke === 0, `${x.changedDial + x.broke} disrupted`) : '']);
    out.push(['flow stability', `${label}: survivors stalled ≥ ${x.stallThresholdS} s in the ${f(x.stallWindowS, 0)} s before / after the hangup`, `${x.stalledBefore} / ${x.stalledAfter}`, '', '']);
  }
  for (const k of ['storm4', 'storm16']) {
    const x = s[k];
    if (!x) continue;
    if (x.skipped) { out.push(['storm', 'N=16', 'not run', '', x.skipped]); continue; }
    for (const r of x) {
      const ok = r.convergeAfterLastEventS !== null && r.convergeAfterLastEventS <= 2;
      out.push(['storm', `N=${r.dials} ${r.kind}: correct after netifd's last event (after the fault); rebuilds (${r.events} events)`,
        `${ms(r.convergeAfterLastEventS)} (${ms(r.convergeAfterFaultS)}); ${r.rebuilds}`,
        `≤ 2 s; ≤ ${r.dials + 1}`, gap(ok && r.rebuilds <= r.dials + 1, `${ok ? 'time met' : `${ms(r.convergeAfterLastEventS)} > 2 s`}; rebuilds ${r.rebuilds <= r.dials + 1 ? 'met' : `${r.rebuilds} > ${r.dials + 1}`}`)]);
      out.push(['storm', `N=${r.dials} ${r.kind}: hotplug CPU, all scripts / owrt-ecmp's (wall, all scripts)`,
        `${f(r.hotplugCpuS)} s / ${f(r.ownCpuS)} s (${f(r.hotplugWallS, 1)} s)`, '', '']);
    }
  }
  for (const r of [...(s.tool ?? []), ...(s.tool16 ?? [])]) {
    const t = /^status/.test(r.what) ? 1 : /^setup --dials 4/.test(r.what) ? 4 : null;
    out.push(['tool', r.what, `${f(r.wallS)} s, ${r.roundTrips ?? '?'} round trip(s)`, t ? `≤ ${t} round trip(s)` : '',
      t ? gap(r.roundTrips !== null && r.roundTrips <= t, `${r.roundTrips}`) : '']);
  }
  for (const [k, v] of Object.entries(s.routerCosts ?? {})) out.push(['router', `one \`${k}\` (median of 5)`, `${v} ms`, '', '']);
  for (const e of res.errors ?? []) out.push([e.scenario, 'FAILED', e.error.split('\n')[0].slice(0, 120), '', '']);
  return out;
}

export function table(res) {
  const rs = [['scenario', 'measurement', 'value', 'target', ''], ...rows(res)];
  const w = rs[0].map((_, i) => Math.max(...rs.map((r) => String(r[i]).length)));
  return rs.map((r) => r.map((c, i) => String(c).padEnd(w[i])).join('  ').trimEnd()).join('\n');
}

/** Issue 12's figures live in their own report (bench/issue12.mjs) once it has run. */
function issue12Link() {
  return fs.existsSync(new URL('../docs/benchmarks-issue12.md', import.meta.url))
    ? ' Balance modes, the dial monitor and `--dials auto` (issue 12): [benchmarks-issue12.md](benchmarks-issue12.md).'
    : '';
}

export function renderReport(res, file) {
  const m = res.machine;
  const v = res.versions;
  const s = res.scenarios;
  const md = rows(res).map((r) => `| ${r.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`).join('\n');
  const trials = ['failoverResilient', 'failoverMultipath', 'failoverHand'].filter((k) => s[k]).map((k) => `${s[k].mode} ${s[k].trials}`).join(', ');
  const tr = s.trace;
  return `# Benchmarks

Generated by \`npm run bench\`${res.quick ? ' with `BENCH_QUICK=1` (fewer dials, flows and trials)' : ''} on ${res.date}; raw results: \`${file}\`.
Numbers are measured, not asserted; a missed target is shown with its gap. Re-render from a results file with
\`node bench/render.mjs ${file}\`.${issue12Link()}

## Method

* **Lab**: the QEMU router of \`test/lab\` (one guest kernel: the router, and a real PPPoE ISP in a netns),
  every session shaped to ${res.capMbitPerSession} Mbit/s per direction by the ISP. The VM runs under TCG (software
  emulation, 2 vCPUs) on the machine below, which it shares with other work: every packet and every process start
  is emulated, so absolute times are far slower than on a router. The router is set up with the real CLI
  (\`node dist/cli.js setup …\`) over SSH, as a user would.
* **Traffic** comes from the lab's LAN host: netns \`lan\` behind the router's \`br-lan\`, masqueraded out of the
  wan zone by the lab's fw4 (a real nftables ruleset built from \`/etc/config/firewall\`), so flows are
  *forwarded* and hashed per flow. Because that host shares the router's kernel, its packets arrive carrying their
  socket's flow hash, which IPv4 multipath hash policy 1 uses as is, and Linux re-draws that hash after every
  retransmission timeout (\`net.core.txrehash\`): flows would hop between dials with no route change at all, and
  masquerade drops a flow whose output device changed (\`nf_nat\`: "oif changed", the server then resets it).
  A real LAN host's packets carry no such hash (the router hashes addresses and ports, which never change), so the
  LAN netns runs with \`txrehash=0\`: one fixed hash per flow.
* **Aggregation**: iperf3 (\`-J\`, upload, \`-O 2\`, 15 s) in that netns to the ISP's iperf3 servers.
  Efficiency E = received / (N × per-session cap). Dial share = each dial's \`tx_bytes\` delta against a fair share
  (total / N): min and max in %; a dial with < 2 % of a fair share is "idle" (with F = N flows hashed at random,
  collisions leave dials idle: E at F = N measures the hash, not the tool). "Router CPU" = the VM's busy time
  (/proc/stat) during the run: near 100 % means the emulated CPU, not the dials, was the limit. After each setup the
  run waits until the resilient group has spread its 128 buckets evenly over the dials: a dial added to a resilient
  group only receives buckets that have been idle for the group's idle timer (120 s), and with no unbalanced timer
  (owrt-ecmp sets none) busy buckets never move, so right after dials are added (or one returns) the new ones carry
  less than their share; the JSON records how long that took (\`bucketsBalancedAfterS\`).
  Baselines: hash policy 0 hashes only addresses, and one LAN host talking to one server is one address pair, so every
  flow takes the same dial. The router-local row runs iperf3 on the router itself: a local socket gets its source
  address from the route lookup in \`connect()\`, made before its source port is chosen, so all 16 flows to one server
  port hash alike and pick the same dial's address, and the per-dial \`from <address>\` rules keep them there.
* **Timing** is taken on the router: \`bench/sampler.py\` dumps IPv4 default routes, nexthop objects and addresses over
  rtnetlink every 10 ms (the real interval under TCG is printed with each result) and logs each change with
  CLOCK_BOOTTIME; fault injection stamps \`/proc/uptime\` (10 ms). *Out* = ISP hangup → the dial's device is no
  longer in the ECMP route (table 3000). *Re-included* = the dial has its address again → it is in the ECMP route.
  *netifd's ifup event*: netifd installs its own per-dial default route and then queues the \`ifup\` hotplug event
  (netifd-sim \`mark_up\`), so the sampler sees the event's moment as that route appearing. The time from there to
  the ECMP route holding the dial splits into: waiting in netifd's hotplug queue (it runs one event at a time, e.g.
  the previous \`ifdown\`/\`ifup-failed\`) until hotplug-call starts (stamped by \`hotplug.d/iface/00-bench-stamp\`);
  the scripts before owrt-ecmp's (\`20-firewall\`, which reloads the lab's Python fw4 stand-in), up to
  \`94-bench-stamp\`; and owrt-ecmp's own \`95-owrt-ecmp\`, from its start to the route (for the hand-made baseline:
  its \`96-bench-hand\`); a negative value there means the route already held the dial when that script started: a
  run for an earlier queued event (\`ifdown\`, \`ifup-failed\`) had read the new state. \`99-bench-stamp\` closes each event; CPU times are hotplug-call's, from \`/proc/$$/stat\`
  (its own plus its finished scripts' and their children's). The stamp scripts exist only during the bench.
  owrt-ecmp's library runs \`lock\`, \`ubus call network.interface dump\`, \`jsonfilter\` and \`lock -u\` once per event:
  C programs of a few ms on OpenWrt; in the lab \`ubus\` and \`jsonfilter\` are Python stand-ins (so was \`lock\` before
  git 2a30f6e; the "router" rows give their cost here), so most of its time in the lab is theirs. Failover trials: ${trials || '–'} (each hangs up the next dial in turn; the
  baselines run fewer, as the issue allows).
* **Flow stability**: 64 long-lived TCP flows over 4 dials (\`bench/flows.py\` from the LAN host to a sink in the ISP
  netns; not iperf3, whose single control connection may itself sit on the dropped dial and abort every stream),
  driven on the router by \`bench/flow-trial.sh\`: ~16 s after they start the ISP hangs up \`vwan3\` and refuses its
  return (\`isp-limit 3\`); they run ~22 s more. An nft set counts data segments per (LAN source port, output device):
  a flow whose data left by the dropped dial was on it; a flow seen on two devices changed dial. Every 0.5 s each
  flow's bytes *acknowledged by the sink* are read (bytes sent − \`SIOCOUTQ\`): a flow broke if its socket errored or
  nothing was acknowledged in its last 5 s. Stalls (≥ 2 s without acknowledged progress) are counted in two windows
  of equal length just before and just after the hangup: 64 flows in shaped sessions on a busy VM stall now and then
  anyway, so only the difference is the hangup's. Under masquerade a flow that changes dial is dropped by the kernel
  and reset by the server, so *changed dial* and *broke* go together.
* **Hand-made baseline**: the ECMP route installed once by hand as a plain multipath route, rebuilt by a hotplug script
  only on \`ifup\` (owrt-ecmp's hotplug script moved aside meanwhile); it sits in table 3000 behind owrt-ecmp's rules,
  where the sampler reads the ECMP route, so only when it is rebuilt differs. *Multipath* = owrt-ecmp with
  \`--route-mode multipath\` (a plain multipath route instead of nexthop objects). The kernel deletes a whole plain
  multipath route when one of its devices is unregistered (a ppp device goes away when pppd exits): until the next
  rebuild, traffic falls back to netifd's per-dial route of the lowest metric (the "without the ECMP route" window).
* **Storm**: all dials flap together (the ISP hangs up all) / \`ifdown\` of every dial, 1 s, then \`ifup\` of every
  dial. *Last event* = netifd's last up or down of a dial after the fault (its per-dial routes change right before it
  queues the event); *correct* = the ECMP route holds all N dials for good. The time between them is clamped at 0
  (a rebuild run for an earlier event may read the final state before netifd queues the last event; the raw value is
  in the JSON). *Rebuilds* = owrt-ecmp's \`rebuilt\` log lines, followed with \`logread -f\` (the ring buffer is too
  small to count afterwards). *Hotplug CPU* = CPU time of every hotplug-call run for the dials until the queue
  drained, and of \`95-owrt-ecmp\` alone.
* **Tool**: wall time and SSH round trips (the CLI's \`--verbose\` count) of the real CLI over SSH to the VM;
  setup runs with \`--wait 0\`, so its time excludes the wait for the dials to come up.

## Machine and versions

${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, ${m.host}, QEMU accelerator ${m.accel}. Node ${v.node}, owrt-ecmp ${v.owrtEcmp}
(git ${v.git ?? '?'}), router kernel ${v.routerKernel}, ${v.iperf3}. Run took ${res.durationS} s.
${(res.reruns ?? []).map((r) => `Re-run afterwards and merged (\`BENCH_MERGE_INTO\`): ${r.scenarios.join(', ')} on ${r.date} (${r.durationS} s)${r.why ? `: ${r.why}` : ''}.`).join('\n')}
${res.supersededRuns ? `The replaced results are kept in the JSON under \`supersededRuns\`${res.supersededRuns.note ? ` (${res.supersededRuns.note})` : ''}.` : ''}${res.superseded ? `The replaced results are kept in the JSON under \`superseded\` (${res.superseded.map((x) => Object.keys(x.scenarios).join(', ')).join('; ')}).` : ''}

## Results

| scenario | measurement | value | target | |
|---|---|---|---|---|
${md}

## Per-dial throughput across one failover

![per-dial throughput over time; the ISP hangs up one dial](benchmarks-failover.svg)

${tr ? `${tr.flows ? tr.flows.flows : 16} TCP flows (\`bench/flows.py\`) from the LAN host over 4 dials (resilient group), each dial's \`tx_bytes\` sampled every
0.5 s; at the dashed line the ISP hangs up \`${tr.dropped}\`, which redials.${tr.flows ? ` The ${tr.flows.onDroppedDial} flow(s) on it are lost with it (masquerade
forgets them with the device; the server resets them when their packets come back from another address): the
${tr.flows.survivors} others ${tr.flows.changedDial || tr.flows.broke ? `did not all stay: ${tr.flows.changedDial} changed dial, ${tr.flows.broke} broke` : 'stayed on their dials and kept going'}.
The returning dial carries traffic only once new flows hash to it: a resilient group hands it buckets only when they
have been idle for its idle timer (120 s).` : ''}` : 'Not run.'}
`;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

export function renderSvg(trace) {
  const W = 720;
  const H = 320;
  const L = 50;
  const R = 130;
  const T = 20;
  const B = 40;
  const series = Object.entries(trace.series);
  const tMax = Math.max(1, ...series.flatMap(([, p]) => p.map(([t]) => t)));
  const yMax = Math.max(trace.capMbit * 1.25, ...series.flatMap(([, p]) => p.map(([, v]) => v)));
  const x = (t) => L + (t / tMax) * (W - L - R);
  const y = (v) => H - B - (v / yMax) * (H - T - B);
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`];
  for (let v = 0; v <= yMax; v += 5) {
    parts.push(`<line x1="${L}" y1="${y(v).toFixed(1)}" x2="${W - R}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${L - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v}</text>`);
  }
  const step = tMax > 30 ? 10 : 5;
  for (let t = 0; t <= tMax; t += step) parts.push(`<text x="${x(t).toFixed(1)}" y="${H - B + 16}" text-anchor="middle">${t}</text>`);
  parts.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/>`, `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">time (s)</text>`,
    `<text x="14" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(T + H - B) / 2})">Mbit/s (tx per dial)</text>`,
    `<line x1="${L}" y1="${y(trace.capMbit).toFixed(1)}" x2="${W - R}" y2="${y(trace.capMbit).toFixed(1)}" stroke="#999" stroke-dasharray="2 3"/>`,
    `<text x="${W - R + 4}" y="${(y(trace.capMbit) + 4).toFixed(1)}" fill="#666">cap</text>`);
  if (trace.hangupAtS !== null) {
    parts.push(`<line x1="${x(trace.hangupAtS).toFixed(1)}" y1="${T}" x2="${x(trace.hangupAtS).toFixed(1)}" y2="${H - B}" stroke="#000" stroke-dasharray="5 4"/>`,
      `<text x="${(x(trace.hangupAtS) + 4).toFixed(1)}" y="${T + 10}">ISP hangs up ${esc(trace.dropped)}</text>`);
  }
  series.forEach(([dev, pts], i) => {
    const c = COLORS[i % COLORS.length];
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="1.6" points="${pts.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`,
      `<rect x="${W - R + 10}" y="${T + 30 + i * 18}" width="12" height="3" fill="${c}"/>`,
      `<text x="${W - R + 28}" y="${T + 35 + i * 18}">${esc(dev)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
