import { describe, expect, it } from 'vitest';
import { statusScript } from '../../src/commands/setup.js';
import { formatRate, formatWatch } from '../../src/output/watch.js';
import { render } from '../../src/render/env.js';
import type { DialStatus, StatusReport } from '../../src/report/status.js';
import { buildRecord, newEvents, parseWatchSections, rate, type Sample } from '../../src/watch/record.js';
import { ashSyntax, shellcheck } from '../helpers/shellcheck.js';

function dial(k: number, over: Partial<DialStatus> = {}): DialStatus {
  const name = k === 1 ? 'wan' : `vwan${k}`;
  return {
    dial: k, interface: name, device: `pppoe-${name}`, state: 'up', uptimeSeconds: 60, ipv4: `100.64.0.${k}`, ipv6Gateway: null,
    inIpv4Ecmp: true, inIpv6Ecmp: false, weight: 1, rxBytes: 0, txBytes: 0, lastError: null,
    health: { state: 'unknown', since: null, retryAt: null, reason: null }, ...over,
  };
}

function report(dials: DialStatus[], problems: string[] = []): StatusReport {
  return {
    schemaVersion: 1, configured: true, settings: null, kernel: '5.15', routeMode: 'multipath', dials,
    ecmp: { metric: 10, ipv4: dials.filter((d) => d.inIpv4Ecmp).map((d) => ({ dev: d.device, weight: 1, flags: [] })), ipv6: [], nhid4: null, nhid6: null },
    sysctl: {}, hotplug: { installed: true, matches: true }, libraryInstalled: true, rollbackPending: null,
    monitor: { mode: 'off', enabled: false, bootEnabled: false, running: false, target: null, startedAt: null, routerTime: null }, healthy: problems.length === 0, problems,
  };
}

function sample(uptime: number, counters: Record<string, [number, number]>, dials: DialStatus[], log: string[] = []): Sample {
  return { report: report(dials), uptime, counters: new Map(Object.entries(counters)), log };
}

describe('rates', () => {
  it('bytes per second over the router-clock interval', () => {
    expect(rate(1000, 21_000, 2)).toBe(10_000);
    expect(rate(undefined, 5, 2)).toBeNull();
    expect(rate(5, undefined, 2)).toBeNull();
    expect(rate(5, 10, 0)).toBeNull();
    // the counter went back: the PPP device was re-created (a redial), no rate this time
    expect(rate(9_000, 100, 2)).toBeNull();
  });

  it('formats as bits per second, SI', () => {
    expect(formatRate(null)).toBe('-');
    expect(formatRate(0)).toBe('0 bit/s');
    expect(formatRate(100)).toBe('800 bit/s');
    expect(formatRate(125_000)).toBe('1.0 Mbit/s');
    expect(formatRate(1_234_567)).toBe('9.9 Mbit/s');
    expect(formatRate(150_000_000)).toBe('1.2 Gbit/s');
  });
});

describe('watch sections', () => {
  it('parses counters, router uptime and log lines', () => {
    const s = parseWatchSections(new Map([
      ['stats', 'pppoe-wan 100 200\npppoe-vwan2 5 6\nbroken line\n'],
      ['uptime', '12345.67'],
      ['events', 'Thu Dec  3 12:00:01 2026 daemon.notice netifd: Interface \'vwan2\' is now up\n\n'],
    ]));
    expect([...s.counters]).toEqual([['pppoe-wan', [100, 200]], ['pppoe-vwan2', [5, 6]]]);
    expect(s.uptime).toBe(12345.67);
    expect(s.log).toEqual(["Thu Dec  3 12:00:01 2026 daemon.notice netifd: Interface 'vwan2' is now up"]);
  });

  it('the watch script (status + watch sections) passes shellcheck and ash', () => {
    const script = `${statusScript()}\n${render('watch.sh', { lines: '20' })}`;
    expect(shellcheck(script)).toBe('');
    expect(ashSyntax(script)).toBe('');
  });
});

describe('events since the watch began', () => {
  it('keeps only lines that were not in the first sample, the last five', () => {
    const base = new Set(['old 1', 'old 2']);
    let kept = newEvents(base, [], ['old 1', 'old 2', 'new 1']);
    expect(kept).toEqual(['new 1']);
    kept = newEvents(base, kept, ['old 2', 'new 1', 'new 2', 'new 3', 'new 4', 'new 5', 'new 6']);
    expect(kept).toEqual(['new 2', 'new 3', 'new 4', 'new 5', 'new 6']);
  });
});

describe('watch record', () => {
  const dials = [dial(1), dial(2, { state: 'down', ipv4: null, inIpv4Ecmp: false })];
  const first = sample(100, { 'pppoe-wan': [1_000, 2_000] }, dials);
  const second = sample(102, { 'pppoe-wan': [251_000, 52_000], 'pppoe-vwan2': [10, 10] }, dials);

  it('first record has no rates; later ones rate each dial from its device counters', () => {
    const now = new Date('2026-12-03T12:41:07Z');
    expect(buildRecord(first, undefined, [], now).dials.map((d) => [d.rxRate, d.txRate])).toEqual([[null, null], [null, null]]);
    const r = buildRecord(second, first, ['ev'], now);
    expect(r.dials).toEqual([
      { dial: 1, interface: 'wan', device: 'pppoe-wan', state: 'up', ipv4: '100.64.0.1', inIpv4Ecmp: true, inIpv6Ecmp: false, rxRate: 125_000, txRate: 25_000 },
      { dial: 2, interface: 'vwan2', device: 'pppoe-vwan2', state: 'down', ipv4: null, inIpv4Ecmp: false, inIpv6Ecmp: false, rxRate: null, txRate: null },
    ]);
    expect(r.devices).toEqual([
      { dev: 'pppoe-wan', rxBytes: 251_000, txBytes: 52_000, rxRate: 125_000, txRate: 25_000 },
      { dev: 'pppoe-vwan2', rxBytes: 10, txBytes: 10, rxRate: null, txRate: null },
    ]);
    expect(r).toMatchObject({ schemaVersion: 1, time: '2026-12-03T12:41:07.000Z', ecmp: { ipv4: ['pppoe-wan'], ipv6: [] }, events: ['ev'] });
  });

  it('renders a table a person reads at a glance', () => {
    const r = buildRecord(second, first, ["daemon.notice netifd: Interface 'vwan2' has lost the connection"], new Date('2026-12-03T12:41:07Z'));
    expect(formatWatch({ ...r, healthy: false, problems: ['dial 2 (vwan2) is down'] }, { host: 'router', interval: 2 })).toBe(
      [
        'owrt-ecmp status --watch  router  12:41:07 UTC  every 2 s, Ctrl-C to stop',
        '',
        'DIAL  INTERFACE  DEVICE       STATE  IPV4        ECMP  RX          TX',
        '1     wan        pppoe-wan    up     100.64.0.1  v4    1.0 Mbit/s  200.0 kbit/s',
        '2     vwan2      pppoe-vwan2  down   -           no    -           -',
        '',
        'unhealthy:',
        '  - dial 2 (vwan2) is down',
        '',
        'events since the watch began:',
        "  daemon.notice netifd: Interface 'vwan2' has lost the connection",
      ].join('\n'),
    );
  });

  it('no dials configured: the PPP devices and their rates', () => {
    const r = buildRecord(sample(2, { 'pppoe-wan': [10, 20] }, []), sample(1, { 'pppoe-wan': [0, 0] }, []), [], new Date(0));
    expect(formatWatch(r, { host: 'h', interval: 1 })).toContain('DEVICE     RX        TX\npppoe-wan  80 bit/s  160 bit/s');
  });
});
