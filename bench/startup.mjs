// Startup time of the built CLI: `node dist/cli.js --help` and `--version`, median of N runs.
// A measurement, not a test: machines differ. Usage: node bench/startup.mjs [runs]
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const cli = join(import.meta.dirname, '..', 'dist', 'cli.js');
const runs = Math.max(20, Number(process.argv[2] ?? 20));

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function time(args) {
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    ms.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`node dist/cli.js ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  }
  return ms;
}

// the bare Node start is the floor no CLI can go under
const floor = (() => {
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    ms.push(performance.now() - t0);
  }
  return ms;
})();

console.log(`node ${process.version}, ${runs} runs each, median (min-max) in ms`);
for (const [name, ms] of [['node -e 0 (floor)', floor], ['--help', time(['--help'])], ['--version', time(['--version'])], ['setup --help', time(['setup', '--help'])]]) {
  console.log(`${name.padEnd(20)} ${median(ms).toFixed(0).padStart(5)}  (${Math.min(...ms).toFixed(0)}-${Math.max(...ms).toFixed(0)})`);
}
