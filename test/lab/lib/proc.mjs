// Child processes: run to completion, capture or stream output.
import { spawn } from 'node:child_process';

/**
 * Run a command. opts: input (string|Buffer for stdin), stream (true: inherit stdout/stderr),
 * timeoutMs (SIGKILL after), encoding ('utf8' default, null for Buffers), env.
 * Resolves { code, signal, stdout, stderr }; never rejects for a non-zero exit.
 */
export function run(cmd, args, opts = {}) {
  const { input, stream = false, timeoutMs, encoding = 'utf8', env } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: [input === undefined ? (stream ? 'inherit' : 'ignore') : 'pipe',
        stream ? 'inherit' : 'pipe', stream ? 'inherit' : 'pipe'],
      env: env ? { ...process.env, ...env } : process.env,
    });
    const out = [], err = [];
    child.stdout?.on('data', (d) => out.push(d));
    child.stderr?.on('data', (d) => err.push(d));
    const timer = timeoutMs ? setTimeout(() => child.kill('SIGKILL'), timeoutMs) : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const decode = (parts) => (encoding ? Buffer.concat(parts).toString(encoding) : Buffer.concat(parts));
      resolve({ code, signal, stdout: decode(out), stderr: decode(err) });
    });
    if (input !== undefined) {
      child.stdin.on('error', () => {});   // the remote may exit without reading everything
      child.stdin.end(input);
    }
  });
}

/** run() that throws with the command's stderr on a non-zero exit. */
export async function runOk(cmd, args, opts = {}) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    const detail = opts.stream ? '' : `\n${String(r.stderr).trim()}`;
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code ?? r.signal})${detail}`);
  }
  return r;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
