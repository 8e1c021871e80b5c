/**
 * Host key checking as ssh does it: every UserKnownHostsFile (and GlobalKnownHostsFile) is read,
 * StrictHostKeyChecking decides what an unknown key gets (refused, recorded, or asked about on a
 * terminal), new keys are written hashed when HashKnownHosts says so, and a changed key is
 * always refused, whatever the policy.
 */
import { ConnectError, HostKeyError, OwrtEcmpError } from '../errors.js';
import {
  appendKnownHost,
  checkHostKey,
  fingerprintSha256,
  keyTypeOf,
  knownHostName,
  knownKeyTypes,
  readKnownHostsFiles,
} from './known-hosts.js';
import { PromptInterrupted, type Prompter } from './prompt.js';
import type { ServerHostKeyAlgorithm } from 'ssh2';
import type { SshTarget } from './target.js';
import type { TransportEvent } from './transport.js';

/** Filled by the verifier so a refused handshake can be reported as the HostKeyError it is. */
export interface HostKeyState {
  refused?: HostKeyError;
  failure?: OwrtEcmpError;
}

export interface VerifierDeps {
  emit: (e: TransportEvent) => void;
  warn: (msg: string) => void;
  prompter?: Prompter;
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
    known = knownKeyTypes(readKnownHostsFiles(target.knownHostsFiles), target.host, target.port);
  } catch {
    // unreadable known_hosts is reported by the verifier itself
  }
  const preferred = known.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  const first = DEFAULT_HOST_KEY_ALGOS.filter((a) => preferred.includes(a as string));
  return [...first, ...DEFAULT_HOST_KEY_ALGOS.filter((a) => !first.includes(a))];
}

/** `ED25519`, `RSA`, `ECDSA`: how ssh names a key type in its prompt. */
function shortType(type: string): string {
  if (type.startsWith('ecdsa-')) return 'ECDSA';
  return type.replace(/^ssh-/, '').toUpperCase();
}

/** The command that prints this key's fingerprint on a stock OpenWrt router (dropbear). */
export function dropbearCheckCommand(type: string): string {
  const kind = type.startsWith('ecdsa-') ? 'ecdsa' : type === 'ssh-rsa' ? 'rsa' : type.replace(/^ssh-/, '');
  return `dropbearkey -y -f /etc/dropbear/dropbear_${kind}_host_key`;
}

interface Seen {
  name: string;
  type: string;
  fp: string;
}

export function makeHostVerifier(target: SshTarget, state: HostKeyState, deps: VerifierDeps) {
  return (key: Buffer, verify: (ok: boolean) => void): void => {
    const seen: Seen = { name: knownHostName(target.host, target.port), type: keyTypeOf(key), fp: fingerprintSha256(key) };
    let res;
    try {
      res = checkHostKey(readKnownHostsFiles(target.knownHostsFiles), target.host, target.port, key);
    } catch (e) {
      state.failure = new ConnectError(`cannot read a known_hosts file: ${(e as Error).message}`);
      return verify(false);
    }
    deps.emit({ type: 'hostkey', detail: `${seen.name} ${seen.type} ${seen.fp}: ${res.status}` });
    if (res.status === 'ok') return verify(true);
    if (res.status === 'revoked') {
      state.refused = new HostKeyError(
        `the ${seen.type} host key of ${seen.name} (${seen.fp}) is marked @revoked in ${res.file}:${res.line}; refusing to connect`,
        seen.fp, 'revoked', 'someone revoked this key on purpose; find out why before connecting');
      return verify(false);
    }
    if (res.status === 'changed') {
      state.refused = changedError(target, seen, `${res.file}:${res.line}`);
      return verify(false);
    }
    decideUnknown(target, seen, key, state, deps).then(verify, (e: unknown) => {
      state.failure = e instanceof PromptInterrupted
        ? new ConnectError('cancelled at the host key question; nothing was recorded')
        : new ConnectError(`host key check failed: ${(e as Error).message}`);
      verify(false);
    });
  };
}

function changedError(target: SshTarget, seen: Seen, where: string): HostKeyError {
  const lax = target.strictHostKeyChecking === 'no'
    ? ' (StrictHostKeyChecking no is treated as accept-new: a changed key is still refused)' : '';
  return new HostKeyError(
    `the host key of ${seen.name} has CHANGED: the server offered ${seen.type} ${seen.fp}, which differs from ${where}. ` +
      `This could be a reinstalled router or someone intercepting the connection${lax}.`,
    seen.fp, 'changed',
    `if the router was reinstalled, check the new fingerprint on its console (${dropbearCheckCommand(seen.type)}) and remove the old entry (ssh-keygen -R '${seen.name}' -f ${where.replace(/:\d+$/, '')})`,
  );
}

async function decideUnknown(target: SshTarget, seen: Seen, key: Buffer, state: HostKeyState, deps: VerifierDeps): Promise<boolean> {
  const policy = target.strictHostKeyChecking;
  let accept = policy === 'accept-new' || policy === 'no';
  if (policy === 'ask' && deps.prompter) {
    accept = await askAboutKey(deps.prompter, seen);
    if (!accept) {
      state.refused = new HostKeyError(`host key verification failed: you declined the ${seen.type} key of ${seen.name} (${seen.fp})`,
        seen.fp, 'unknown', 'nothing was recorded; re-run and answer yes once the fingerprint is checked on the router');
      return false;
    }
  }
  if (!accept) {
    const why = policy === 'yes' ? ' and StrictHostKeyChecking is yes' : '';
    state.refused = new HostKeyError(`the host key of ${seen.name} is not known${why}: ${seen.type} ${seen.fp}`, seen.fp, 'unknown',
      `check this fingerprint on the router (${dropbearCheckCommand(seen.type)}), then re-run on a terminal to be asked, or with --accept-new to record it in ${target.knownHostsFile}`);
    return false;
  }
  try {
    appendKnownHost(target.knownHostsFile, target.host, target.port, key, target.hashKnownHosts);
  } catch (e) {
    state.failure = new ConnectError(`cannot record the host key in ${target.knownHostsFile}: ${(e as Error).message}`);
    return false;
  }
  deps.emit({ type: 'hostkey', detail: `recorded ${seen.name} ${seen.type} ${seen.fp} in ${target.knownHostsFile}` });
  deps.warn(`permanently added '${seen.name}' (${shortType(seen.type)} ${seen.fp}) to ${target.knownHostsFile}` +
    (policy === 'no' ? ' (StrictHostKeyChecking no is treated as accept-new: a changed key will still be refused)' : ''));
  return true;
}

async function askAboutKey(p: Prompter, seen: Seen): Promise<boolean> {
  let answer = await p.ask(
    `The authenticity of host '${seen.name}' can't be established.\n` +
      `${shortType(seen.type)} key fingerprint is ${seen.fp}.\n` +
      'To check it, run this on the router (its console, or a connection you trust):\n' +
      `  ${dropbearCheckCommand(seen.type)}\n` +
      'and compare the "Fingerprint:" line.\n' +
      'Are you sure you want to continue connecting (yes/no/[fingerprint])? ',
  );
  for (;;) {
    const a = answer?.trim();
    if (a === undefined || a.toLowerCase() === 'no') return false;
    if (a.toLowerCase() === 'yes' || a === seen.fp) return true;
    if (a.startsWith('SHA256:')) return false; // a different fingerprint: ssh refuses too
    answer = await p.ask("Please type 'yes', 'no' or the fingerprint: ");
  }
}
