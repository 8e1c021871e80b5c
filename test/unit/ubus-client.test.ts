import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ExitCode, RemoteError, UsageError } from '../../src/errors.js';
import {
  createUbusClient,
  type Exec,
  UbusError,
  UbusStatus,
  ubusCallCommand,
  ubusStatusOf,
  ubusStrerror,
} from '../../src/ubus/client.js';

const DUMP = readFileSync(new URL('../fixtures/ubus/interface-dump.json', import.meta.url), 'utf8');

function fakeExec(res: { stdout?: string; stderr?: string; code: number | null }): Exec & { calls: string[] } {
  const calls: string[] = [];
  const exec = async (command: string) => {
    calls.push(command);
    return { stdout: res.stdout ?? '', stderr: res.stderr ?? '', code: res.code };
  };
  return Object.assign(exec, { calls });
}

describe('ubusCallCommand', () => {
  it('builds ubus call with single-quoted JSON', () => {
    expect(ubusCallCommand('network.interface', 'dump')).toBe('ubus call network.interface dump');
    expect(ubusCallCommand('network.interface.wan', 'status', {})).toBe("ubus call network.interface.wan status '{}'");
    expect(ubusCallCommand('network.interface', 'status', { interface: "it's $(x)" })).toBe(
      `ubus call network.interface status '{"interface":"it'\\''s $(x)"}'`,
    );
  });
  it('keeps control characters out of the command line', () => {
    const cmd = ubusCallCommand('a', 'b', { v: 'x\ny\0z' });
    expect(cmd).not.toMatch(/[\n\0]/);
  });
  it.each([
    ['network interface', 'dump'],
    ['network;reboot', 'dump'],
    ['$(x)', 'dump'],
    ['', 'dump'],
    ['network', "st'atus"],
    ['network', ''],
  ])('rejects object %j / method %j', (obj, method) => {
    expect(() => ubusCallCommand(obj, method)).toThrow(UsageError);
  });
});

describe('ubus status mapping (ubusmsg.h, libubus.c __ubus_strerror, cli.c main)', () => {
  it('has the enum values from ubusmsg.h', () => {
    expect(UbusStatus).toMatchObject({
      OK: 0, INVALID_COMMAND: 1, INVALID_ARGUMENT: 2, METHOD_NOT_FOUND: 3, NOT_FOUND: 4, NO_DATA: 5,
      PERMISSION_DENIED: 6, TIMEOUT: 7, NOT_SUPPORTED: 8, UNKNOWN_ERROR: 9, CONNECTION_FAILED: 10,
      NO_MEMORY: 11, PARSE_ERROR: 12, SYSTEM_ERROR: 13,
    });
    expect(ubusStrerror(4)).toBe('Not found');
    expect(ubusStrerror(99)).toBe('Unknown error: 99');
  });
  it.each<[string, number | null, number]>([
    ['', 0, 0],
    ['Command failed: Not found\n', 4, 4],
    ['Command failed: Permission denied\n', 6, 6],
    ['Command failed: Request timed out\n', 7, 7],
    ['Command failed: Method not found\n', 3, 3],
    ['Command failed: Invalid argument\n', 2, 2],
    ['Command failed: Not found\n', null, 4],
    ['Command failed: Request timed out\n', null, 7],
    ['Command failed: Unknown error: 42\n', null, 42],
    ['Failed to connect to ubus\n', 255, 10],
    ['Failed to parse message data\n', 255, 2],
    ['Usage: ubus [<options>] <command> [arguments...]\n', 254, 9],
    ['', null, 0],
    ['something odd\n', null, 9],
    ['', 127, 9],
  ])('stderr %j, exit %s → status %i', (stderr, code, status) => {
    expect(ubusStatusOf({ stderr, code })).toBe(status);
  });
});

describe('createUbusClient', () => {
  it('returns parsed JSON', async () => {
    const exec = fakeExec({ stdout: '{\n\t"a": 1\n}\n', code: 0 });
    await expect(createUbusClient(exec).call('system', 'board')).resolves.toEqual({ a: 1 });
    expect(exec.calls).toEqual(['ubus call system board']);
  });
  it('returns {} for empty output', async () => {
    const exec = fakeExec({ stdout: '', code: 0 });
    await expect(createUbusClient(exec).call('network', 'reload')).resolves.toEqual({});
  });
  it('maps a failure to UbusError with status, message and hint', async () => {
    const exec = fakeExec({ stderr: 'Command failed: Not found\n', code: 4 });
    const err = await createUbusClient(exec).call('network.interface.nope', 'status').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UbusError);
    expect(err).toBeInstanceOf(RemoteError);
    const u = err as UbusError;
    expect(u.status).toBe(UbusStatus.NOT_FOUND);
    expect(u.exitCode).toBe(ExitCode.remote);
    expect(u.cliExitCode).toBe(4);
    expect(u.object).toBe('network.interface.nope');
    expect(u.method).toBe('status');
    expect(u.message).toBe('ubus call network.interface.nope status failed: Not found (status 4, exit 4)');
    expect(u.hint).toMatch(/does not exist/);
  });
  it('maps a lost exit status by stderr', async () => {
    const exec = fakeExec({ stderr: 'Command failed: Permission denied\n', code: null });
    await expect(createUbusClient(exec).call('a', 'b')).rejects.toMatchObject({ status: 6, cliExitCode: null });
  });
  it('rejects non-JSON output', async () => {
    const exec = fakeExec({ stdout: 'garbage', code: 0 });
    await expect(createUbusClient(exec).call('a', 'b')).rejects.toThrow(/not JSON/);
  });
  it('interfaceDump parses and validates', async () => {
    const exec = fakeExec({ stdout: DUMP, code: 0 });
    const dump = await createUbusClient(exec).interfaceDump();
    expect(dump.map((s) => s.interface)).toContain('vwan2');
    expect(exec.calls).toEqual(['ubus call network.interface dump']);
    await expect(createUbusClient(fakeExec({ stdout: '{"x":1}', code: 0 })).interfaceDump()).rejects.toThrow(RemoteError);
  });
  it('interfaceStatus passes the name as JSON (like ifstatus) and fills it in', async () => {
    const exec = fakeExec({ stdout: '{"up":true,"pending":false,"available":true,"autostart":true,"dynamic":false,"proto":"pppoe"}', code: 0 });
    const st = await createUbusClient(exec).interfaceStatus('vwan2');
    expect(st.interface).toBe('vwan2');
    expect(exec.calls).toEqual([`ubus call network.interface status '{"interface":"vwan2"}'`]);
    const missing = fakeExec({ stderr: 'Command failed: Not found\n', code: 4 });
    await expect(createUbusClient(missing).interfaceStatus('nope')).rejects.toMatchObject({ status: 4 });
  });
});
