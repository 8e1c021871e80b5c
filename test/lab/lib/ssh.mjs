// SSH to the lab router with the system OpenSSH client, pinned to the VM's known host key.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { paths, readJson } from './state.mjs';
import { run, sleep } from './proc.mjs';

export const HOST = '127.0.0.1';
export const USER = 'root';

export function writeKnownHosts(port) {
  const key = fs.readFileSync(path.join(paths.image, 'host_key.pub'), 'utf8').trim();
  fs.writeFileSync(paths.knownHosts, `[${HOST}]:${port} ${key}\n`);
}

function currentPort() {
  const port = readJson(paths.vmJson)?.port;
  if (!port) throw new Error('lab VM is not running (npm run lab -- up)');
  return port;
}

export function sshArgs(port = currentPort(), { tty = false, connectTimeout = 10 } = {}) {
  return [
    '-i', paths.key, '-p', String(port), '-l', USER,
    '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none',
    '-o', `UserKnownHostsFile=${paths.knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR',
    '-o', `ConnectTimeout=${connectTimeout}`, '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3',
    tty ? '-t' : '-T', HOST,
  ];
}

/**
 * Run a shell command on the router (under BusyBox ash). opts: input, timeoutMs, encoding,
 * port. Resolves { code, stdout, stderr }; code 255 = SSH itself failed.
 */
export function sshRun(command, opts = {}) {
  const { port, timeoutMs = 120_000, ...rest } = opts;
  return run('ssh', [...sshArgs(port), command], { timeoutMs, ...rest });
}

/** Like sshRun but throws unless the command exits 0; returns stdout. */
export async function sshOk(command, opts = {}) {
  const r = await sshRun(command, opts);
  if (r.code !== 0) {
    throw new Error(`router command failed (exit ${r.code}): ${command}\n${String(r.stderr).trim()}`);
  }
  return r.stdout;
}

/** True once the guest's sshd sends its banner (QEMU's forwarder accepts even without a guest). */
export function sshBanner(port, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const sock = net.connect(port, HOST);
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.on('data', (d) => done(d.toString().startsWith('SSH-')));
    sock.on('error', () => done(false));
    sock.on('end', () => done(false));
  });
}

/** Wait until a command over SSH succeeds; `alive()` false aborts (VM died). */
export async function waitForSsh(port, { timeoutMs = 180_000, alive = () => true } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error('VM exited while waiting for SSH (see .lab/console.log)');
    if (await sshBanner(port)) {
      const r = await sshRun('cat /proc/sys/kernel/random/boot_id', { port, timeoutMs: 15_000 });
      if (r.code === 0) return r.stdout.trim();
    }
    await sleep(500);
  }
  throw new Error(`no SSH on ${HOST}:${port} after ${timeoutMs / 1000} s (see .lab/console.log)`);
}
