// The benchmark scenarios (bench/run.mjs runs them in order and renders the report).
import {
  devsFor, ecmpDevs, eventRuns, eventually, firstAfter, ifaceOf, installEventLog, lab, lanUp, longestWindow, median, owrt,
  p95, pppBytes, readEvents, removeEventLog, startLogFollow, router, sameSet, sampleInterval, setupDials, sleep,
  stamped, startSampler, stateAt, upload, waitEcmp,
} from './lib.mjs';

const LABCTL = '/usr/lib/lab-vm/labctl';
const log = (...a) => console.error('[bench]', ...a);
const r3 = (x) => (x === null || x === undefined ? null : Math.round(x * 1000) / 1000);

/** Router CPU jiffies [busy, total] from /proc/stat (all CPUs). */
async function cpuStat() {
  const f = (await router('head -1 /proc/stat')).trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((x, y) => x + y, 0);
  return [total - f[3] - (f[4] ?? 0), total];
}

/**
 * Each dial's share of the bytes relative to a fair share (1/N): min and max in %, and how many
 * dials carried (almost) nothing — with F = N flows hashed at random, collisions leave dials idle.
 */
export function shares(deltas, devs) {
  const vals = devs.map((d) => deltas[d] ?? 0);
  const total = vals.reduce((a, b) => a + b, 0);
  if (!total) return { minPctOfFair: null, maxPctOfFair: null, idleDials: devs.length };
  const fair = total / devs.length;
  return {
    minPctOfFair: Math.round((Math.min(...vals) / fair) * 100),
    maxPctOfFair: Math.round((Math.max(...vals) / fair) * 100),
    idleDials: vals.filter((v) => v < fair * 0.02).length,
  };
}

/** iperf3 from the LAN netns: F flows, T seconds, upload; resolves Mbit/s received, per-dial shares, router CPU. */
async function iperf(n, flows, seconds, port = 5201, netns = 'ip netns exec lan ') {
  const before = await pppBytes();
  const c0 = await cpuStat();
  const r = await lab.sshRun(`${netns}iperf3 -c ${lab.IPERF_HOST} -p ${port} -P ${flows} -t ${seconds} -O 2 -J`,
    { timeoutMs: (seconds + 60) * 1000 });
  const c1 = await cpuStat();
  const after = await pppBytes();
  let j;
  try { j = JSON.parse(r.stdout); } catch { throw new Error(`iperf3: ${r.stderr || r.stdout.slice(0, 300)}`); }
  if (j.error) throw new Error(`iperf3: ${j.error}`);
  const mbit = j.end.sum_received.bits_per_second / 1e6;
  const devs = devsFor(n);
  const deltas = Object.fromEntries(devs.map((d) => [d, (after[d]?.tx ?? 0) - (before[d]?.tx ?? 0)]));
  const routerCpuBusyPct = Math.round(((c1[0] - c0[0]) / Math.max(1, c1[1] - c0[1])) * 100);
  return { mbit, deltas, ...shares(deltas, devs), routerCpuBusyPct };
}

/**
 * Bucket count per member of the resilient group (id 3000), or null without one. A member added to a
 * resilient group only gets buckets that have been idle for the group's idle timer (120 s; owrt-ecmp
 * sets no unbalanced timer, so busy buckets never move): right after setup adds dials, or after a
 * dial returns, the new members carry less than their share until then.
 */
async function bucketCounts() {
  const out = await router('ip nexthop bucket show id 3000 2>/dev/null; true');
  if (!out.trim()) return null;
  const c = {};
  for (const m of out.matchAll(/nhid (\d+)/g)) c[m[1]] = (c[m[1]] ?? 0) + 1;
  return c;
}
/** Wait until every member has its fair share of buckets; resolves {waitedS, balanced, buckets}. */
async function waitBalanced(n, timeoutS = 200) {
  const t0 = Date.now();
  for (;;) {
    const c = await bucketCounts();
    const vals = c ? Object.values(c) : [];
    const balanced = !c || (vals.length === n && Math.max(...vals) - Math.min(...vals) <= 1);
    if (balanced || Date.now() - t0 > timeoutS * 1000) return { waitedS: r3((Date.now() - t0) / 1000), balanced, buckets: c };
    await sleep(5000);
  }
}

