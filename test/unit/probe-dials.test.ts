import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { resolveSettings } from '../../src/options.js';
import { dialMac } from '../../src/plan/dials.js';
import { shellcheck } from '../helpers/shellcheck.js';
import { autoDials, DEFAULT_BOGUS_RANGES, formatProbe, parseBogusRanges, parseProbe, renderProbe } from '../../src/plan/probe-dials.js';

describe('--dials auto[:MAX]', () => {
  it.each([
    ['auto', 8],
    ['auto:3', 3],
    ['auto:64', 64],
    ['4', undefined],
    [undefined, undefined],
  ])('%s → %s', (raw, max) => expect(autoDials(raw)).toBe(max));

  it.each(['auto:0', 'auto:65', 'auto:', 'auto:x', 'automatic'])('rejects %s', (raw) => {
    expect(() => autoDials(raw)).toThrow(UsageError);
  });
});

describe('--bogus-ranges', () => {
  it('defaults to private, link-local and this-network space, not CGNAT', () => {
    expect(parseBogusRanges(undefined)).toEqual(DEFAULT_BOGUS_RANGES);
    expect(DEFAULT_BOGUS_RANGES).not.toContain('100.64.0.0/10');
    expect(parseBogusRanges('none')).toEqual([]);
    expect(parseBogusRanges('172.30.0.0/16, 10.0.0.0/8')).toEqual(['172.30.0.0/16', '10.0.0.0/8']);
  });
  it.each(['172.30.0.0', '172.30.0.0/33', '300.1.1.1/8', 'x/8', "1.2.3.4/8;reboot"])('rejects %s', (raw) => {
    expect(() => parseBogusRanges(raw)).toThrow(/not an IPv4 CIDR/);
  });
});

describe('probe report', () => {
  const out = [
    'held 1 100.64.0.2',
    'skip-range 100.64.0.0/10',
    'trial 2 ok 1830 100.64.0.3',
    'trial 3 walled-garden 2410 172.30.0.3 in 172.16.0.0/12',
    'stop walled-garden',
    'found 2',
  ].join('\n');

  it('parses held sessions, every trial with its time, the stop reason and the count', () => {
    expect(parseProbe(out)).toEqual({
      held: 1,
      wanAddress: '100.64.0.2',
      found: 2,
      stoppedBy: 'walled-garden',
      skippedRanges: ['100.64.0.0/10'],
      leftovers: [],
      trials: [
        { session: 2, result: 'ok', seconds: 1.8, address: '100.64.0.3', detail: '' },
        { session: 3, result: 'walled-garden', seconds: 2.4, address: '172.30.0.3', detail: 'in 172.16.0.0/12' },
      ],
    });
    const text = formatProbe(parseProbe(out), 8);
    expect(text).toMatch(/session 3: walled-garden after 2.4 s, 172.30.0.3/);
    expect(text).toMatch(/the ISP allows 2 session\(s\): the ISP gave the next session a walled-garden address/);
  });

  it('reports leftovers and a refusal with the ISP\'s message', () => {
    const r = parseProbe('held 0 -\ntrial 1 refused 900 - Maximum sessions exceeded\nstop refused\nfound 0\nleftover ecmpt1');
    expect(r).toMatchObject({ held: 0, wanAddress: null, found: 0, stoppedBy: 'refused', leftovers: ['ecmpt1'] });
    expect(r.trials[0]).toMatchObject({ result: 'refused', address: null, detail: 'Maximum sessions exceeded' });
  });
});

describe('renderProbe', () => {
  it('counts wan and the stored dials as held, gives trial n the MAC of dial n, quotes credentials', () => {
    const s = resolveSettings({ dials: '3' });
    const text = renderProbe(s, 'eth1', '52:54:00:00:00:01', { max: 4, timeout: 20, bogus: ['172.16.0.0/12'] }, { username: 'u', password: "p'w $(x)" });
    expect(text).toContain("OWRT_PROBE_HELD='wan vwan2 vwan3'\n");
    expect(text).toContain(`4=${dialMac('52:54:00:00:00:01', 4)}`);
    expect(text).toContain("OWRT_PROBE_PASS='p'\\''w $(x)'\n");
    expect(text).toContain('owrt_probe_run');
    const noCreds = renderProbe(s, 'eth1', '52:54:00:00:00:01', { max: 4, timeout: 20, bogus: [] }, {});
    expect(noCreds).not.toMatch(/OWRT_PROBE_(USER|PASS)=/);
  });

  it('renders a script shellcheck passes (as sent: credentials, ranges, MACs filled in)', () => {
    const s = resolveSettings({ dials: '2' });
    expect(shellcheck(renderProbe(s, 'eth1', '52:54:00:00:00:01', { max: 8, timeout: 30, bogus: ['10.0.0.0/8'] }, { username: 'u', password: 'p' }))).toBe('');
    const installing = renderProbe(s, 'eth1', '52:54:00:00:00:01', { max: 8, timeout: 30, bogus: [] }, {}, { packages: ['ip-full', 'kmod-macvlan'], pkg: 'apk' });
    expect(installing).toContain("apk add 'ip-full' 'kmod-macvlan' ");
    expect(shellcheck(installing)).toBe('');
  });
});
