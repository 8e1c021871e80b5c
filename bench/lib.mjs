// Shared helpers for bench/run.mjs and bench/soak.mjs: the real CLI, the lab router, the
// router-side sampler (bench/sampler.py) and a LAN host netns (bench/lan-netns.sh).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import * as lab from '../test/lab/lab-api.mjs';

export { lab };
export const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'cli.js');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const devsFor = (n) => ['pppoe-wan', ...Array.from({ length: n - 1 }, (_, i) => `pppoe-vwan${i + 2}`)].sort();
export const ifaceOf = (dev) => dev.replace(/^pppoe-/, '');

/** Run the built CLI against the lab; resolves {code, stdout, stderr, ms, roundTrips}. */
export function owrt(args, env = {}) {
  const i = lab.info();
  const [command, ...rest] = args;
  const argv = [cli, command, '--host', `${i.user}@${i.host}:${i.port}`, '--identity', i.identityFile,
    '--known-hosts', i.knownHostsFile, '--connect-timeout', '40', ...rest];
  const t0 = performance.now();
  return new Promise((resolve) => {
    const p = spawn(process.execPath, argv, { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => {
      const m = /(\d+) SSH round trip\(s\)/.exec(stdout + stderr);
      resolve({ code, stdout, stderr, ms: performance.now() - t0, roundTrips: m ? Number(m[1]) : null });
    });
  });
}

export const router = (cmd, opts) => lab.sshOk(cmd, opts);

export async function ecmpDevs() {
  // a table with no route does not exist: ip then prints a lone "[" and fails
  const out = (await router('r=$(ip -j -4 route show default table 3000 metric 10 2>/dev/null) || r="[]"; echo "$r"; echo @@; ip -j nexthop show 2>/dev/null; true')).split('@@');
  const routes = out[0].trim() ? JSON.parse(out[0]) : [];
  const nhs = out[1]?.trim() ? JSON.parse(out[1]) : [];
  const r = routes[0];
  if (!r) return [];
  if (r.nhid !== undefined) {
    const g = nhs.find((n) => n.id === r.nhid);
    const ids = g?.group ? g.group.map((m) => m.id) : [r.nhid];
    return ids.map((id) => nhs.find((n) => n.id === id)?.dev).filter(Boolean).sort();
  }
  return (r.nexthops ?? [{ dev: r.dev }]).filter((n) => !(n.flags ?? []).includes('dead')).map((n) => n.dev).sort();
}

/** Poll until check() passes; returns seconds, or throws after timeoutS. */
export async function eventually(what, check, timeoutS = 120, stepMs = 250) {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > timeoutS * 1000) throw new Error(`timed out after ${timeoutS} s waiting for: ${what}`);
    await sleep(stepMs);
  }
}

export const sameSet = (a, b) => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

export async function waitEcmp(n, timeoutS = 150) {
  return eventually(`${n} ECMP nexthops`, async () => sameSet(await ecmpDevs(), devsFor(n)), timeoutS, 500);
}

/** setup with --dials n (+ extra flags); waits until the ECMP route holds all n dials. */
export async function setupDials(n, extra = []) {
  // settings are stored on the router: always say which route mode and hash policy we want
  const defaults = [...(extra.includes('--route-mode') ? [] : ['--route-mode', 'auto']), ...(extra.includes('--hash-policy') ? [] : ['--hash-policy', 'l4'])];
  const r = await owrt(['setup', '--dials', String(n), '--install-packages', '--yes', '--verbose', '--wait', '90', '--rollback-timeout', '150', ...defaults, ...extra]);
  if (r.code !== 0 && r.code !== 8) throw new Error(`setup --dials ${n} ${extra.join(' ')} failed (${r.code}): ${r.stderr.slice(-800)}`);
  await waitEcmp(n);
  return r;
}

export async function upload(localName, remotePath) {
  await router(`cat > ${remotePath}`, { input: fs.readFileSync(join(import.meta.dirname, localName)) });
}

/** Router's CLOCK_BOOTTIME in seconds (/proc/uptime, 10 ms resolution). */
export async function routerNow() {
  return Number((await router('cat /proc/uptime')).split(' ')[0]);
}

