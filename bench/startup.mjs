// Startup time of the built CLI: `node dist/cli.js --help` and `--version`, median of N runs.
// A measurement, not a test: machines differ. Usage: node bench/startup.mjs [runs] [other/cli.js]
// With a second CLI (e.g. an older build) both are timed turn by turn, so load on a shared
// machine hits them alike.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const clis = [join(import.meta.dirname, '..', 'dist', 'cli.js'), ...process.argv.slice(3)];
const runs = Math.max(20, Number(process.argv[2] ?? 20));

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** ms per CLI, alternating between them run by run. */
function time(args) {
  const ms = clis.map(() => []);
  for (let i = 0; i < runs; i++) {
    clis.forEach((cli, k) => {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      ms[k].push(performance.now() - t0);
      if (r.status !== 0) throw new Error(`node ${cli} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    });
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

const fmt = (ms) => `${median(ms).toFixed(0).padStart(5)} (${Math.min(...ms).toFixed(0)}-${Math.max(...ms).toFixed(0)})`.padEnd(20);
console.log(`node ${process.version}, ${runs} runs each, median (min-max) in ms; columns: ${clis.join(' | ')}`);
console.log(`${'node -e 0 (floor)'.padEnd(16)} ${fmt(floor)}`);
for (const args of [['--help'], ['--version'], ['setup', '--help']]) {
  console.log(`${args.join(' ').padEnd(16)} ${time(args).map(fmt).join(' ')}`);
}
