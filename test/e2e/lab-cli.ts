/**
 * The real owrt-ecmp binary against the lab router, for the e2e suites. Every output of
 * every run goes through `checkSecrets`: the lab account's PPPoE password (copied from wan
 * into each dial) and any secret a test registers must never show up in stdout or stderr.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, expect } from 'vitest';
// @ts-expect-error the lab is plain JavaScript with no type declarations
import * as lab from '../lab/lab-api.mjs';

export { lab };
export const labEnabled = process.env.OWRT_ECMP_LAB !== '0';
/**
 * Issue 12's suites (balance modes, dial probing, dial health), about 8 min of lab time. On unless
 * OWRT_ECMP_E2E_ISSUE12=0: they were opt-in while a CI run showed the monitor flapping a dial
 * (a probe judged 0.9 s after its launch on a loaded router; now judged by its end).
 */
export const issue12Enabled = labEnabled && process.env.OWRT_ECMP_E2E_ISSUE12 !== '0';
export const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli.js');
export const exportCmd = 'uci export network; uci export firewall';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const secrets = new Set<string>([lab.ISP_ACCOUNT.password as string]);

/** A secret this test put into play (e.g. a --password-file's content). */
export function registerSecret(s: string): void {
  secrets.add(s);
}

/** Fails the test if any registered secret appears in the output; also keeps a transcript when asked. */
export function checkSecrets(args: readonly string[], r: Run): void {
  const out = `${r.stdout}\n${r.stderr}`;
  if (process.env.OWRT_ECMP_E2E_TRANSCRIPT) {
    appendFileSync(process.env.OWRT_ECMP_E2E_TRANSCRIPT, `$ owrt-ecmp ${args.join(' ')}\n${out}\n`);
  }
  for (const s of secrets) {
    expect(out.includes(s), `a secret appeared in the output of: owrt-ecmp ${args.join(' ')}`).toBe(false);
  }
}

/** --host/--identity/--known-hosts for the lab router. */
export function labArgs(): string[] {
  const i = lab.info();
  // the emulated router can take longer than a real one for the SSH handshake while it works
  return ['--host', `${i.user}@${i.host}:${i.port}`, '--identity', i.identityFile, '--known-hosts', i.knownHostsFile, '--connect-timeout', '40'];
}

/** Runs the CLI with exactly these arguments. */
export function owrtRaw(args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
    timeout: 300_000,
  });
  // a run the harness had to kill says so, so a failure reads as a timeout and not as exit "null"
  const killed = r.signal ? `\n[lab-cli: the run was killed by ${r.signal}${r.error ? ` (${r.error.message})` : ''}]` : '';
  const run = { code: r.status, stdout: r.stdout, stderr: r.stderr + killed };
  checkSecrets(args, run);
  return run;
}

/** `owrt-ecmp <command> <lab connection> <rest>`. */
export function owrt(args: string[], env: Record<string, string> = {}): Run {
  const [command, ...rest] = args;
  return owrtRaw([command ?? '', ...labArgs(), ...rest], env);
}

/** The same, in the background; `onStderr` sees stderr as it arrives (e.g. to kill the tool at a point). */
export function owrtAsync(args: string[], onStderr?: (all: string, kill: () => void) => void): Promise<Run> {
  const [command, ...rest] = args;
  const argv = [command ?? '', ...labArgs(), ...rest];
  const child = spawn(process.execPath, [cli, ...argv], { env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  const kill = () => child.kill('SIGKILL');
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    onStderr?.(stderr, kill);
  });
  return new Promise((resolve) =>
    child.on('close', (code) => {
      const run = { code, stdout, stderr };
      checkSecrets(argv, run);
      resolve(run);
    }),
  );
}

export function router(cmd: string): Promise<string> {
  return lab.sshOk(cmd);
}

/**
 * The router's side of a failure, short enough for a CI log: netifd's and the ISP's session
 * logs, the tool's syslog lines, dials, rules and the ECMP route. Lab-owned files only.
 */
