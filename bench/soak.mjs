// npm run soak: random dial events on the lab router while a router-side sampler records the
// kernel's routes every 50 ms. Invariants: after every change of a dial's state the ECMP set
// follows within BOUND s (2 by default), and there is never a moment without a default route
// while a dial is up. SOAK_EVENTS=N (default 200), SOAK_SEED=S, SOAK_BOUND_S=B.
// test/e2e/soak.test.ts imports runSoak() for a short CI version.
import { pathToFileURL } from 'node:url';
import { startLogFollow, devsFor, ecmpDevs, ifaceOf, lab, median, p95, router, sameSet, setupDials, sleep, startSampler, stamped, waitEcmp } from './lib.mjs';

const LABCTL = '/usr/lib/lab-vm/labctl';
const KINDS = ['kill-pppd', 'isp-hangup', 'isp-refusal', 'ifdown-ifup', 'all'];

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Analyse a sample trace. A dial is "up" when netifd has it up, seen as its own default route
 * (netifd installs it before it runs the ifup hotplug event). latencies: for every change of a
 * dial's up state, the time until the ECMP set agreed for that dial (superseded if the dial changed
 * again first). gapMaxS: longest time with no default route at all while a dial was up.
 * Also reported: the longest time without the ECMP route while a dial was up, and the longest time
 * a ppp device had its address with no default route at all (pppd up, netifd not yet: lab latency).
 */
export function analyse(samples) {
  const lat = [];
  const pending = new Map(); // dev -> {t, up}
  let prevUp = new Set();
  let gapMax = 0;
  let ecmpGapMax = 0;
  let ecmpCur = 0;
  let rawGapMax = 0;
  let cur = 0;
  let rawCur = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i];
    const next = samples[i + 1]?.t ?? s.t;
    const up = new Set(s.own);
    for (const d of new Set([...up, ...prevUp])) {
      if (up.has(d) !== prevUp.has(d)) {
        if (pending.has(d)) lat.push({ dev: d, s: s.t - pending.get(d).t, superseded: true });
        pending.set(d, { t: s.t, up: up.has(d) });
      }
    }
    for (const [d, p] of pending) {
      if (s.ecmp.includes(d) === p.up) {
        lat.push({ dev: d, s: s.t - p.t, superseded: false });
        pending.delete(d);
      }
    }
    prevUp = up;
    // gaps over [s.t, next)
    if (s.usable.length === 0 && up.size > 0) cur += next - s.t;
    else cur = 0;
    if (s.ecmp.length === 0 && up.size > 0) ecmpCur += next - s.t;
    else ecmpCur = 0;
    if (s.usable.length === 0 && s.up.length > 0) rawCur += next - s.t;
    else rawCur = 0;
    gapMax = Math.max(gapMax, cur);
    ecmpGapMax = Math.max(ecmpGapMax, ecmpCur);
    rawGapMax = Math.max(rawGapMax, rawCur);
  }
  const end = samples.length ? samples[samples.length - 1].t : 0;
  for (const [d, p] of pending) lat.push({ dev: d, s: end - p.t, superseded: false, unresolved: true });
  const done = lat.filter((l) => !l.superseded).map((l) => l.s);
  return {
    transitions: lat.length,
    unresolved: lat.filter((l) => l.unresolved).length,
    latencyMedianS: median(done), latencyP95S: p95(done), latencyMaxS: done.length ? Math.max(...done) : 0,
    latencies: lat,
    gapMaxS: gapMax, ecmpGapMaxS: ecmpGapMax, rawGapMaxS: rawGapMax,
  };
}