export async function aggregation({ quick, cap }) {
  const rows = [];
  const T = quick ? 6 : 15;
  for (const n of quick ? [1, 4] : [1, 2, 4, 8]) {
    await setupDials(n);
    // steady state: measure once the resilient group has spread its buckets over the new dials
    const bal = await waitBalanced(n);
    log(`aggregation N=${n}: buckets ${bal.balanced ? 'balanced' : 'NOT balanced'} ${bal.waitedS} s after the route held all dials: ${JSON.stringify(bal.buckets)}`);
    await lanUp();
    for (const f of quick ? [n, 4 * n] : [n, 2 * n, 4 * n]) {
      const x = await iperf(n, f, T);
      const e = x.mbit / (n * cap);
      const { deltas, mbit, ...rest } = x;
      rows.push({ dials: n, flows: f, mbit: r3(mbit), efficiency: r3(e), ...rest, bytes: deltas, bucketsBalancedAfterS: bal.waitedS, bucketsBalanced: bal.balanced });
      log(`aggregation N=${n} F=${f}: ${mbit.toFixed(1)} Mbit/s, E=${e.toFixed(3)}, dial share min/max ${x.minPctOfFair}/${x.maxPctOfFair}% of fair, ${x.idleDials} idle, router CPU ${x.routerCpuBusyPct}% busy`);
    }
  }
  return rows;
}

/** Baseline: --hash-policy l3 (policy 0) at N=4, F=16, and router-local traffic (no LAN). */
export async function hashL3({ quick, cap }) {
  const T = quick ? 6 : 15;
  await setupDials(4, ['--hash-policy', 'l3']);
  await lanUp();
  const x = await iperf(4, 16, T);
  await setupDials(4, ['--hash-policy', 'l4']);
  const { deltas, mbit, ...rest } = x;
  const res = { dials: 4, flows: 16, mbit: r3(mbit), efficiency: r3(mbit / (4 * cap)), ...rest, bytes: deltas };
  // router-originated flows (iperf3 in the router's own namespace)
  const y = await iperf(4, 16, T, 5202, '');
  const { deltas: d2, mbit: mb, ...rest2 } = y;
  log(`hash l3 N=4 F=16: ${mbit.toFixed(1)} Mbit/s; router-local l4 F=16: ${mb.toFixed(1)} Mbit/s`);
  return { l3: res, routerLocal: { dials: 4, flows: 16, mbit: r3(mb), efficiency: r3(mb / (4 * cap)), ...rest2, bytes: d2 } };
}

/**
 * The hand-made method: one multipath route installed by hand, rebuilt only on ifup. It goes in
 * table 3000, behind owrt-ecmp's rules, where the sampler reads the ECMP route: what the baseline
 * compares is when the route is rebuilt, not where it lives (in main it would have to beat wan's
 * metric-0 default). owrt-ecmp's pin table goes too: a hand-made setup has nothing that keeps a
 * masqueraded connection on its dial when the route changes (owrt-ecmp's fwmark rules then match
 * nothing), and with it in place the baseline would show owrt-ecmp's flow stability, not its own.
 */
const HAND = `[ "$ACTION" = ifup ] || exit 0
case "$INTERFACE" in wan|vwan*) ;; *) exit 0 ;; esac
set --
for d in /sys/class/net/pppoe-*; do set -- "$@" nexthop dev "\${d##*/}"; done
[ $# -gt 0 ] && ip route replace default table 3000 metric 10 "$@"
`;
export async function handMadeOn() {
  await router(`mv /etc/hotplug.d/iface/95-owrt-ecmp /tmp/bench-95-owrt-ecmp.saved
ip route del default table 3000 metric 10 2>/dev/null; ip nexthop del id 3000 2>/dev/null
for i in $(seq 3001 3064); do ip nexthop del id $i 2>/dev/null; done
nft delete table inet owrt_ecmp 2>/dev/null
cat > /etc/hotplug.d/iface/96-bench-hand <<'EOF2'
${HAND}EOF2
set --; for d in /sys/class/net/pppoe-*; do set -- "$@" nexthop dev "\${d##*/}"; done
ip route replace default table 3000 metric 10 "$@"`);
}
export async function handMadeOff() {
  await router(`rm -f /etc/hotplug.d/iface/96-bench-hand
[ -f /tmp/bench-95-owrt-ecmp.saved ] && mv /tmp/bench-95-owrt-ecmp.saved /etc/hotplug.d/iface/95-owrt-ecmp
rm -f /var/run/owrt-ecmp.state; ip route del default table 3000 metric 10 2>/dev/null
ACTION=ifupdate INTERFACE=wan sh -c '. /etc/hotplug.d/iface/95-owrt-ecmp'`);
}

