/**
 * `--json`: every command prints exactly one JSON document on stdout, failures included.
 * The shapes are published as JSON Schemas in schemas/ and carry `schemaVersion`.
 */
import { ExitCode, HostKeyError, OwrtEcmpError } from '../errors.js';

/** Bump when a field changes meaning or disappears; adding fields keeps the version. */
export const JSON_SCHEMA_VERSION = 1;

export function writeJson(doc: unknown): void {
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}

/** True when the user asked for JSON anywhere on the command line (also before commander parsed it). */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * A stable error code per exit code, from the names in `ExitCode`: `hostKey` → `host-key`.
 * One class per exit code (errors.ts), so the code names the class a script can act on.
 */
export function errorCode(exitCode: number): string {
  const name = Object.entries(ExitCode).find(([, v]) => v === exitCode)?.[0] ?? 'failure';
  return name.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`);
}

export interface ErrorJson {
  schemaVersion: number;
  error: {
    code: string;
    exitCode: number;
    message: string;
    hint: string | null;
    hostKey?: { fingerprint: string; kind: string };
  };
}

function document(exitCode: number, message: string, hint: string | null): ErrorJson {
  return { schemaVersion: JSON_SCHEMA_VERSION, error: { code: errorCode(exitCode), exitCode, message, hint } };
}

/** The error document for anything a command threw; messages of our errors never hold secrets. */
export function errorJson(e: unknown): ErrorJson {
  if (e instanceof OwrtEcmpError) {
    const doc = document(e.exitCode, e.message, e.hint ?? null);
    if (e instanceof HostKeyError) doc.error.hostKey = { fingerprint: e.fingerprint, kind: e.kind };
    return doc;
  }
  return document(ExitCode.failure, `unexpected error: ${e instanceof Error ? e.message : String(e)}`, null);
}

/** Ctrl-C: what the router does next is the message; exit 130 as shells report SIGINT. */
export function interruptedJson(message: string): ErrorJson {
  return document(ExitCode.interrupted, message, null);
}

/** Commander's parse errors (`error: unknown option '--x'`) are usage errors. */
export function usageErrorJson(message: string): ErrorJson {
  return document(ExitCode.usage, message.replace(/^error:\s*/, '').trim(), 'run with --help for usage');
}

/** setup, teardown and hotplug: what was planned, whether it was applied, and the status after it. */
export interface ChangeJson {
  schemaVersion: number;
  command: 'setup' | 'teardown' | 'hotplug';
  dryRun: boolean;
  /** false: the router already matches */
  changes: boolean;
  applied: boolean;
  plan?: unknown;
  status?: unknown;
  /** hotplug --print: the file that would be installed */
  file?: { path: string; content: string };
}

export function changeJson(command: ChangeJson['command'], fields: Omit<ChangeJson, 'schemaVersion' | 'command'>): ChangeJson {
  return { schemaVersion: JSON_SCHEMA_VERSION, command, ...fields };
}
