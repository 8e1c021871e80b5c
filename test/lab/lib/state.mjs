// Where the lab keeps its state (<repo>/.lab, gitignored) and small fs helpers.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const LAB_SRC = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const REPO = path.resolve(LAB_SRC, '..', '..');
export const STATE = process.env.OWRT_ECMP_LAB_DIR ?? path.join(REPO, '.lab');

export const paths = {
  src: LAB_SRC,
  imageSrc: path.join(LAB_SRC, 'image'),
  routerRoot: path.join(LAB_SRC, 'router-root'),
  state: STATE,
  key: path.join(STATE, 'id_ed25519'),
  knownHosts: path.join(STATE, 'known_hosts'),
  cache: path.join(STATE, 'cache'),          // base-<hash>.tar (stage 1)
  image: path.join(STATE, 'image'),          // base.qcow2, vmlinuz, initrd.img, host_key.pub, image.json
  overlay: path.join(STATE, 'overlay.qcow2'),
  vmJson: path.join(STATE, 'vm.json'),
  pidFile: path.join(STATE, 'qemu.pid'),
  console: path.join(STATE, 'console.log'),
  accel: path.join(STATE, 'accel.json'),
  lock: path.join(STATE, 'lock'),
};

/** Packages of the image: ours + one per line from router-root/PACKAGES (# comments allowed). */
export const BASE_PACKAGES = [
  'linux-image-amd64', 'ppp', 'ppp-dev', 'pppoe', 'iproute2', 'busybox', 'dropbear-bin',
  'iperf3', 'nftables', 'python3-minimal', 'libpython3-stdlib', 'kmod', 'procps', 'radvd', 'dnsmasq-base',
];

export function packageList() {
  const extra = readText(path.join(paths.routerRoot, 'PACKAGES') ) ?? '';
  const names = extra.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
  return [...new Set([...BASE_PACKAGES, ...names])].sort();
}

export function readText(file) {
  try { return fs.readFileSync(file, 'utf8'); } catch { return undefined; }
}

export function readJson(file) {
  const text = readText(file);
  return text === undefined ? undefined : JSON.parse(text);
}

export function writeJson(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  fs.renameSync(`${file}.tmp`, file);
}

/** Content hash of files and whole trees (path, type, exec bit, content, link target). */
export function hashInputs(entries) {
  const h = createHash('sha256');
  const walk = (abs, rel) => {
    const st = fs.lstatSync(abs, { throwIfNoEntry: false });
    if (!st) { h.update(`missing ${rel}\n`); return; }
    if (st.isSymbolicLink()) h.update(`link ${rel} ${fs.readlinkSync(abs)}\n`);
    else if (st.isDirectory()) {
      h.update(`dir ${rel}\n`);
      // (compiled Python that running the stand-ins on the host may leave is not an input)
      for (const name of fs.readdirSync(abs).sort()) if (name !== '__pycache__') walk(path.join(abs, name), `${rel}/${name}`);
    } else {
      h.update(`file ${rel} ${st.mode & 0o111 ? 'x' : '-'} ${st.size}\n`);
      h.update(fs.readFileSync(abs));
    }
  };
  for (const e of entries) {
    if (typeof e === 'string') walk(e, path.relative(LAB_SRC, e));
    else h.update(`${e.name}=${e.value}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

export function pidAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
}

/** Exclusive lab lock (one build/boot at a time); stale locks of dead pids are taken over. */
export async function withLock(fn) {
  fs.mkdirSync(STATE, { recursive: true });
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      fs.writeFileSync(paths.lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      const owner = Number(readText(paths.lock));
      if (owner === process.pid) return fn();          // re-entrant
      if (!pidAlive(owner)) { fs.rmSync(paths.lock, { force: true }); continue; }
      if (Date.now() > deadline) throw new Error(`lab is locked by pid ${owner}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try { return await fn(); } finally { fs.rmSync(paths.lock, { force: true }); }
}

export const log = (msg) => process.stderr.write(`lab: ${msg}\n`);
