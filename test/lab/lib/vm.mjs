// The QEMU VM: accelerator probe, overlay, start/stop by recorded PID.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { log, paths, pidAlive, readJson, readText, writeJson } from './state.mjs';
import { run, runOk, sleep } from './proc.mjs';
import { sshRun, waitForSsh, writeKnownHosts } from './ssh.mjs';

const QEMU = 'qemu-system-x86_64';

const SUPERVISOR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'supervisor.mjs');
const qemuArgsFile = () => path.join(paths.state, 'qemu-args.json');

/** The running VM's record (vm.json), or undefined. vm.pid is the supervisor's pid. */
export function vmState() {
  const vm = readJson(paths.vmJson);
  if (!vm) return undefined;
  // (a QEMU pid in vm.json: a VM started before the supervisor existed)
  return isOurs(vm.pid, 'supervisor.mjs', qemuArgsFile()) || isOurs(vm.pid, QEMU, paths.overlay) ? vm : undefined;
}

/** Every QEMU whose disk is our overlay: two of them would corrupt it. */
function qemusOnOverlay() {
  const disk = `file=${paths.overlay},`;
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number)
    .filter((pid) => isOurs(pid, QEMU, disk));
}

// Guard against recycled pids: the process must be ours (its argv names our files).
function isOurs(pid, ...words) {
  if (!pidAlive(pid)) return false;
  const cmd = readText(`/proc/${pid}/cmdline`) ?? '';
  return words.every((w) => cmd.includes(w));
}

function qemuPid() {
  const pid = Number(readText(paths.pidFile));
  return isOurs(pid, QEMU, paths.overlay) ? pid : undefined;
}

/**
 * KVM or TCG. Nested KVM may hang instead of failing, so boot the kernel with a 5 s budget
 * and look for its first console line. Cached per host boot (LAB_ACCEL=kvm|tcg forces).
 */
export async function chooseAccel() {
  if (process.env.LAB_ACCEL) return process.env.LAB_ACCEL;
  const bootId = readText('/proc/sys/kernel/random/boot_id')?.trim();
  const cached = readJson(paths.accel);
  if (cached?.bootId === bootId) return cached.accel;
  let accel = 'tcg';
  if (fs.existsSync('/dev/kvm')) {
    const probeLog = path.join(paths.state, 'kvm-probe.log');
    fs.rmSync(probeLog, { force: true });
    await run('timeout', ['-k', '2', '5', QEMU, '-accel', 'kvm', '-M', 'q35', '-m', '256', '-nodefaults',
      '-display', 'none', '-no-reboot', '-serial', `file:${probeLog}`,
      '-kernel', path.join(paths.image, 'vmlinuz'), '-append', 'console=ttyS0 panic=-1']);
    if ((readText(probeLog) ?? '').includes('Linux version')) accel = 'kvm';
  }
  writeJson(paths.accel, { bootId, accel, probedAt: new Date().toISOString() });
  return accel;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function newOverlay() {
  fs.rmSync(paths.overlay, { force: true });
  await runOk('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2',
    '-b', path.join(paths.image, 'base.qcow2'), paths.overlay]);
}

/**
 * Boot the VM on the existing overlay (a fresh one if there is none) and wait for SSH.
 * opts: rate (Mbit/s per session and direction, or 'off'), limit (ISP session limit or 'off'),
 * memoryMb, cpus, port.
 */
