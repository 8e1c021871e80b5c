/**
 * A small ubus client over an injected exec (normally one SSH exec per call). It runs the ubus CLI,
 * `ubus call <object> <method> ['<json>']`, and maps failures the way the CLI reports them
 * (openwrt/ubus cli.c `main`): a failed call exits with the ubus status code and prints
 * `Command failed: <ubus_strerror(status)>` on stderr; "Failed to connect to ubus" and "Failed to parse
 * message data" exit -1 (255); a usage error exits -2 (254).
 */
import { RemoteError, UsageError } from '../errors.js';
import { toInterfaceDump, toInterfaceStatus } from './parse.js';
import type { InterfaceStatus } from './types.js';

export type Exec = (command: string) => Promise<{ stdout: string; stderr: string; code: number | null }>;

/** enum ubus_msg_status (ubusmsg.h). 11–13 exist since 2016–2019 ubus; older routers stop at 10. */
export const UbusStatus = {
  OK: 0,
  INVALID_COMMAND: 1,
  INVALID_ARGUMENT: 2,
  METHOD_NOT_FOUND: 3,
  NOT_FOUND: 4,
  NO_DATA: 5,
  PERMISSION_DENIED: 6,
  TIMEOUT: 7,
  NOT_SUPPORTED: 8,
  UNKNOWN_ERROR: 9,
  CONNECTION_FAILED: 10,
  NO_MEMORY: 11,
  PARSE_ERROR: 12,
  SYSTEM_ERROR: 13,
} as const;
export type UbusStatus = (typeof UbusStatus)[keyof typeof UbusStatus];

/** libubus `__ubus_strerror`, index = status. */
export const UBUS_STATUS_TEXT: readonly string[] = [
  'Success',
  'Invalid command',
  'Invalid argument',
  'Method not found',
  'Not found',
  'No response',
  'Permission denied',
  'Request timed out',
  'Operation not supported',
  'Unknown error',
  'Connection failed',
  'Out of memory',
  'Parsing message data failed',
  'System error',
];

export function ubusStrerror(status: number): string {
  return UBUS_STATUS_TEXT[status] ?? `Unknown error: ${status}`;
}

export class UbusError extends RemoteError {
  constructor(
    message: string,
    /** A ubus status (UbusStatus); CONNECTION_FAILED when ubusd was unreachable, UNKNOWN_ERROR when the CLI said nothing usable. */
    readonly status: number,
    readonly object: string,
    readonly method: string,
    /** Exit code of the ubus CLI, null if the transport lost it. */
    readonly cliExitCode: number | null,
    hint?: string,
  ) {
    super(message, hint);
  }
}

const NAME = /^[A-Za-z0-9_.-]+$/;

function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The shell command for one call. Object and method names are checked, the JSON is single-quoted. */
export function ubusCallCommand(object: string, method: string, args?: Record<string, unknown>): string {
  if (!NAME.test(object)) throw new UsageError('invalid ubus object name');
  if (!NAME.test(method)) throw new UsageError('invalid ubus method name');
  let cmd = `ubus call ${object} ${method}`;
  if (args !== undefined) {
    // JSON.stringify escapes every control character, so the quoted word is one printable line
    cmd += ` ${shQuote(JSON.stringify(args))}`;
  }
  return cmd;
}

function statusFromStderr(stderr: string): number | undefined {
  const m = /Command failed: (.*)/.exec(stderr);
  if (m) {
    const text = (m[1] ?? '').trim();
    const idx = UBUS_STATUS_TEXT.indexOf(text);
    if (idx > 0) return idx;
    const unknown = /^Unknown error: (-?\d+)$/.exec(text);
    if (unknown) return Number(unknown[1]);
    return UbusStatus.UNKNOWN_ERROR;
  }
  if (/Failed to connect to ubus/.test(stderr)) return UbusStatus.CONNECTION_FAILED;
  if (/Failed to parse message data/.test(stderr)) return UbusStatus.INVALID_ARGUMENT;
  return undefined;
}

/**
 * The status of a finished `ubus call`: 0 for success, else a ubus status.
 * Exit codes 1–13 are the status itself; 255 (-1) is "failed to connect" or "bad JSON argument", told apart
 * by stderr; a lost exit code (null) is judged by stderr alone.
 */
export function ubusStatusOf(res: { stderr: string; code: number | null }): number {
  const fromText = statusFromStderr(res.stderr);
  if (res.code === 0) return UbusStatus.OK;
  if (res.code !== null && res.code >= 1 && res.code <= 13) return res.code;
  if (fromText !== undefined) return fromText;
  if (res.code === null) return res.stderr.trim() === '' ? UbusStatus.OK : UbusStatus.UNKNOWN_ERROR;
  return UbusStatus.UNKNOWN_ERROR;
}

const HINTS: Partial<Record<number, string>> = {
  [UbusStatus.NOT_FOUND]: 'the ubus object (or the interface asked for) does not exist on the router',
  [UbusStatus.METHOD_NOT_FOUND]: 'this OpenWrt release does not offer that ubus method',
  [UbusStatus.PERMISSION_DENIED]: 'log in as root: ubus ACLs restrict other users',
  [UbusStatus.TIMEOUT]: 'the daemon behind the object did not answer within 30 s',
  [UbusStatus.CONNECTION_FAILED]: 'ubusd is not running or its socket is not reachable',
};

export interface UbusClient {
  call<T = unknown>(object: string, method: string, args?: Record<string, unknown>): Promise<T>;
  interfaceDump(): Promise<InterfaceStatus[]>;
  interfaceStatus(name: string): Promise<InterfaceStatus>;
}

export function createUbusClient(exec: Exec): UbusClient {
  async function call<T = unknown>(object: string, method: string, args?: Record<string, unknown>): Promise<T> {
    const res = await exec(ubusCallCommand(object, method, args));
    const status = ubusStatusOf(res);
    if (status !== UbusStatus.OK) {
      const exit = res.code === null ? 'exit status lost' : `exit ${res.code}`;
      throw new UbusError(
        `ubus call ${object} ${method} failed: ${ubusStrerror(status)} (status ${status}, ${exit})`,
        status,
        object,
        method,
        res.code,
        HINTS[status],
      );
    }
    if (res.stdout.trim() === '') return {} as T;
    try {
      return JSON.parse(res.stdout) as T;
    } catch {
      throw new RemoteError(`ubus call ${object} ${method} printed something that is not JSON`);
    }
  }

  return {
    call,
    async interfaceDump() {
      return toInterfaceDump(await call('network.interface', 'dump'));
    },
    async interfaceStatus(name: string) {
      // like `ifstatus`: the interface name travels in the JSON, so any name is safe to pass
      return toInterfaceStatus(await call('network.interface', 'status', { interface: name }), name);
    },
  };
}
