#!/usr/bin/env node
// The demo: build and boot the lab router (a VM with a real PPPoE ISP), turn it into a
// 4-dial ECMP router with owrt-ecmp, show the status, and say how to undo it.
import { spawnSync } from 'node:child_process';
import { ensureUp, info } from '../test/lab/lab-api.mjs';
import { runOnLab } from './on-lab.mjs';

const step = (s) => console.log(`\n=== ${s}`);

step('building and booting the lab router (first build takes a few minutes)');
await ensureUp();
const i = info();
console.log(`lab router: ${i.user}@${i.host}:${i.port} (${i.accel}), ISP cap ${i.rateMbit ?? '?'} Mbit/s per session`);

step('owrt-ecmp setup --dials 4 --install-packages --yes');
const setup = runOnLab(['setup', '--dials', '4', '--install-packages', '--yes', '--verbose']);
if (setup.status !== 0 && setup.status !== 8) process.exit(setup.status ?? 1);

step('owrt-ecmp status');
runOnLab(['status']);

step('the kernel on the router');
spawnSync('npm', ['run', '--silent', 'lab', '--', 'ssh', 'ip route show default; ip nexthop show'], { stdio: 'inherit' });

console.log(`
Done. Next:
  npm run on-lab -- status              # dials and nexthops again
  npm run lab -- fault kill-pppd vwan2  # drop a dial and watch status
  npm run on-lab -- teardown --yes      # back to the router's original configuration
  npm run lab -- down                   # stop the VM`);