/**
 * Failover: ISP hangup of one dial per trial (rotating), timestamps from the router-side sampler.
 * mode: resilient | multipath | hand.
 */
export async function failover({ trials, mode, n = 4 }) {
  await setupDials(n, ['--route-mode', mode === 'hand' ? 'multipath' : mode]);
  if (mode === 'hand') await handMadeOn();
  await installEventLog();
  const sampler = await startSampler(10, 'failover');
  const marks = [];
  try {
    for (let i = 0; i < trials; i++) {
      const dev = devsFor(n)[i % n];
      const [t0] = await stamped(`${LABCTL} isp-hangup ${ifaceOf(dev)}`);
      marks.push({ dev, t0 });
      try {
        await eventually(`${dev} back`, async () => sameSet(await ecmpDevs(), devsFor(n)), 240, 300);
      } catch (e) {
        // a dial that does not come back in time (a busy shared host) is recorded, not fatal
        marks[marks.length - 1].timedOut = true;
        log(`failover ${mode}: ${e.message}`);
        await waitEcmp(n, 300);
      }
      await sleep(500);
    }
  } finally {
    var { samples, ticks } = await sampler.stop(); // eslint-disable-line no-var
  }
  const runs = eventRuns(await readEvents());
  await removeEventLog();
  if (mode === 'hand') await handMadeOff();
  const res = [];
  const d = (x, y) => (x === null || y === null || x === undefined || y === undefined ? null : r3(x - y));
  for (const { dev, t0, timedOut } of marks) {
    const iface = ifaceOf(dev);
    const out = firstAfter(samples, t0, (s) => !s.ecmp.includes(dev));
    const gone = firstAfter(samples, t0, (s) => !s.up.includes(dev));
    const ret = gone === null ? null : firstAfter(samples, gone + 0.001, (s) => s.up.includes(dev));
    // netifd installs its own per-dial default route, then queues the ifup event (netifd-sim mark_up)
    const netifdUp = ret === null ? null : firstAfter(samples, ret, (s) => s.own.includes(dev));
    const incl = ret === null ? null : firstAfter(samples, ret, (s) => s.ecmp.includes(dev));
    const run = ret === null ? null : runs.find((r) => r.action === 'ifup' && r.iface === iface && r.t >= ret - 0.05);
    const down = runs.find((r) => r.action === 'ifdown' && r.iface === iface && r.t >= t0);
    res.push({
      dev, t0, ...(timedOut ? { timedOut: true } : {}),
      outS: d(out, t0),
      downEventHandledAfterS: down ? d(down.t, t0) : null,
      returnToInclusionS: d(incl, ret),
      netifdEventToRouteS: d(incl, netifdUp),
      queueWaitS: run ? d(run.t, netifdUp) : null,
      dispatchToRouteS: run ? d(incl, run.t) : null,
      earlierScriptsS: run?.tPre ? d(run.tPre, run.t) : null,
      ownStartToRouteS: run?.tPre ? d(incl, run.tPre) : null,
      ownScriptWallS: run?.ownWallS ?? null,
      ownScriptCpuS: run?.ownCpuS ?? null,
      ecmpGapS: r3(longestWindow(samples, (s) => s.ecmp.length === 0 && s.up.length > 0, t0, t0 + 60)),
    });
  }
  const all = (k) => res.map((x) => x[k]);
  const mp = (k) => [r3(median(all(k))), r3(p95(all(k)))];
  const summary = {
    mode, dials: n, trials, timedOut: res.filter((x) => x.timedOut).length,
    out: mp('outS'), inclusion: mp('returnToInclusionS'), netifdToRoute: mp('netifdEventToRouteS'),
    queueWait: mp('queueWaitS'), earlierScripts: mp('earlierScriptsS'), ownToRoute: mp('ownStartToRouteS'),
    ownScriptWall: mp('ownScriptWallS'), ownScriptCpu: mp('ownScriptCpuS'),
    longestNoDefaultS: r3(longestWindow(samples, (s) => s.usable.length === 0 && s.up.length > 0)),
    longestNoEcmpWhileUpS: r3(longestWindow(samples, (s) => s.ecmp.length === 0 && s.up.length > 0)),
    sampleIntervalMs: r3(sampleInterval(ticks)),
    trialsDetail: res,
  };
  log(`failover ${mode}: out ${summary.out} s; re-inclusion ${summary.inclusion} s; netifd event → route ${summary.netifdToRoute} s (queue ${summary.queueWait}, earlier scripts ${summary.earlierScripts}, own hook → route ${summary.ownToRoute}); no-default ${summary.longestNoDefaultS} s, no-ECMP ${summary.longestNoEcmpWhileUpS} s`);
  return summary;
}

