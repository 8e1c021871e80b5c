#!/usr/bin/env node
// npm run lab -- <verb>   (see test/lab/README.md)
import * as lab from './lab-api.mjs';
import { imageInfo, imageIsCurrent } from './lib/image.mjs';

const USAGE = `usage: npm run lab -- <verb> [args]
  build [--force]                 build the image unless cached for the current inputs
  up [--rate MBIT|off] [--limit N|off] [--no-rebuild]
                                  build if needed, boot (existing overlay), wait for SSH
  down                            stop the VM (by its recorded PID)
  reset [--up]                    down + fresh overlay from the base image (clean router)
  ssh [cmd...]                    command (or interactive shell) on the router as root
  info [--json]                   connection facts
  reboot                          guest reboot, wait for SSH
  sysupgrade                      simulate a stock-image sysupgrade (keeps config, drops packages)
  isp-sessions                    live ISP sessions (JSON)
  fault kill-pppd IFACE [--signal SIG]   kill the router's pppd of dial IFACE
  fault isp-hangup IFACE|N|all           ISP ends a session (PADT)
  fault isp-limit N|off                  ISP refuses authentication beyond N sessions
  fault isp-rate MBIT|off                shaping for sessions set up from now on
  fault isp-sticky on|off                a redialling MAC gets its previous address again if free
  fault walled-garden N|off              sessions beyond N get a walled-garden address (172.30.0.0/16)
  fault cut-ssh                          kill all SSH sessions of the router
  fault silence IFACE|N|all on|off       ISP stops passing IP on a session (no hangup, LCP answered)`;

function flags(argv) {
  const rest = [], opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json' || a === '--force' || a === '--up') opts[a.slice(2)] = true;
    else if (a === '--no-rebuild') opts.rebuild = false;
    else if (['--rate', '--limit', '--signal'].includes(a)) opts[a.slice(2)] = argv[++i];
    else rest.push(a);
  }
  return { rest, opts };
}

function printVm(vm, verb) {
  const i = lab.info();
  console.log(`${verb}: VM pid ${vm.pid}, ${vm.accel.toUpperCase()}, ` +
    (vm.alreadyRunning ? 'already running' : `SSH after ${vm.bootSeconds} s`) +
    `, rate ${vm.rate} Mbit/s per session, ISP limit ${vm.limit}`);
  console.log(`ssh -i ${i.identityFile} -o UserKnownHostsFile=${i.knownHostsFile} -p ${i.port} root@${i.host}`);
}

async function main(argv) {
  const [verb, ...args] = argv;
  const { rest, opts } = flags(args);
  switch (verb) {
    case 'build': {
      const r = await lab.build({ force: opts.force });
      console.log(r.built ? `built image ${r.hash} in ${r.seconds} s` : `image ${r.hash} is up to date`);
      return 0;
    }
    case 'up': printVm(await lab.up(opts), 'up'); return 0;
    case 'down': console.log((await lab.down()) ? 'down: VM stopped' : 'down: VM was not running'); return 0;
    case 'reset': {
      const vm = await lab.reset(opts);
      if (vm) printVm(vm, 'reset'); else console.log('reset: fresh overlay on the base image (VM stopped; `up` boots it)');
      return 0;
    }
    case 'ssh': return lab.sshInteractive(args);
    case 'info': {
      const i = { ...lab.info(), image: imageInfo()?.hash ?? null, imageCurrent: imageIsCurrent() };
      if (opts.json) console.log(JSON.stringify(i, null, 2));
      else for (const [k, v] of Object.entries(i)) console.log(`${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
      return 0;
    }
    case 'reboot': {
      const r = await lab.reboot();
      console.log(`reboot: SSH back after ${r.seconds} s (boot id ${r.bootId})`);
      return 0;
    }
    case 'sysupgrade': {
      const r = await lab.sysupgrade();
      console.log(`sysupgrade: kept ${r.kept.length} file(s), clean image booted, config restored, rebooted`);
      for (const f of r.kept) console.log(`  ${f}`);
      return 0;
    }
    case 'isp-sessions': console.log(JSON.stringify(await lab.ispSessions(), null, 2)); return 0;
    case 'fault': {
      const [kind, ...fargs] = rest;
      if (kind === 'kill-pppd' && opts.signal) fargs[1] = opts.signal;
      console.log(await lab.fault(kind, ...fargs));
      return 0;
    }
    default:
      console.error(USAGE);
      return verb === undefined || verb === 'help' || verb === '--help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
  console.error(`lab: ${e.message}`);
  process.exitCode = 1;
});
