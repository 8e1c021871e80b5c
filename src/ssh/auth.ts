/**
 * Authentication order like OpenSSH: agent → identity files → password (only if given) → none.
 * `none` comes last because a fresh OpenWrt root has an empty password and dropbear lets it in.
 */
import { existsSync, readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, AuthHandlerMiddleware, ParsedKey } from 'ssh2';
import type { SshTarget } from './target.js';

export interface AuthPlan {
  methods: Array<{ method: AnyAuthMethod; label: string }>;
  /** Keys we could not use, with the reason; named in the AuthError if everything fails. */
  skippedKeys: Array<{ file: string; reason: 'encrypted' | 'bad-passphrase' | 'unreadable' }>;
}

export function planAuth(target: SshTarget, secrets: { password?: string; passphrase?: string }): AuthPlan {
  const username = target.user;
  const plan: AuthPlan = { methods: [], skippedKeys: [] };
  if (target.agent !== undefined && existsSync(target.agent)) {
    plan.methods.push({ method: { type: 'agent', username, agent: target.agent }, label: 'agent' });
  }
  for (const file of target.identityFiles) {
    const key = loadKey(file, secrets.passphrase, plan);
    if (key) plan.methods.push({ method: { type: 'publickey', username, key }, label: `publickey ${file}` });
  }
  if (secrets.password !== undefined) {
    plan.methods.push({ method: { type: 'password', username, password: secrets.password }, label: 'password' });
  }
  plan.methods.push({ method: { type: 'none', username }, label: 'none' });
  return plan;
}

function loadKey(file: string, passphrase: string | undefined, plan: AuthPlan): ParsedKey | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    plan.skippedKeys.push({ file, reason: 'unreadable' });
    return undefined;
  }
  const parsed = ssh2.utils.parseKey(data, passphrase);
  if (parsed instanceof Error) {
    const encrypted = /encrypted|passphrase/i.test(parsed.message);
    plan.skippedKeys.push({
      file,
      reason: encrypted ? (passphrase === undefined ? 'encrypted' : 'bad-passphrase') : 'unreadable',
    });
    return undefined;
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || !key.isPrivateKey()) {
    plan.skippedKeys.push({ file, reason: 'unreadable' });
    return undefined;
  }
  return key;
}

/** Offer the planned methods in order, skipping those the server said it will not take. */
export function authHandler(plan: AuthPlan, onTry: (label: string) => void): AuthHandlerMiddleware {
  let i = 0;
  return (authsLeft, _partial, next) => {
    while (i < plan.methods.length) {
      const m = plan.methods[i++];
      if (!m) break;
      const wire = m.method.type === 'agent' ? 'publickey' : m.method.type;
      // authsLeft is null before the first failure; 'none' is always worth a try
      if (authsLeft && wire !== 'none' && !authsLeft.includes(wire)) continue;
      onTry(m.label);
      next(m.method);
      return;
    }
    // ssh2 takes `false` as "no more methods" (then fails with client-authentication); its types omit it
    next(false as never);
  };
}

export function describeSkipped(plan: AuthPlan): string {
  return plan.skippedKeys
    .map((s) =>
      s.reason === 'encrypted'
        ? `key ${s.file} is encrypted and no passphrase was given`
        : s.reason === 'bad-passphrase'
          ? `the passphrase does not decrypt key ${s.file}`
          : `key ${s.file} could not be read or parsed`,
    )
    .join('; ');
}
