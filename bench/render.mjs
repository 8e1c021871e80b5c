// Re-render docs/benchmarks.md (+ the SVG) and the table from a results file:
//   node bench/render.mjs bench/results/<date>.json
import fs from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { root } from './lib.mjs';
import { renderReport, renderSvg, table } from './report.mjs';

const file = resolve(process.argv[2] ?? '');
const res = JSON.parse(fs.readFileSync(file, 'utf8'));
if (res.scenarios.trace) fs.writeFileSync(join(root, 'docs', 'benchmarks-failover.svg'), renderSvg(res.scenarios.trace));
fs.writeFileSync(join(root, 'docs', 'benchmarks.md'), renderReport(res, relative(root, file)));
console.log(table(res));
