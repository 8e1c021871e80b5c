/** Mapping ssh2's errors to our typed errors, with hints that name real flags. */
import { AuthError, ConnectError, OwrtEcmpError } from '../errors.js';
import { describeSkipped, type AuthPlan } from './auth.js';
import type { HostKeyState } from './hostkey.js';
import type { SshTarget } from './target.js';

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
    if (plan.interrupted) return new ConnectError('cancelled at a passphrase or password question');
    const tried = plan.tried.join(', ') || 'nothing the server accepts';
    const skipped = describeSkipped(plan);
    return new AuthError(
      `the server refused every authentication method for ${who} (tried: ${tried})${skipped ? `; ${skipped}` : ''}`,
      skipped.includes('encrypted')
        ? 'run on a terminal to be asked for the passphrase, set OWRT_ECMP_SSH_PASSPHRASE, or load the key into ssh-agent'
        : 'add your public key to the router (/etc/dropbear/authorized_keys), pass --identity <key>, run on a terminal to be asked for the password, or set OWRT_ECMP_SSH_PASSWORD',
    );
  }
  if (err.level === 'client-timeout') return timeoutError(target, 'handshake');
  const hint = err.code !== undefined ? NET_HINTS[err.code] : undefined;
  if (hint) {
    const [msg, h] = hint(target);
    return new ConnectError(msg, h);
  }
  return new ConnectError(`SSH to ${who} failed: ${err.message}`);
}

/** Which step of connecting ran out of time: the TCP connect, the SSH handshake, or authentication. */
export type ConnectPhase = 'tcp' | 'handshake' | 'auth';

export function timeoutError(target: SshTarget, phase: ConnectPhase): ConnectError {
  const secs = target.readyTimeoutMs / 1000;
  const where = `${target.host}:${target.port}`;
  const via = target.proxyCommand !== undefined ? ' (through ProxyCommand)' : target.proxyJump ? ' (through ProxyJump)' : '';
  const msg =
    phase === 'tcp'
      ? `TCP connect to ${where} did not complete within ${secs} s`
      : phase === 'handshake'
        ? `${where}${via} did not complete the SSH handshake within ${secs} s (the connection was made, but no SSH server answered in time)`
        : `${where}${via} did not finish SSH authentication within ${secs} s`;
  const hint =
    phase === 'tcp'
      ? 'check the address and that you are on the router\'s network; a slow link may need --connect-timeout <seconds>'
      : 'check that the port is the router\'s SSH port; a slow router may need --connect-timeout <seconds>';
  return new ConnectError(msg, hint);
}