export async function runSoak({ events = 200, seed = Date.now() % 100000, boundS = 2, dials = 4, log = (...a) => console.error('[soak]', ...a) } = {}) {
  const rand = rng(seed);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  await lab.ensureUp();
  await router(`${LABCTL} isp-limit off >/dev/null`);
  await setupDials(dials); // also puts back route mode auto and hash policy l4
  const all = devsFor(dials);
  const sampler = await startSampler(50, 'soak');
  const follow = await startLogFollow('soak');
  const counts = Object.fromEntries(KINDS.map((k) => [k, 0]));
  const marks = [];
  const t0wall = Date.now();
  // every kind once, in random order, before the draw is free: a short run covers them all
  const first = [...KINDS];
  for (let i = first.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [first[i], first[j]] = [first[j], first[i]];
  }
  try {
    for (let i = 0; i < events; i++) {
      const kind = i < first.length ? first[i] : pick(KINDS);
      const up = (await router('ls /sys/class/net | grep "^pppoe-" || true')).trim().split('\n').filter(Boolean);
      const dev = pick(up.length ? up : all);
      const iface = ifaceOf(dev);
      let cmd;
      switch (kind) {
        case 'kill-pppd': cmd = `${LABCTL} kill-pppd ${iface} || true`; break;
        case 'isp-hangup': cmd = `${LABCTL} isp-hangup ${iface} || true`; break;
        case 'isp-refusal': {
          const hold = (3 + rand() * 5).toFixed(1);
          cmd = `setsid sh -c '${LABCTL} isp-limit ${Math.max(0, up.length - 1)}; ${LABCTL} isp-hangup ${iface}; sleep ${hold}; ${LABCTL} isp-limit off' </dev/null >/dev/null 2>&1 &`;
          break;
        }
        case 'ifdown-ifup': cmd = `setsid sh -c 'ifdown ${iface}; sleep ${(rand() * 3).toFixed(1)}; ifup ${iface}' </dev/null >/dev/null 2>&1 &`; break;
        default: cmd = `${LABCTL} isp-hangup all || true`;
      }
      const [t] = await stamped(cmd);
      counts[kind]++;
      marks.push({ i, kind, dev, t });
      if ((i + 1) % 10 === 0) log(`${i + 1}/${events} events (${Math.round((Date.now() - t0wall) / 1000)} s)`);
      await sleep(500 + rand() * 3500);
      // every 20 events, let everything come back so the run does not drift into "all down"
      if ((i + 1) % 20 === 0) await waitEcmp(dials, 180).catch(() => log('dials did not all come back within 180 s'));
    }
    await router(`${LABCTL} isp-limit off >/dev/null`);
    await waitEcmp(dials, 180).catch(() => log('dials did not all come back within 180 s'));
    await sleep(3000);
  } finally {
    await router(`${LABCTL} isp-limit off >/dev/null`).catch(() => {});
    var { samples, ticks } = await sampler.stop(); // eslint-disable-line no-var
  }
  const a = analyse(samples);
  const interval = ticks.length > 1 ? ((ticks.at(-1).t - ticks[0].t) / Math.max(1, ticks.at(-1).n - ticks[0].n)) * 1000 : null;
  const rebuilds = await follow.stop();
  const res = {
    seed, events, counts, dials, boundS,
    sampleIntervalMs: interval, stateChanges: samples.length,
    transitions: a.transitions, unresolved: a.unresolved,
    routeMode: (await router('uci -q get owrt_ecmp.main.route_mode || true')).trim() || null,
    convergenceMedianS: a.latencyMedianS, convergenceP95S: a.latencyP95S, convergenceMaxS: a.latencyMaxS,
    slowerThanBound: a.latencies.filter((l) => !l.superseded && l.s > boundS).length,
    noDefaultWhileUpMaxS: a.gapMaxS, noEcmpWhileUpMaxS: a.ecmpGapMaxS, addressButNoDefaultMaxS: a.rawGapMaxS,
    rebuildLinesInLogread: rebuilds, durationS: Math.round((Date.now() - t0wall) / 1000),
    slow: a.latencies.filter((l) => !l.superseded && l.s > boundS).slice(0, 20),
  };
  res.ok = res.slowerThanBound === 0 && res.unresolved === 0 && res.noDefaultWhileUpMaxS === 0;
  return res;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const wasRunning = lab.info().running;
  const events = Number(process.env.SOAK_EVENTS ?? 200);
  const seed = process.env.SOAK_SEED ? Number(process.env.SOAK_SEED) : undefined;
  const boundS = Number(process.env.SOAK_BOUND_S ?? 2);
  runSoak({ events, seed, boundS })
    .then((r) => {
      const f = (x) => (x === null ? '–' : `${(x * 1000).toFixed(0)} ms`);
      console.log(`soak: ${r.events} events (seed ${r.seed}) in ${r.durationS} s: ${Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      console.log(`sampled every ${r.sampleIntervalMs?.toFixed(0)} ms; ${r.stateChanges} route/address state changes; ${r.transitions} dial transitions; ${r.rebuildLinesInLogread} 'rebuilt' log lines`);
      console.log(`ECMP set followed the up dials: median ${f(r.convergenceMedianS)}, p95 ${f(r.convergenceP95S)}, max ${f(r.convergenceMaxS)}; slower than ${r.boundS} s: ${r.slowerThanBound}; never converged: ${r.unresolved}`);
      console.log(`no default route while a dial was up: longest ${f(r.noDefaultWhileUpMaxS)}; no ECMP route while a dial was up: longest ${f(r.noEcmpWhileUpMaxS)}; ppp address but no default route yet (pppd up, netifd not yet): longest ${f(r.addressButNoDefaultMaxS)}`);
      for (const s of r.slow) console.log(`  slow: ${s.dev} ${(s.s * 1000).toFixed(0)} ms${s.unresolved ? ' (never)' : ''}`);
      console.log(r.ok ? 'invariants held' : 'INVARIANT VIOLATED');
      process.exitCode = r.ok ? 0 : 1;
    })
    .catch((e) => { console.error(e); process.exitCode = 1; })
    .finally(async () => { if (!wasRunning && process.env.SOAK_KEEP !== '1') await lab.down(); });
}