async function startSink() {
  await upload('flows.py', '/tmp/bench-flows.py');
  await router(`[ -f /tmp/bench-sink.pid ] && kill -0 $(cat /tmp/bench-sink.pid) 2>/dev/null || { setsid ip netns exec isp python3 /tmp/bench-flows.py sink 5399 </dev/null >/tmp/bench-sink.log 2>&1 & echo $! >/tmp/bench-sink.pid; }`);
  // 5399 = 0x1517; state 0A = LISTEN
  await eventually('flow sink listening', async () => (await router('ip netns exec isp awk \'$2 ~ /:1517$/ && $4 == "0A"\' /proc/net/tcp')).trim() !== '', 30, 300);
}

/**
 * One flow trial on the router (bench/flow-trial.sh): `flows` flows from the LAN host; the ISP hangs up
 * `victim` `before` s after they started (session limit `limit`, or "keep"); they run `after` s more.
 */
async function flowTrial({ flows, before, after, victim, limit }) {
  await lanUp();
  await startSink();
  await upload('flow-trial.sh', '/tmp/bench-flow-trial.sh');
  const out = '/tmp/bench-flow-trial';
  await router(`rm -rf ${out}; setsid sh /tmp/bench-flow-trial.sh ${out} ${lab.IPERF_HOST} ${flows} ${before} ${after} ${ifaceOf(victim)} ${limit} </dev/null >/tmp/bench-flow-trial.log 2>&1 &`);
  await eventually('flow trial done', async () => (await router(`[ -e ${out}/done ] && echo done; true`)).includes('done'), before + after + 180, 2000);
  const [json, snap0, snap1, hang, rate, hangLog] = (await router(
    `for f in flows.json before after hangup rate hangup.log; do cat ${out}/$f 2>/dev/null; echo @@; done`)).split('@@\n');
  let j;
  try { j = JSON.parse(json); } catch { throw new Error(`flows.py: ${json.slice(0, 500)} ${await router('cat /tmp/bench-flow-trial.log')}`); }
  if (!hang.trim()) throw new Error(`flow trial: no hangup (${await router('cat /tmp/bench-flow-trial.log')})`);
  const lines = (x) => x.trim().split('\n').filter(Boolean);
  return { j, before: lines(snap0), after: lines(snap1), tHang: Number(hang), rate: lines(rate), hangLog: hangLog.trim() };
}

/**
 * Flow stability: 64 long-lived flows over 4 dials; the ISP hangs up one dial and refuses its return.
 * Per flow: which devices its data left by (nft set) and the bytes the peer acknowledged every ~0.5 s.
 */
export async function flowStability({ mode, balance = 'hash', flows = 64 }) {
  const n = 4;
  await setupDials(n, ['--route-mode', mode === 'hand' ? 'multipath' : mode, ...(mode === 'hand' ? [] : ['--balance', balance])]);
  if (mode === 'hand') await handMadeOn();
  const victim = 'pppoe-vwan3';
  let t;
  try {
    t = await flowTrial({ flows, before: 16, after: 22, victim, limit: n - 1 });
  } finally {
    await router(`${LABCTL} isp-limit off >/dev/null`);
    if (mode === 'hand') await handMadeOff();
  }
  const res = { mode, balance, dials: n, ...judgeFlows(t.j, { flows: t.after, before: t.before, victim, tHang: t.tHang }) };
  log(`flow stability ${mode} (balance ${balance}): ${res.flows} flows, ${res.onDroppedDial} on the dropped dial; of ${res.survivors} others ${res.changedDial} changed dial, ${res.broke} broke; stalled ≥ ${res.stallThresholdS} s: ${res.stalledBefore} in the ${res.stallWindowS} s before the hangup, ${res.stalledAfter} in the ${res.stallWindowS} s after; hangup ${res.hangupAfterStartS} s after start`);
  await waitEcmp(n, 150);
  return res;
}

