import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { resolveCredentials, resolveSettings } from '../../src/options.js';

describe('resolveSettings', () => {
  it('fills defaults for a first setup', () => {
    const s = resolveSettings({ dials: '4' });
    expect(s).toMatchObject({ dials: 4, wan: 'wan', prefix: 'vwan', weights: [1, 1, 1, 1], ipv6: 'single', hashPolicy: 1, ecmpMetric: 10, metricBase: 40 });
  });

  it.each([
    [{ dials: '0' }, /--dials must be from 1 to 64/],
    [{ dials: '-1' }, /--dials must be a whole number/],
    [{ dials: '1.5' }, /--dials must be a whole number/],
    [{ dials: '10000' }, /--dials must be from 1 to 64/],
    [{ dials: 'four' }, /--dials must be a whole number/],
    [{ dials: '' }, /--dials must be a whole number/],
    [{}, /--dials is required/],
    [{ dials: '4', wan: 'wan-1' }, /not a valid interface name/],
    [{ dials: '4', wan: 'averyverylongname' }, /longer than 9 characters/],
    [{ dials: '4', prefix: 'VWAN' }, /must start with a lowercase letter/],
    [{ dials: '4', prefix: 'v$(x)' }, /must start with a lowercase letter/],
    [{ dials: '12', prefix: 'longpref' }, /longer than 9 characters/],
    [{ dials: '4', prefix: 'wan', wan: 'wan' }, /clash/],
    [{ dials: '3', weights: '1,2' }, /needs 3 comma-separated values/],
    [{ dials: '2', weights: '1,300' }, /from 1 to 256/],
    [{ dials: '2', ipv6: 'both' }, /--ipv6 must be one of off, single, ecmp/],
    [{ dials: '2', hashPolicy: 'l7' }, /--hash-policy must be one of/],
    [{ dials: '2', routeMode: 'fast' }, /--route-mode must be one of/],
    [{ dials: '2', ecmpMetric: '50', metricBase: '40' }, /must be lower than every dial metric/],
  ])('rejects %j', (raw, message) => {
    expect(() => resolveSettings(raw)).toThrow(UsageError);
    expect(() => resolveSettings(raw)).toThrow(message);
  });

  it('keeps stored settings on a re-run and lets flags override them', () => {
    const stored = resolveSettings({ dials: '4', weights: '1,2,1,1', ipv6: 'ecmp' });
    expect(resolveSettings({}, stored)).toEqual(stored);
    const grown = resolveSettings({ dials: '6' }, stored);
    expect(grown.dials).toBe(6);
    expect(grown.weights).toEqual([1, 2, 1, 1, 1, 1]);
    expect(grown.ipv6).toBe('ecmp');
  });
});

describe('resolveCredentials', () => {
  const dir = mkdtempSync(join(tmpdir(), 'owrt-ecmp-opt-'));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('reads a password file byte-exact, dropping only one trailing newline', () => {
    const pw = `p'a"s$(reboot)\`x\`;#  ü 密码`;
    expect(resolveCredentials({ passwordFile: file('pw1', `${pw}\n`) }, {}).password).toBe(pw);
    expect(resolveCredentials({ passwordFile: file('pw2', `${pw} \r\n`) }, {}).password).toBe(`${pw} `);
  });

  it('refuses passwords with line breaks and says why without echoing them', () => {
    const secret = 'line1\nline2';
    let err: unknown;
    try {
      resolveCredentials({ passwordFile: file('pw3', `${secret}\n`) }, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect(String((err as Error).message)).toMatch(/line break/);
    expect(String((err as Error).message)).not.toContain('line1');
  });

  it('takes the password from the environment, never from argv', () => {
    expect(resolveCredentials({}, { OWRT_ECMP_PPPOE_PASSWORD: 's3cret' }).password).toBe('s3cret');
    expect(() => resolveCredentials({ passwordFile: join(dir, 'missing') }, {})).toThrow(/cannot read --password-file/);
  });
});
