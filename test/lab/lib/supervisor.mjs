// Runs QEMU for the lab VM and turns a guest reboot into a fresh QEMU process.
// QEMU runs with -no-reboot, so a guest reboot ends it; if the serial console shows the
// kernel's "reboot: Restarting system" since this QEMU started, QEMU is started again
// (same disk, same port). A warm reset inside one TCG QEMU sometimes froze the guest.
// Any other end (power off, crash) ends the supervisor. SIGTERM: stop QEMU, then exit.
//
// usage: node supervisor.mjs <qemu-args.json>   ({ qemu, args, console, pidFile })
import { spawn } from 'node:child_process';
import fs from 'node:fs';

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
let child;
let stopping = false;

function consoleSize() {
  try { return fs.statSync(spec.console).size; } catch { return 0; }
}

function consoleSince(offset) {
  try {
    const fd = fs.openSync(spec.console, 'r');
    const len = Math.max(0, fs.fstatSync(fd).size - offset);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, offset);
    fs.closeSync(fd);
    return buf.toString('utf8');
  } catch { return ''; }
}

function runOnce() {
  const offset = consoleSize();
  child = spawn(spec.qemu, spec.args, { stdio: 'ignore' });
  fs.writeFileSync(spec.pidFile, `${child.pid}\n`);
  child.on('exit', () => {
    fs.rmSync(spec.pidFile, { force: true });
    if (!stopping && /reboot: Restarting system/.test(consoleSince(offset))) runOnce();
    else process.exit(0);
  });
}

process.on('SIGTERM', () => {
  stopping = true;
  if (child && child.exitCode === null) child.kill('SIGTERM');
  else process.exit(0);
});
process.on('SIGINT', () => {});
runOnce();
