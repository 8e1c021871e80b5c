/**
 * Every failure the CLI can report is one of these classes; `cli.ts` maps them to a
 * message and an exit code in one place. Messages must never contain secrets.
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  connect: 3,
  auth: 4,
  hostKey: 5,
  remote: 6,
  capability: 7,
  unhealthy: 8,
  conflict: 9,
  rolledBack: 10,
  /** Ctrl-C (SIGINT), the shell's 128 + 2 */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class OwrtEcmpError extends Error {
  readonly exitCode: ExitCode = ExitCode.failure;
  /** What the user can do about it; printed after the message. */
  readonly hint?: string;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = new.target.name;
    if (hint !== undefined) this.hint = hint;
  }
}

/** Bad flags or values: nothing was sent to the router. */
export class UsageError extends OwrtEcmpError {
  override readonly exitCode = ExitCode.usage;
}
/** TCP/SSH could not be established (unreachable, timeout, refused). */
export class ConnectError extends OwrtEcmpError {
  override readonly exitCode = ExitCode.connect;
}
/** The server refused every authentication method we tried. */
export class AuthError extends OwrtEcmpError {
  override readonly exitCode = ExitCode.auth;
}
/** Host key not in known_hosts (fingerprint given) or different from the recorded one. */
export class HostKeyError extends OwrtEcmpError {
  override readonly exitCode = ExitCode.hostKey;
  constructor(
    message: string,
    readonly fingerprint: string,
    readonly kind: 'unknown' | 'changed' | 'revoked',
    hint?: string,
  ) {
    super(message, hint);
  }
}
/** A command on the router failed or produced output we cannot understand. */
export class RemoteError extends OwrtEcmpError {
  override readonly exitCode = ExitCode.remote;
}
/** The router lacks something setup needs (package, kernel feature, wan config). */
export class CapabilityError extends OwrtEcmpError {
  override readonly exitCode = ExitCode.capability;
}
/** Another run holds the router lock, or the config changed under us. */
export class ConflictError extends OwrtEcmpError {
  override readonly exitCode = ExitCode.conflict;
}
/** The change was applied but not confirmed, and the router restored its previous state. */
export class RolledBackError extends OwrtEcmpError {
  override readonly exitCode = ExitCode.rolledBack;
}