/**
 * Classify flows. A flow is on the dropped dial if its data left by it. For the others: "changed dial"
 * = data seen on more than one device; "broke" = the socket errored or the peer acknowledged nothing in
 * the last 5 s; "stalled" = no acknowledged progress for >= 2 s, counted in two windows of equal length,
 * one just before the hangup and one starting at it, so stalls the hangup caused stand out from the
 * ordinary ones of 64 flows sharing shaped 10 Mbit/s sessions on a busy VM.
 */
export function judgeFlows(j, { flows, before, victim, tHang }) {
  const STALL = 2;
  const devs = {};
  for (const e of [...before, ...flows]) {
    const [port, dev] = e.split(' ');
    (devs[port] ??= new Set()).add(dev);
  }
  const rows = j.acked;
  const ts = j.t;
  const tH = tHang - j.start;
  const end = ts[ts.length - 1];
  const win = Math.min(tH - 2, end - tH); // the first 2 s are slow start
  const iLast5 = ts.findIndex((t) => t >= end - 5);
  // longest time in [from, to] without acknowledged progress of flow i
  const longestStall = (i, from, to) => {
    let longest = 0;
    let last = from;
    for (let k = 1; k < rows.length && ts[k - 1] < to; k++) {
      if (ts[k] <= from) continue;
      const t = Math.min(ts[k], to);
      if (rows[k][i] > rows[k - 1][i]) last = t;
      longest = Math.max(longest, t - last);
    }
    return longest;
  };
  const c = { survivors: 0, changed: 0, broke: 0, stalledBefore: 0, stalledAfter: 0, onVictim: 0 };
  const survivorIdx = [];
  const detail = [];
  j.ports.forEach((p, i) => {
    const port = String(p);
    const set = devs[port] ?? new Set();
    if (set.has(victim)) { c.onVictim++; return; }
    c.survivors++;
    survivorIdx.push(i);
    const err = j.errors[port];
    const isBroke = Boolean(err) || rows[rows.length - 1][i] - rows[iLast5][i] <= 0;
    const sBefore = longestStall(i, tH - win, tH);
    const sAfter = longestStall(i, tH, tH + win);
    if (set.size > 1) c.changed++;
    if (isBroke) c.broke++;
    if (sBefore >= STALL) c.stalledBefore++;
    if (sAfter >= STALL) c.stalledAfter++;
    if (set.size > 1 || isBroke || sAfter >= STALL) {
      detail.push({ port: p, devs: [...set].sort(), error: err ?? null, longestStallAfterS: r3(sAfter), longestStallBeforeS: r3(sBefore) });
    }
  });
  // evidence: Mbit/s the surviving flows together got acknowledged, per ~1 s, relative to the hangup
  const perSecond = [];
  for (let k = 2; k < rows.length; k += 2) {
    const bytes = survivorIdx.reduce((a, i) => a + rows[k][i] - rows[k - 2][i], 0);
    perSecond.push([r3(ts[k] - tH), Math.round((bytes * 8) / (ts[k] - ts[k - 2]) / 1e4) / 100]);
  }
  return {
    flows: j.ports.length, onDroppedDial: c.onVictim, survivors: c.survivors, changedDial: c.changed, broke: c.broke,
    stallThresholdS: STALL, stallWindowS: r3(win), stalledBefore: c.stalledBefore, stalledAfter: c.stalledAfter,
    errors: Object.keys(j.errors).length, hangupAfterStartS: r3(tH), durationS: r3(end),
    survivorsMbitByTimeAfterHangup: perSecond, disrupted: detail,
  };
}

