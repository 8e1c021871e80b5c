import { describe, expect, it } from 'vitest';
import {
  AuthError,
  CapabilityError,
  ConflictError,
  ConnectError,
  ExitCode,
  HostKeyError,
  OwrtEcmpError,
  RemoteError,
  RolledBackError,
  UsageError,
} from '../../src/errors.js';
import { changeJson, errorCode, errorJson, usageErrorJson, wantsJson } from '../../src/output/json.js';
import { planJson } from '../../src/output/plan.js';
import { resolveSettings } from '../../src/options.js';
import { planSetup } from '../../src/plan/setup.js';
import { buildStatus } from '../../src/report/status.js';
import { factsFrom } from '../helpers/facts.js';
import { loadSchema, schemaErrors, undocumentedFields } from '../helpers/schemas.js';

describe('error documents', () => {
  const cases: Array<[OwrtEcmpError, string, number]> = [
    [new OwrtEcmpError('boom'), 'failure', 1],
    [new UsageError('bad flag', 'pass --dials'), 'usage', 2],
    [new ConnectError('connection refused by 127.0.0.1:1'), 'connect', 3],
    [new AuthError('refused'), 'auth', 4],
    [new HostKeyError('not known', 'SHA256:abc', 'unknown', 'use --accept-new'), 'host-key', 5],
    [new RemoteError('uci failed'), 'remote', 6],
    [new CapabilityError('no ip-full'), 'capability', 7],
    [new ConflictError('locked'), 'conflict', 9],
    [new RolledBackError('rolled back'), 'rolled-back', 10],
  ];

  it.each(cases)('%s → %s, exit %i, valid against schemas/error.schema.json', (e, code, exitCode) => {
    const doc = errorJson(e);
    expect(doc).toMatchObject({ schemaVersion: 1, error: { code, exitCode, message: e.message, hint: e.hint ?? null } });
    expect(schemaErrors('error', doc)).toBe('');
    expect(undocumentedFields('error', doc)).toEqual([]);
  });

  it('a host key error carries the fingerprint and what is wrong with it', () => {
    expect(errorJson(new HostKeyError('changed', 'SHA256:xyz', 'changed')).error.hostKey).toEqual({ fingerprint: 'SHA256:xyz', kind: 'changed' });
  });

  it('anything else is an unexpected failure, exit 1', () => {
    const doc = errorJson(new TypeError('x is undefined'));
    expect(doc.error).toEqual({ code: 'failure', exitCode: 1, message: 'unexpected error: x is undefined', hint: null });
    expect(schemaErrors('error', doc)).toBe('');
  });

  it("commander's message loses its `error:` prefix and is a usage error", () => {
    expect(usageErrorJson("error: unknown option '--bogus'\n").error).toEqual({ code: 'usage', exitCode: 2, message: "unknown option '--bogus'", hint: 'run with --help for usage' });
  });

  it('the schema lists exactly the codes of ExitCode (a new exit code must be published)', () => {
    const codes = Object.values(ExitCode).filter((c) => c !== ExitCode.ok).map(errorCode);
    const schema = loadSchema('error') as { properties: { error: { properties: { code: { enum: string[] } } } } };
    expect(schema.properties.error.properties.code.enum.sort()).toEqual(codes.sort());
  });

  it('--json is seen anywhere before `--`', () => {
    expect(wantsJson(['node', 'cli', 'status', '--json'])).toBe(true);
    expect(wantsJson(['node', 'cli', '--json', 'setup'])).toBe(true);
    expect(wantsJson(['node', 'cli', 'status', '--', '--json'])).toBe(false);
    expect(wantsJson(['node', 'cli', 'status', '--jsonx'])).toBe(false);
  });
});

describe('change documents (setup, teardown, hotplug)', () => {
  const f = factsFrom('stock-2305.txt');
  const plan = planSetup(resolveSettings({ dials: '2' }), f, {});
  const view = { secrets: plan.secrets, firewall: f.config.firewall };

  it('a dry run: the plan, not applied, valid against schemas/change.schema.json', () => {
    const doc = changeJson('setup', { dryRun: true, changes: true, applied: false, plan: planJson(plan.changes, view) });
    expect(doc).toMatchObject({ schemaVersion: 1, command: 'setup', dryRun: true, changes: true, applied: false });
    expect(schemaErrors('change', doc)).toBe('');
  });

  it('applied: needs the status read after the change', () => {
    const status = buildStatus(new Map([['kernel', '5.15.167']]));
    const doc = changeJson('teardown', { dryRun: false, changes: true, applied: true, plan: planJson(plan.changes, view), status });
    expect(schemaErrors('change', doc)).toBe('');
    // the status inside is checked against status.schema.json's fields too
    expect(undocumentedFields('change', doc)).toEqual([]);
    const { status: _dropped, ...without } = doc;
    expect(schemaErrors('change', without)).toMatch(/status/);
  });

  it('hotplug --print: the file instead of a plan', () => {
    const doc = changeJson('hotplug', { dryRun: true, changes: false, applied: false, file: { path: '/etc/hotplug.d/iface/95-owrt-ecmp', content: '#!/bin/sh\n' } });
    expect(schemaErrors('change', doc)).toBe('');
    expect(schemaErrors('change', { ...doc, file: undefined })).not.toBe('');
  });
});