/** Run a router command and return [router time just before it, stdout]. */
export async function stamped(cmd) {
  const out = await router(`read u _ </proc/uptime; echo "@@t $u"; ${cmd}`);
  const m = /^@@t (\S+)/m.exec(out);
  return [Number(m[1]), out.replace(/^@@t .*\n/m, '')];
}

/**
 * Start the router-side sampler (every intervalMs). stop() resolves
 * { samples: [{t, ecmp, usable, up}] (one per state change), ticks: [{t, n}] }.
 */
export async function startSampler(intervalMs = 10, tag = 'main') {
  await upload('sampler.py', '/tmp/bench-sampler.py');
  const out = `/tmp/bench-samples-${tag}`;
  const stop = `/tmp/bench-sampler-${tag}.stop`;
  await router(`rm -f ${out} ${stop}; setsid python3 /tmp/bench-sampler.py ${intervalMs} 10 ${stop} >${out} 2>&1 </dev/null &`);
  await eventually('sampler output', async () => (await router(`cat ${out}`)).includes('|'), 30, 200);
  const read = async () => parseSamples(await router(`cat ${out}`));
  return {
    read,
    async stop() {
      await router(`touch ${stop}; sleep 0.3`);
      return read();
    },
  };
}

export function parseSamples(text) {
  const samples = [];
  const ticks = [];
  const list = (s) => (s ? s.split(',') : []);
  for (const line of text.split('\n')) {
    if (line.startsWith('#tick ')) {
      const [, t, n] = line.split(' ');
      ticks.push({ t: Number(t), n: Number(n) });
    } else if (/^\d/.test(line)) {
      const [t, ecmp, usable, up, own] = line.split('|');
      samples.push({ t: Number(t), ecmp: list(ecmp), usable: list(usable), up: list(up), own: list(own) });
    }
  }
  return { samples, ticks };
}

/** Mean sampling interval in ms from the ticks. */
export function sampleInterval(ticks) {
  if (ticks.length < 2) return null;
  const a = ticks[0];
  const b = ticks[ticks.length - 1];
  return ((b.t - a.t) / Math.max(1, b.n - a.n)) * 1000;
}

/** State at time t (the last change at or before t). */
export function stateAt(samples, t) {
  let s = samples[0];
  for (const x of samples) {
    if (x.t > t) break;
    s = x;
  }
  return s;
}

/** First sample at/after t0 satisfying pred; returns its time or null. */
export function firstAfter(samples, t0, pred) {
  const s0 = stateAt(samples, t0);
  if (s0 && s0.t <= t0 && pred(s0)) return t0;
  for (const x of samples) if (x.t >= t0 && pred(x)) return x.t;
  return null;
}

/** Longest window (s) in [from, to] where pred(state) holds. */
export function longestWindow(samples, pred, from = -Infinity, to = Infinity) {
  let best = 0;
  let start = null;
  const end = Math.min(to, samples.length ? samples[samples.length - 1].t : 0);
  for (const x of samples) {
    const t = Math.max(x.t, from);
    if (x.t > to) break;
    if (pred(x)) {
      if (start === null) start = t;
    } else if (start !== null) {
      best = Math.max(best, t - start);
      start = null;
    }
  }
  if (start !== null) best = Math.max(best, end - start);
  return best;
}

/**
 * Hotplug stamps. hotplug-call sources /etc/hotplug.d/iface/* one at a time in name order, each in a
 * subshell of itself, so a script can read the time and the CPU time hotplug-call has used so far
 * (its own + every finished script's, from /proc/$$/stat: $$ is hotplug-call in a subshell):
 *   00-bench-stamp  first: netifd's event is being handled (hotplug-call started)
 *   94-bench-stamp  just before 95-owrt-ecmp (after 20-firewall and anything else before 95)
 *   99-bench-stamp  last: every script is done
 * Lines: "<uptime s> <phase> <ACTION> <INTERFACE> <CPU ticks (USER_HZ)>".
 */