/** Per-dial throughput across one failover trial (for the chart): 16 flows, resilient group. */
export async function failoverTrace({ cap }) {
  await setupDials(4);
  const dropped = 'pppoe-vwan2';
  const t = await flowTrial({ flows: 16, before: 10, after: 30, victim: dropped, limit: 'keep' });
  const pts = t.rate.map((l) => {
    const [tt, ...kv] = l.split(' ');
    return { t: Number(tt), b: Object.fromEntries(kv.map((x) => x.split('=')).map(([d, v]) => [d, Number(v)])) };
  });
  const series = {};
  for (let i = 1; i < pts.length; i++) {
    const dt = pts[i].t - pts[i - 1].t;
    if (dt <= 0) continue;
    for (const d of devsFor(4)) {
      const a = pts[i - 1].b[d];
      const b = pts[i].b[d];
      const v = a !== undefined && b !== undefined && b >= a ? ((b - a) * 8) / dt / 1e6 : 0;
      (series[d] ??= []).push([r3(pts[i].t - pts[0].t), Math.round(v * 100) / 100]);
    }
  }
  const flows = judgeFlows(t.j, { flows: t.after, before: t.before, victim: dropped, tHang: t.tHang });
  await waitEcmp(4, 150);
  const { disrupted, survivorsMbitByTimeAfterHangup, ...summary } = flows;
  return { hangupAtS: r3(t.tHang - pts[0].t), dropped, capMbit: cap, flows: summary, series };
}

/**
 * Hotplug storm: all dials flap together (the ISP hangs up all) / ifdown of all then ifup of all.
 * "Last event" = netifd's last up/down of a dial: it installs/removes its own per-dial default route
 * right before queuing the hotplug event, so the sampler sees it. The route is "correct" from the
 * moment the ECMP set holds all N dials for good.
 */
export async function storm({ n }) {
  const res = [];
  await setupDials(n);
  for (const kind of ['isp-hangup all', 'ifdown/ifup all at once']) {
    await installEventLog();
    const sampler = await startSampler(10, 'storm');
    const follow = await startLogFollow('storm');
    const ifs = devsFor(n).map(ifaceOf);
    const [t0] = kind.startsWith('isp')
      ? await stamped(`${LABCTL} isp-hangup all >/dev/null`)
      // in the background: 2 × N ifdown/ifup calls can outlast an SSH command's timeout on a busy VM
      : await stamped(`setsid sh -c 'for i in ${ifs.join(' ')}; do ifdown $i; done; sleep 1; for i in ${ifs.join(' ')}; do ifup $i; done' </dev/null >/dev/null 2>&1 &`);
    // the fault has taken effect once a dial's hotplug event ran (the background ifdown/ifup may start late)
    await eventually('the storm\'s first hotplug event', async () => (await readEvents()).some((e) => e.t >= t0), 300, 2000);
    await waitEcmp(n, 900);
    // let the hotplug queue drain: no new event for 5 s
    let seen = -1;
    await eventually('hotplug queue drained', async () => {
      const c = (await readEvents()).length;
      const quiet = c === seen;
      seen = c;
      return quiet;
    }, 600, 5000);
    const { samples, ticks } = await sampler.stop();
    const runs = eventRuns(await readEvents()).filter((e) => e.t >= t0 && ifs.some((i) => e.iface === i || e.iface === `${i}_6`));
    const rebuilds = await follow.stop();
    await removeEventLog();
    const want = devsFor(n);
    // the moment the ECMP set became (and stayed) all n dials
    let tOk = null;
    for (const x of samples) {
      if (x.t < t0) continue;
      if (sameSet(x.ecmp, want)) tOk ??= x.t;
      else tOk = null;
    }
    // netifd's last up/down of a dial: the last change of its own per-dial routes
    let lastNetifd = null;
    let prev = stateAt(samples, t0)?.own ?? [];
    for (const x of samples) {
      if (x.t <= t0) continue;
      if (!sameSet(x.own, prev)) lastNetifd = x.t;
      prev = x.own;
    }
    const lastRun = runs.length ? runs[runs.length - 1] : null;
    const sum = (k) => r3(runs.reduce((a, r) => a + (r[k] ?? 0), 0));
    const raw = tOk !== null && lastNetifd !== null ? tOk - lastNetifd : null;
    const r = {
      kind, dials: n, events: runs.length, rebuilds,
      convergeAfterLastEventS: raw === null ? null : r3(Math.max(0, raw)), convergeAfterLastEventRawS: r3(raw),
      convergeAfterFaultS: tOk !== null ? r3(tOk - t0) : null,
      lastEventAfterFaultS: lastNetifd !== null ? r3(lastNetifd - t0) : null,
      queueDrainedAfterFaultS: lastRun ? r3(lastRun.t + lastRun.wallS - t0) : null,
      hotplugCpuS: sum('cpuS'), ownCpuS: sum('ownCpuS'), hotplugWallS: sum('wallS'), ownWallS: sum('ownWallS'),
      longestNoDefaultS: r3(longestWindow(samples, (x) => x.usable.length === 0 && x.up.length > 0, t0)),
      sampleIntervalMs: r3(sampleInterval(ticks)),
    };
    log(`storm N=${n} ${kind}: ${r.events} events, ${r.rebuilds} rebuilds, correct ${r.convergeAfterLastEventS} s after netifd's last event (raw ${r.convergeAfterLastEventRawS}), ${r.convergeAfterFaultS} s after the fault; hotplug CPU ${r.hotplugCpuS} s (owrt-ecmp ${r.ownCpuS} s)`);
    res.push(r);
  }
  return res;
}