export async function start(opts = {}) {
  const rate = String(opts.rate ?? process.env.LAB_RATE ?? 10);
  const limit = String(opts.limit ?? process.env.LAB_ISP_LIMIT ?? 'off');
  const memoryMb = Number(opts.memoryMb ?? process.env.LAB_MEMORY_MB ?? 512);
  const cpus = Number(opts.cpus ?? process.env.LAB_CPUS ?? 2);
  if (!/^(off|\d+(\.\d+)?)$/.test(rate)) throw new Error(`bad rate ${rate} (Mbit/s or off)`);
  if (!/^(off|\d+)$/.test(limit)) throw new Error(`bad limit ${limit} (number or off)`);
  if (qemusOnOverlay().length) await stop();   // strays (e.g. a killed supervisor's QEMU)
  if (!fs.existsSync(paths.overlay)) await newOverlay();
  const accel = await chooseAccel();
  const port = Number(opts.port ?? process.env.LAB_SSH_PORT ?? await freePort());
  writeKnownHosts(port);
  fs.rmSync(paths.pidFile, { force: true });
  const append = ['root=/dev/vda', 'rw', 'console=ttyS0', 'net.ifnames=0', 'quiet', 'fastboot',
    'init=/sbin/init', `lab.rate=${rate}`, `lab.limit=${limit}`].join(' ');
  const args = [
    '-name', 'owrt-ecmp-lab', '-M', 'q35', '-accel', accel === 'kvm' ? 'kvm' : `tcg,thread=${process.env.LAB_TCG_THREAD ?? 'multi'}`,
    '-cpu', process.env.LAB_QEMU_CPU ?? (accel === 'kvm' ? 'host' : 'qemu64'), '-smp', String(cpus), '-m', String(memoryMb),
    '-nodefaults', '-display', 'none', '-no-reboot',
    '-chardev', `file,id=console,path=${paths.console},append=on`, '-serial', 'chardev:console',
    '-kernel', path.join(paths.image, 'vmlinuz'), '-initrd', path.join(paths.image, 'initrd.img'),
    '-append', append,
    '-drive', `file=${paths.overlay},if=virtio,format=qcow2,discard=unmap`,
    '-netdev', `user,id=lan,restrict=on,ipv6=off,hostfwd=tcp:127.0.0.1:${port}-:22`,
    '-device', 'virtio-net-pci,netdev=lan,mac=52:54:00:12:34:56',
  ];
  const t0 = Date.now();
  fs.writeFileSync(paths.console, '');
  writeJson(qemuArgsFile(), { qemu: QEMU, args, console: paths.console, pidFile: paths.pidFile });
  const sup = spawn(process.execPath, [SUPERVISOR, qemuArgsFile()], { detached: true, stdio: 'ignore' });
  sup.unref();
  const pid = sup.pid;
  for (let i = 0; i < 100 && !qemuPid(); i++) await sleep(100);
  if (!qemuPid()) {
    await sleep(500);
    if (!pidAlive(pid)) throw new Error('QEMU did not start (try it by hand: see .lab/qemu-args.json)');
  }
  const vm = { pid, port, accel, rate, limit, startedAt: new Date().toISOString(),
    image: readJson(path.join(paths.image, 'image.json'))?.hash };
  writeJson(paths.vmJson, vm);
  log(`VM started (supervisor pid ${pid}, QEMU pid ${qemuPid()}, ${accel.toUpperCase()}), waiting for SSH on 127.0.0.1:${port}`);
  try {
    vm.bootId = await waitForSsh(port, { alive: () => pidAlive(pid) });
  } catch (e) {
    await stop();
    throw e;
  }
  vm.bootSeconds = Math.round((Date.now() - t0) / 100) / 10;
  writeJson(paths.vmJson, vm);
  return vm;
}

/** Stop the VM by its recorded PIDs (supervisor, then QEMU; sync first if SSH answers). */
export async function stop() {
  const vm = vmState();
  if (vm) await sshRun('sync', { port: vm.port, timeoutMs: 3000 }).catch(() => {});
  for (const pid of new Set([vm?.pid, qemuPid(), ...qemusOnOverlay()])) {
    if (!pid || !pidAlive(pid)) continue;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 50 && pidAlive(pid); i++) await sleep(100);
    if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 50 && pidAlive(pid); i++) await sleep(100);
  }
  fs.rmSync(paths.vmJson, { force: true });
  fs.rmSync(paths.pidFile, { force: true });
  return Boolean(vm);
}