export async function routerDiagnostics(): Promise<string> {
  const cmd = [
    'echo "== netifd"; tail -n 25 /var/log/netifd-sim/netifd.log 2>/dev/null',
    'echo "== isp sessions"; tail -n 15 /run/isp/sessions.log 2>/dev/null',
    'echo "== owrt-ecmp / pppd syslog"; logread 2>/dev/null | grep -E "owrt-ecmp|pppd|netifd|firewall" | grep -vE "pppd.*(DNS address|LL address|Plugin|started by|Renamed|Using interface)" | tail -n 40',
    'echo "== dials"; ip -4 -o addr show 2>/dev/null | grep -o "pppoe-[^ ]* *inet [^ ]*"',
    'echo "== rules"; ip -4 rule 2>/dev/null | grep -v "^0:\\|32766:\\|32767:"',
    'echo "== ecmp"; ip -4 route show table 3000 2>/dev/null',
    'echo "== rollback"; cat /tmp/owrt-ecmp-rollback/state 2>/dev/null',
  ].join('; ');
  try {
    const r: Run = await lab.sshRun(cmd, { timeoutMs: 30_000 });
    return r.stdout + r.stderr;
  } catch (e) {
    return `(no diagnostics: ${(e as Error).message})`;
  }
}

/**
 * Call inside a describe: a failed test's error carries routerDiagnostics(), so a CI log that
 * shows only the failure summary still says what the router did.
 */
export function diagnoseFailures(): void {
  beforeEach(({ onTestFailed }) => {
    onTestFailed(async ({ task }) => {
      const diag = await routerDiagnostics();
      const err = task.result?.errors?.[0];
      if (err) err.message = `${err.message}\n--- router at the failure ---\n${diag}`;
      else console.log(`--- router at the failure ---\n${diag}`);
    });
  });
}

/** Poll until `check` passes; returns the seconds it took. */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutS = 90, everyMs = 100): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > timeoutS * 1000) throw new Error(`timed out after ${timeoutS} s waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Devices of the live (not dead) nexthops of the ECMP default route at `metric` (in table `table`, the tool's base). */
export async function ecmpDevs(fam: '-4' | '-6' = '-4', metric = 10, table = 3000): Promise<string[]> {
  // a table with no route does not exist: ip then prints a lone "[" and fails
  const out = (await router(`r=$(ip -j ${fam} route show default table ${table} metric ${metric} 2>/dev/null) || r='[]'; echo "$r"`)).trim();
  const routes = out ? JSON.parse(out) : [];
  const r = routes[0];
  if (!r) return [];
  return (r.nexthops ?? [{ dev: r.dev }])
    .filter((n: { flags?: string[] }) => !(n.flags ?? []).includes('dead'))
    .map((n: { dev: string }) => n.dev)
    .sort();
}

export const devsFor = (n: number): string[] =>
  ['pppoe-wan', ...Array.from({ length: n - 1 }, (_, i) => `pppoe-vwan${i + 2}`)].sort();

/** Bytes each ppp device of the router has sent so far (its tx counter). */
export async function txBytes(): Promise<Record<string, number>> {
  const out = await router('for d in /sys/class/net/pppoe-*; do [ -e "$d" ] && echo "${d##*/} $(cat $d/statistics/tx_bytes)"; done; true');
  return Object.fromEntries(out.trim().split('\n').filter(Boolean).map((l) => l.split(' ')).map(([d, b]) => [d, Number(b)]));
}

export interface LanIperf {
  mbit: number;
  /** MB each ppp device sent during the run. */
  perDev: Record<string, number>;
  attempts: number;
}

/**
 * `flows` parallel iperf3 flows from the lab's LAN host (netns `lan`, masqueraded by fw4) to
 * the ISP's iperf3 server. iperf3 reports some failures (server busy with the last run's
 * teardown, a refused control connection) as an `error` field in its JSON with no results:
 * those are retried, a few seconds apart, instead of read as a figure.
 */
export async function lanIperf(flows: number, seconds = 8, omit = 2): Promise<LanIperf> {
  for (let attempt = 1; ; attempt++) {
    const before = await txBytes();
    const r = await lab.lanRun(`iperf3 -c ${lab.IPERF_HOST} -p ${lab.IPERF_PORTS[0]} -P ${flows} -t ${seconds} -O ${omit} -J`);
    const after = await txBytes();
    let j: { error?: string; end?: { sum_received?: { bits_per_second: number } } } = {};
    try {
      j = JSON.parse(r.stdout);
    } catch {
      j = { error: `no JSON (exit ${r.code}): ${r.stderr.trim().slice(0, 200)}` };
    }
    const bps = j.end?.sum_received?.bits_per_second;
    if (!j.error && typeof bps === 'number') {
      const perDev = Object.fromEntries(Object.keys(after).map((d) => [d, (after[d]! - (before[d] ?? after[d]!)) / 1e6]));
      return { mbit: bps / 1e6, perDev, attempts: attempt };
    }
    if (attempt >= 4) throw new Error(`iperf3 from the LAN host failed ${attempt} times, last: ${j.error ?? 'no sum_received'}`);
    await new Promise((res) => setTimeout(res, 3000));
  }
}