export async function tool() {
  const rows = [];
  const rec = (what, r) => {
    rows.push({ what, wallS: r3(r.ms / 1000), roundTrips: r.roundTrips, exit: r.code });
    log(`tool ${what}: ${(r.ms / 1000).toFixed(2)} s, ${r.roundTrips} round trip(s), exit ${r.code}`);
  };
  const td = await owrt(['teardown', '--yes', '--verbose']);
  if (td.code !== 0) throw new Error(`teardown failed: ${td.stderr.slice(-500)}`);
  rec('teardown (4 dials)', td);
  rec('setup --dials 4 (fresh; --wait 0: without the wait for dials)', await owrt(['setup', '--dials', '4', '--install-packages', '--yes', '--verbose', '--wait', '0']));
  await waitEcmp(4);
  rec('setup (re-run, no changes)', await owrt(['setup', '--yes', '--verbose']));
  rec('status (4 dials)', await owrt(['status', '--verbose']));
  rec('hotplug (4 dials)', await owrt(['hotplug', '--yes', '--verbose']));
  return rows;
}

export async function tool16() {
  const rows = [];
  const s = await owrt(['setup', '--dials', '16', '--install-packages', '--yes', '--verbose', '--wait', '180', '--rollback-timeout', '240']);
  rows.push({ what: 'setup --dials 16 (from 4)', wallS: r3(s.ms / 1000), roundTrips: s.roundTrips, exit: s.code });
  await waitEcmp(16, 240);
  const st = await owrt(['status', '--verbose']);
  rows.push({ what: 'status (16 dials)', wallS: r3(st.ms / 1000), roundTrips: st.roundTrips, exit: st.code });
  log(`tool setup 16: ${(s.ms / 1000).toFixed(1)} s; status 16: ${(st.ms / 1000).toFixed(2)} s, ${st.roundTrips} rt`);
  return rows;
}

/**
 * What single commands cost on the lab router (median of 5, ms): the fork+exec floor, ip, and the
 * lab's Python stand-ins for ubus and jsonfilter and its C lock, which are small C programs on OpenWrt
 * and which owrt-ecmp's hotplug library calls once each per event.
 */
export async function routerCosts() {
  const cmds = {
    'true (fork+exec)': '/bin/true', 'ip -4 route show': 'ip -4 route show', 'ip nexthop show': 'ip nexthop show',
    'ubus call network.interface dump (Python stand-in)': 'ubus call network.interface dump',
    'jsonfilter (Python stand-in)': 'jsonfilter -s \'{"a":1}\' -e @.a',
    'lock + lock -u': 'lock /tmp/bench-cal.lock; lock -u /tmp/bench-cal.lock',
    'logger': 'logger -t bench-cal x',
  };
  const script = Object.values(cmds).map((c) => `for i in 1 2 3 4 5; do read a _ </proc/uptime; ${c} >/dev/null 2>&1; read b _ </proc/uptime; echo "$a $b"; done; echo @@`).join('\n');
  const parts = (await router(script)).split('@@').slice(0, -1);
  const out = {};
  Object.keys(cmds).forEach((k, i) => {
    const xs = parts[i].trim().split('\n').map((l) => { const [a, b] = l.split(' ').map(Number); return (b - a) * 1000; });
    out[k] = Math.round(median(xs));
  });
  log(`router costs (ms): ${JSON.stringify(out)}`);
  return out;
}

export { stateAt, upload };
