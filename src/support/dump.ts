import { ROUTER_FILES } from '../paths.js';
import { render } from '../render/env.js';
import { allowEntries, SECRET_NAME } from './allow-list.js';

/**
 * doctor's one round trip: the probe and the support-dump extras, with every config value
 * not on the allow-list masked on the router itself, so no secret reaches this machine
 * (nor a --debug transcript of it).
 */
export function supportScript(): string {
  return [
    render('redact.sh', { secret: SECRET_NAME.source, allow: allowEntries().join(' ') }),
    render('probe.sh', { files: ROUTER_FILES, redact: true }),
    render('doctor.sh', {}),
  ].join('\n');
}

/** The `configs` section, `package <name>` headed as `uci export` prints it → name → text. */
export function splitPackages(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let name: string | undefined;
  let body: string[] = [];
  const flush = (): void => {
    if (name !== undefined) out[name] = body.join('\n').trim();
  };
  for (const line of text.split('\n')) {
    const m = /^package (\S+)$/.exec(line);
    if (m?.[1]) {
      flush();
      name = m[1];
      body = [];
    } else body.push(line);
  }
  flush();
  return out;
}