const STAMP = (phase) => `read -r _u _r </proc/uptime
read -r _s </proc/$$/stat
set -- \${_s##*) }
echo "$_u ${phase} $ACTION $INTERFACE $((\${12} + \${13} + \${14} + \${15}))" >>/tmp/bench-events
`;
export async function installEventLog() {
  await router(`cat > /etc/hotplug.d/iface/00-bench-stamp <<'EOF2'
${STAMP('start')}EOF2
cat > /etc/hotplug.d/iface/94-bench-stamp <<'EOF2'
${STAMP('pre95')}EOF2
cat > /etc/hotplug.d/iface/99-bench-stamp <<'EOF2'
${STAMP('end')}EOF2
: >/tmp/bench-events`);
}
/** [{t, phase, action, iface, cpuTicks}] in the order written. */
export async function readEvents() {
  return (await router('cat /tmp/bench-events 2>/dev/null || true')).trim().split('\n').filter(Boolean).map((l) => {
    const [t, phase, action, iface, cpu] = l.split(' ');
    return { t: Number(t), phase, action, iface, cpuTicks: Number(cpu) };
  });
}
/** Per handled event: {t (start), action, iface, wallS, cpuS, ownWallS, ownCpuS} (own = from 94 to 99). */
export function eventRuns(events) {
  const runs = [];
  let cur = null;
  for (const e of events) {
    if (e.phase === 'start') {
      cur = { t: e.t, action: e.action, iface: e.iface, c0: e.cpuTicks };
      runs.push(cur);
    } else if (cur && e.phase === 'pre95') {
      cur.tPre = e.t;
      cur.cPre = e.cpuTicks;
    } else if (cur && e.phase === 'end') {
      cur.tEnd = e.t;
      cur.cEnd = e.cpuTicks;
    }
  }
  return runs.filter((r) => r.tEnd !== undefined).map((r) => ({
    t: r.t, action: r.action, iface: r.iface, tPre: r.tPre ?? null,
    wallS: r.tEnd - r.t, cpuS: r.cEnd / 100, // hotplug-call's whole run (its CPU counter starts at 0)
    ownWallS: r.tPre !== undefined ? r.tEnd - r.tPre : null, ownCpuS: r.cPre !== undefined ? (r.cEnd - r.cPre) / 100 : null,
  }));
}
export async function removeEventLog() {
  await router('rm -f /etc/hotplug.d/iface/00-bench-stamp /etc/hotplug.d/iface/94-bench-stamp /etc/hotplug.d/iface/99-bench-stamp /tmp/bench-events');
}

/** logread's ring buffer is small (64 lines, SSH logins fill it): follow it into a file instead. */
export async function startLogFollow(tag = 'main') {
  await router(`rm -f /tmp/bench-log-${tag}; setsid sh -c 'busybox logread -f >/tmp/bench-log-${tag} 2>&1 & echo $! >/tmp/bench-log-${tag}.pid' </dev/null >/dev/null 2>&1; sleep 0.5`);
  return {
    async stop() {
      const out = await router(`sleep 1; kill $(cat /tmp/bench-log-${tag}.pid) 2>/dev/null; grep -c 'owrt-ecmp.*rebuilt' /tmp/bench-log-${tag} || true`);
      return Number(out.trim());
    },
  };
}

export function median(xs) {
  const a = xs.filter((x) => x !== null && Number.isFinite(x)).sort((p, q) => p - q);
  if (!a.length) return null;
  const m = Math.floor(a.length / 2);
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}
export function p95(xs) {
  const a = xs.filter((x) => x !== null && Number.isFinite(x)).sort((p, q) => p - q);
  if (!a.length) return null;
  return a[Math.min(a.length - 1, Math.ceil(a.length * 0.95) - 1)];
}

/** Per-device tx/rx byte counters of pppoe-* on the router. */
export async function pppBytes() {
  const out = await router('for d in /sys/class/net/pppoe-*; do [ -d "$d" ] && echo "${d##*/} $(cat $d/statistics/tx_bytes) $(cat $d/statistics/rx_bytes)"; done; true');
  const m = {};
  for (const l of out.trim().split('\n').filter(Boolean)) {
    const [d, tx, rx] = l.split(' ');
    m[d] = { tx: Number(tx), rx: Number(rx) };
  }
  return m;
}

export async function lanUp() {
  await upload('lan-netns.sh', '/tmp/bench-lan.sh');
  await router('sh /tmp/bench-lan.sh up');
}
export async function lanDown() {
  await router('[ -f /tmp/bench-sink.pid ] && kill $(cat /tmp/bench-sink.pid); rm -f /tmp/bench-sink.pid; [ -f /tmp/bench-lan.sh ] && sh /tmp/bench-lan.sh down; true');
}
