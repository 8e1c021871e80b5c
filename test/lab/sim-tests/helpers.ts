// Helpers for host-side tests of the lab router's simulated OpenWrt tools.
// Nothing here imports from src/: the sim must stay independent of the product.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'router-root');
export const UCI = join(ROOT, 'sbin', 'uci');
export const JSONFILTER = join(ROOT, 'usr', 'bin', 'jsonfilter');
export const HOTPLUG_CALL = join(ROOT, 'sbin', 'hotplug-call');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const r = spawnSync(cmd, args, {
    input: opts.input,
    env: opts.env ?? process.env,
    encoding: 'utf8',
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A private confdir plus a private "default" save dir (stands in for /tmp/.uci). */
export class UciSandbox {
  readonly dir = mkdtempSync(join(tmpdir(), 'lab-uci-'));
  readonly confdir = join(this.dir, 'config');
  readonly defaultSave = join(this.dir, 'tmp-uci');

  constructor() {
    mkdirSync(this.confdir);
  }

  env(): NodeJS.ProcessEnv {
    return { ...process.env, UCI_SIM_DEFAULT_SAVEDIR: this.defaultSave };
  }

  uci(args: string[], input?: string): Run {
    return run(UCI, ['-c', this.confdir, ...args], { input, env: this.env() });
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
