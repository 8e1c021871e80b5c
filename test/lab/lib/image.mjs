// Image build with two cached stages:
//   stage 1  build-base.sh  -> .lab/cache/base-<hash>.tar  (mmdebstrap; keyed by script + packages)
//   stage 2  build-image.sh -> .lab/image/{base.qcow2,vmlinuz,initrd.img,host_key.pub}
//            keyed by stage 1 + everything under image/ + router-root/ + the client key.
import fs from 'node:fs';
import path from 'node:path';
import { hashInputs, log, packageList, paths, readJson, readText, writeJson } from './state.mjs';
import { runOk } from './proc.mjs';

const baseScript = () => path.join(paths.imageSrc, 'build-base.sh');
const imageScript = () => path.join(paths.imageSrc, 'build-image.sh');

export async function ensureClientKey() {
  if (fs.existsSync(paths.key) && fs.existsSync(`${paths.key}.pub`)) return;
  fs.mkdirSync(paths.state, { recursive: true });
  fs.rmSync(paths.key, { force: true });
  await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'owrt-ecmp-lab', '-f', paths.key]);
}

export function baseHash() {
  return hashInputs([baseScript(), { name: 'packages', value: packageList().join(',') }]);
}

export function imageHash() {
  return hashInputs([
    { name: 'base', value: baseHash() },
    paths.imageSrc,
    paths.routerRoot,
    { name: 'client-key', value: readText(`${paths.key}.pub`) ?? '' },
  ]);
}

export function imageInfo() {
  const info = readJson(path.join(paths.image, 'image.json'));
  return info && fs.existsSync(path.join(paths.image, 'base.qcow2')) ? info : undefined;
}

export function imageIsCurrent() {
  return imageInfo()?.hash === imageHash();
}

async function ensureBaseTar() {
  const hash = baseHash();
  const tar = path.join(paths.cache, `base-${hash}.tar`);
  if (fs.existsSync(tar)) return tar;
  fs.mkdirSync(paths.cache, { recursive: true });
  const pkgs = packageList();
  log(`stage 1: mmdebstrap bookworm (${pkgs.length} packages), about a minute`);
  const t0 = Date.now();
  await runOk('bash', [baseScript(), `${tar}.tmp`, ...pkgs], { stream: true });
  fs.renameSync(`${tar}.tmp`, tar);
  for (const f of fs.readdirSync(paths.cache)) {      // keep only the current base
    if (f.startsWith('base-') && f !== path.basename(tar)) fs.rmSync(path.join(paths.cache, f), { force: true });
  }
  log(`stage 1 done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return tar;
}

/** Build the image unless the cached one matches the inputs. Returns { built, hash, seconds }. */
export async function build({ force = false } = {}) {
  await ensureClientKey();
  const hash = imageHash();
  if (!force && imageInfo()?.hash === hash) return { built: false, hash, seconds: 0 };
  const t0 = Date.now();
  const tar = await ensureBaseTar();
  const tmp = `${paths.image}.new`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  log('stage 2: lab router image');
  await runOk('bash', [imageScript(), tar, paths.routerRoot, `${paths.key}.pub`, tmp], { stream: true });
  writeJson(path.join(tmp, 'image.json'), { hash, builtAt: new Date().toISOString(), packages: packageList() });
  fs.rmSync(paths.image, { recursive: true, force: true });
  fs.renameSync(tmp, paths.image);
  const seconds = Math.round((Date.now() - t0) / 100) / 10;
  log(`image built in ${seconds} s (${hash})`);
  return { built: true, hash, seconds };
}
