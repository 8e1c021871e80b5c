import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RemoteError } from '../../src/errors.js';
import {
  defaultGateway4,
  defaultGateway6,
  ipv4Address,
  ipv4AddressEntry,
  lastError,
  parseInterfaceDump,
  parseInterfaceStatus,
  toInterfaceStatus,
} from '../../src/ubus/parse.js';
import type { InterfaceStatus } from '../../src/ubus/types.js';

const DUMP = readFileSync(new URL('../fixtures/ubus/interface-dump.json', import.meta.url), 'utf8');

describe('parseInterfaceDump', () => {
  const dump = parseInterfaceDump(DUMP);
  const byName = (n: string): InterfaceStatus => {
    const st = dump.find((s) => s.interface === n);
    if (!st) throw new Error(n);
    return st;
  };

  it('reads every interface in order with its state', () => {
    expect(dump.map((s) => [s.interface, s.up, s.pending, s.dynamic, s.proto])).toEqual([
      ['lan', true, false, false, 'static'],
      ['wan', true, false, false, 'pppoe'],
      ['vwan2', true, false, false, 'pppoe'],
      ['vwan2_6', true, false, true, 'dhcpv6'],
      ['vwan3', false, true, false, 'pppoe'],
      ['vwan4', false, false, false, 'pppoe'],
    ]);
    expect(byName('wan').l3_device).toBe('pppoe-wan');
    expect(byName('wan').metric).toBe(41);
    expect(byName('wan').data).toEqual({ zone: 'wan' });
    expect(byName('vwan3').l3_device).toBeUndefined();
  });

  it('finds addresses (network_get_ipaddr)', () => {
    expect(ipv4Address(byName('wan'))).toBe('100.64.10.20');
    expect(ipv4AddressEntry(byName('wan'))?.ptpaddress).toBe('100.64.0.1');
    expect(ipv4Address(byName('vwan3'))).toBeUndefined();
    expect(ipv4Address(byName('vwan2_6'))).toBeUndefined();
  });

  it('finds IPv4 gateways, falling back to inactive.route only when asked (defaultroute 0)', () => {
    expect(defaultGateway4(byName('wan'))).toBe('100.64.0.1');
    expect(defaultGateway4(byName('vwan2'))).toBeUndefined();
    expect(defaultGateway4(byName('vwan2'), { includeInactive: true })).toBe('100.64.0.1');
    expect(defaultGateway4(byName('vwan3'), { includeInactive: true })).toBeUndefined();
    expect(defaultGateway4(byName('lan'), { includeInactive: true })).toBeUndefined();
  });

  it('finds IPv6 gateways (target ::, mask 0), skipping other routes', () => {
    expect(defaultGateway6(byName('vwan2_6'))).toBe('fe80::5:73ff:fea0:2');
    expect(defaultGateway6(byName('wan'))).toBeUndefined();
    expect(defaultGateway4(byName('vwan2_6'))).toBeUndefined();
  });

  it('ignores default routes in extra tables, like network.sh (!@.table)', () => {
    const st = toInterfaceStatus({
      interface: 'x', up: true, pending: false, available: true, autostart: true, dynamic: false, proto: 'static',
      route: [
        { target: '0.0.0.0', mask: 0, nexthop: '10.0.0.9', table: 100 },
        { target: '0.0.0.0', mask: 0, nexthop: '10.0.0.1' },
      ],
      inactive: { route: [{ target: '::', mask: 0, nexthop: 'fe80::1' }] },
    });
    expect(defaultGateway4(st)).toBe('10.0.0.1');
    expect(defaultGateway6(st)).toBeUndefined();
    expect(defaultGateway6(st, { includeInactive: true })).toBe('fe80::1');
  });

  it('reports the last netifd error', () => {
    expect(lastError(byName('vwan4'))).toEqual({ subsystem: 'pppoe', code: 'AUTH_FAILED', data: ['x'] });
    expect(lastError(byName('wan'))).toBeUndefined();
  });

  it('accepts an empty dump', () => {
    expect(parseInterfaceDump('{"interface":[]}')).toEqual([]);
  });

  it.each([
    ['', /not JSON/],
    ['Command failed: Not found', /not JSON/],
    ['[]', /"interface" array/],
    ['{"interface":{}}', /"interface" array/],
    ['{"interface":[42]}', /not an object/],
    ['{"interface":[{"interface":"a","up":"yes","pending":false,"available":true,"autostart":true}]}', /interface a: "up" is not a boolean/],
    ['{"interface":[{"interface":"a","pending":false,"available":true,"autostart":true}]}', /interface a: "up" is missing/],
    ['{"interface":[{"up":true,"pending":false,"available":true,"autostart":true}]}', /"interface" is missing/],
    ['{"interface":[{"interface":"a","up":true,"pending":false,"available":true,"autostart":true,"route":[{"target":"0.0.0.0"}]}]}', /route entry/],
    ['{"interface":[{"interface":"a","up":true,"pending":false,"available":true,"autostart":true,"ipv4-address":[{"mask":32}]}]}', /address entry/],
    ['{"interface":[{"interface":"a","up":true,"pending":false,"available":true,"autostart":true,"errors":[{"code":"X"}]}]}', /error entry/],
    ['{"interface":[{"interface":"a","up":true,"pending":false,"available":true,"autostart":true,"metric":"41"}]}', /"metric" is not a number/],
    ['{"interface":[{"interface":"a","up":true,"pending":false,"available":true,"autostart":true,"inactive":[]}]}', /"inactive" is not an object/],
  ])('rejects garbage %j with a RemoteError', (text, re) => {
    expect(() => parseInterfaceDump(text)).toThrow(RemoteError);
    expect(() => parseInterfaceDump(text)).toThrow(re);
  });
});

describe('parseInterfaceStatus', () => {
  it('takes the name from the call when the object has none; defaults dynamic/proto for old netifd', () => {
    const st = parseInterfaceStatus('{"up":false,"pending":false,"available":false,"autostart":true}', 'vwan5');
    expect(st).toMatchObject({ interface: 'vwan5', up: false, dynamic: false, proto: '' });
  });
  it('keeps fields it does not model', () => {
    const st = parseInterfaceStatus('{"up":true,"pending":false,"available":true,"autostart":true,"dynamic":false,"proto":"pppoe","ip4table":"100"}', 'w');
    expect(st.ip4table).toBe('100');
  });
  it('names the interface in errors', () => {
    expect(() => parseInterfaceStatus('nope', 'vwan5')).toThrow(/status of vwan5 is not JSON/);
  });
});
