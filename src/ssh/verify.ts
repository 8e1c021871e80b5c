/** Host key verification against known_hosts, and mapping ssh2's errors to our typed errors. */
import { AuthError, ConnectError, HostKeyError, OwrtEcmpError } from '../errors.js';
import { describeSkipped, type AuthPlan } from './auth.js';
import {
  appendKnownHost,
  checkHostKey,
  fingerprintSha256,
  keyTypeOf,
  knownHostName,
  knownKeyTypes,
  readKnownHostsFile,
} from './known-hosts.js';
import type { ServerHostKeyAlgorithm } from 'ssh2';
import type { SshTarget } from './target.js';
import type { TransportEvent } from './transport.js';

/** Filled by the verifier so a refused handshake can be reported as the HostKeyError it is. */
export interface HostKeyState {
  refused?: HostKeyError;
  failure?: OwrtEcmpError;
}

/** ssh2's default order (1.17), ed25519 first. */
const DEFAULT_HOST_KEY_ALGOS: ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/**
 * Like OpenSSH, ask first for the key types we already know for this host, so a server with
 * several host keys does not show us one we have never recorded and look "changed".
 */
export function hostKeyAlgorithms(target: SshTarget): ServerHostKeyAlgorithm[] {
  let known: string[] = [];
  try {
    known = knownKeyTypes(readKnownHostsFile(target.knownHostsFile), target.host, target.port);
  } catch {
    // unreadable known_hosts is reported by the verifier itself
  }
  const preferred = known.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  const first = DEFAULT_HOST_KEY_ALGOS.filter((a) => preferred.includes(a as string));
  return [...first, ...DEFAULT_HOST_KEY_ALGOS.filter((a) => !first.includes(a))];
}

export function makeHostVerifier(target: SshTarget, state: HostKeyState, emit: (e: TransportEvent) => void) {
  return (key: Buffer): boolean => {
    const fp = fingerprintSha256(key);
    const type = keyTypeOf(key);
    const name = knownHostName(target.host, target.port);
    const file = target.knownHostsFile;
    let res;
    try {
      res = checkHostKey(readKnownHostsFile(file), target.host, target.port, key);
    } catch (e) {
      state.failure = new ConnectError(`cannot read known_hosts file ${file}: ${(e as Error).message}`);
      return false;
    }
    emit({ type: 'hostkey', detail: `${name} ${type} ${fp}: ${res.status}` });
    switch (res.status) {
      case 'ok':
        return true;
      case 'revoked':
        state.refused = new HostKeyError(
          `the ${type} host key of ${name} (${fp}) is marked @revoked in ${file}:${res.line}; refusing to connect`,
          fp,
          'revoked',
          'someone revoked this key on purpose; find out why before connecting',
        );
        return false;
      case 'changed':
        state.refused = new HostKeyError(
          `the host key of ${name} has CHANGED: the server offered ${type} ${fp}, which differs from ${file}:${res.line}. ` +
            'This could be a reinstalled router or someone intercepting the connection.',
          fp,
          'changed',
          `if the router was reinstalled, verify the new fingerprint on its console and remove the old entry (ssh-keygen -R '${name}' -f ${file})`,
        );
        return false;
      case 'unknown':
        if (!target.acceptNew) {
          state.refused = new HostKeyError(
            `the host key of ${name} is not known: ${type} ${fp}`,
            fp,
            'unknown',
            `verify this fingerprint on the server's console (ssh-keygen -lf or dropbearkey -y -f <host key file>), then re-run with --accept-new to record it in ${file}`,
          );
          return false;
        }
        try {
          appendKnownHost(file, target.host, target.port, key);
        } catch (e) {
          state.failure = new ConnectError(`cannot record the host key in ${file}: ${(e as Error).message}`);
          return false;
        }
        emit({ type: 'hostkey', detail: `recorded ${name} ${type} ${fp} in ${file}` });
        return true;
    }
  };
}

const NET_HINTS: Record<string, (t: SshTarget) => [string, string]> = {
  ECONNREFUSED: (t) => [`connection refused by ${t.host}:${t.port}`, 'nothing listens there: check the port and that dropbear/sshd runs on the router'],
  ETIMEDOUT: (t) => [`connection to ${t.host}:${t.port} timed out`, 'check the address, that you are on the router\'s network, and firewalls'],
  ENOTFOUND: (t) => [`cannot resolve host name ${t.host}`, 'check the spelling, or use the router\'s IP address'],
  EAI_AGAIN: (t) => [`cannot resolve host name ${t.host} (DNS not answering)`, 'use the router\'s IP address'],
  EHOSTUNREACH: (t) => [`no route to ${t.host}`, 'check that you are connected to the router\'s network'],
  ENETUNREACH: (t) => [`network unreachable for ${t.host}`, 'check that you are connected to the router\'s network'],
  ECONNRESET: (t) => [`${t.host}:${t.port} reset the connection`, 'the server may be rate-limiting new connections; retry in a few seconds'],
};

export function classifyConnectError(
  err: Error & { level?: string; code?: string },
  target: SshTarget,
  state: HostKeyState,
  plan: AuthPlan,
): OwrtEcmpError {
  if (state.refused) return state.refused;
  if (state.failure) return state.failure;
  const who = `${target.user}@${target.host}:${target.port}`;
  if (err.level === 'client-authentication') {
    const tried = plan.methods.map((m) => m.label).join(', ');
    const skipped = describeSkipped(plan);
    return new AuthError(
      `the server refused every authentication method for ${who} (tried: ${tried})${skipped ? `; ${skipped}` : ''}`,
      skipped.includes('encrypted')
        ? 'set OWRT_ECMP_SSH_PASSPHRASE, or load the key into ssh-agent'
        : 'add your public key to the router (/etc/dropbear/authorized_keys), pass --identity, or set OWRT_ECMP_SSH_PASSWORD',
    );
  }
  if (err.level === 'client-timeout') {
    return new ConnectError(`no SSH handshake with ${target.host}:${target.port} within ${target.readyTimeoutMs} ms`,
      'check the address and port, or raise the connect timeout');
  }
  const hint = err.code !== undefined ? NET_HINTS[err.code] : undefined;
  if (hint) {
    const [msg, h] = hint(target);
    return new ConnectError(msg, h);
  }
  return new ConnectError(`SSH to ${who} failed: ${err.message}`);
}
