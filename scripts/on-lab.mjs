#!/usr/bin/env node
// Run owrt-ecmp against the lab router: `npm run on-lab -- status` adds the lab's host,
// port, key and known_hosts to the arguments. Starts the lab if it is not running.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureUp, info } from '../test/lab/lab-api.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function labArgs() {
  const i = info();
  return ['--host', `${i.user}@${i.host}:${i.port}`, '--identity', i.identityFile, '--known-hosts', i.knownHostsFile, '--connect-timeout', '40'];
}

export function runOnLab(args, opts = {}) {
  const [command, ...rest] = args;
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), command, ...labArgs(), ...rest], {
    stdio: opts.stdio ?? 'inherit',
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
  });
  return r;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.length < 3) {
    console.error('usage: npm run on-lab -- <setup|status|hotplug|doctor|teardown> [options]');
    process.exit(2);
  }
  await ensureUp();
  process.exit(runOnLab(process.argv.slice(2)).status ?? 1);
}
