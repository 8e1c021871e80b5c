import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RemoteError } from '../../src/errors.js';
import {
  defaultRoute,
  liveNexthops,
  parseIpNexthops,
  parseIpRoutes,
  parseIpRules,
} from '../../src/kernel/ip-json.js';

/** Real `ip -j` output from iproute2 6.1 (test/fixtures/ip/capture.sh). */
const fx = (name: string): string => readFileSync(new URL(`../fixtures/ip/${name}`, import.meta.url), 'utf8');

describe('parseIpRoutes on real iproute2 6.1 output', () => {
  const routes = parseIpRoutes(fx('route-v4.json'));

  it('normalises multipath, nhid, single-path, dev-only and unreachable routes', () => {
    expect(routes.map((r) => [r.dst, r.metric, r.nhid, r.nexthops.length])).toEqual([
      ['default', 5, 3000, 3],
      ['default', 10, undefined, 3],
      ['default', 41, undefined, 1],
      ['default', 42, undefined, 1],
      ['default', 43, undefined, 1],
      ['10.0.1.0/24', 0, undefined, 1],
      ['10.0.2.0/24', 0, undefined, 1],
      ['10.0.3.0/24', 0, undefined, 1],
      ['192.0.2.128/25', 7, undefined, 0],
      ['198.51.100.0/24', 0, 3010, 2],
      ['203.0.113.0/24', 0, undefined, 1],
    ]);
  });

  it('reads weights, gateways and dev-only nexthops', () => {
    expect(defaultRoute(routes, 10)?.nexthops).toEqual([
      { dev: 'w1', gateway: '10.0.1.1', weight: 1, flags: [] },
      { dev: 'w2', gateway: '10.0.2.1', weight: 2, flags: [] },
      { dev: 'w3', gateway: '10.0.3.1', weight: 1, flags: [] },
    ]);
    expect(defaultRoute(routes, 5)?.nexthops[2]).toEqual({ dev: 'w3', weight: 1, flags: [] });
    expect(defaultRoute(routes, 41)).toMatchObject({ protocol: 'static', nexthops: [{ dev: 'w1', gateway: '10.0.1.1', weight: 1 }] });
    expect(defaultRoute(routes, 43)).toMatchObject({ scope: 'link', nexthops: [{ dev: 'w3', weight: 1, flags: [] }] });
    expect(defaultRoute(routes, 43)?.nexthops[0]?.gateway).toBeUndefined();
    expect(defaultRoute(routes, 99)).toBeUndefined();
  });

  it('takes an IPv6 gateway of an IPv4 route from "via"', () => {
    expect(routes.find((r) => r.dst === '203.0.113.0/24')?.nexthops[0]).toEqual({ dev: 'w1', gateway: 'fe80::1', weight: 1, flags: [] });
  });

  it('keeps route types (unreachable has no nexthops and is never a default route)', () => {
    expect(routes.find((r) => r.dst === '192.0.2.128/25')).toMatchObject({ type: 'unreachable', nexthops: [] });
  });

  it('reads -d output (type, protocol, scope; nh_info ignored)', () => {
    const d = parseIpRoutes(fx('route-v4-detail.json'));
    expect(defaultRoute(d, 5)).toMatchObject({ type: 'unicast', protocol: 'boot', scope: 'global', nhid: 3000 });
    expect(defaultRoute(d, 10)?.nexthops.map((n) => n.weight)).toEqual([1, 2, 1]);
  });

  it('marks dead members after admin-down and liveNexthops drops them', () => {
    const r = parseIpRoutes(fx('route-v4-default-w2down.json'));
    const ecmp = defaultRoute(r, 10);
    expect(ecmp?.nexthops.map((n) => [n.dev, n.flags])).toEqual([
      ['w1', []],
      ['w2', ['dead', 'linkdown']],
      ['w3', []],
    ]);
    expect(liveNexthops(ecmp ?? { dst: '', metric: 0, flags: [], nexthops: [] }).map((n) => n.dev)).toEqual(['w1', 'w3']);
    // the nexthop object on w2 was deleted, so the nhid route just lost that member
    expect(defaultRoute(r, 5)?.nexthops.map((n) => n.dev)).toEqual(['w1', 'w3']);
  });

  it('shows the IPv4 multipath route gone and the nhid route single-path after a member device is deleted', () => {
    const r = parseIpRoutes(fx('route-v4-default-w3deleted.json'));
    expect(defaultRoute(r, 10)).toBeUndefined();
    expect(defaultRoute(r, 5)).toMatchObject({ nhid: 3000, nexthops: [{ dev: 'w1', gateway: '10.0.1.1', weight: 1, flags: [] }] });
  });

  it('reads tables', () => {
    const t = parseIpRoutes(fx('route-v4-table3003.json'));
    expect(t.map((r) => [r.dst, r.table])).toEqual([
      ['default', undefined],
      ['192.0.2.0/24', undefined],
    ]);
    const all = parseIpRoutes(fx('route-v4-table-all.json'));
    expect(all.filter((r) => r.table === '3003').map((r) => r.dst)).toEqual(['default', '192.0.2.0/24']);
    expect(all.some((r) => r.table === 'local' && r.type === 'local')).toBe(true);
    // defaultRoute only looks at the main table
    expect(defaultRoute(all, 0)).toBeUndefined();
    expect(defaultRoute(all, 10)?.nexthops).toHaveLength(3);
  });
});

describe('parseIpRoutes on IPv6', () => {
  it('reads IPv6 multipath and skips source-specific defaults', () => {
    const r = parseIpRoutes(fx('route-v6.json'));
    expect(defaultRoute(r, 10)?.nexthops).toEqual([
      { dev: 'w1', gateway: 'fe80::1', weight: 1, flags: [] },
      { dev: 'w2', gateway: 'fe80::2', weight: 1, flags: [] },
    ]);
    expect(r.find((x) => x.from !== undefined)).toMatchObject({ dst: 'default', from: '2001:db8:2::/64', metric: 512 });
    expect(defaultRoute(r, 512)).toBeUndefined();
    expect(defaultRoute(r, 5)?.nexthops.map((n) => [n.dev, n.gateway])).toEqual([
      ['w1', 'fe80::1'],
      ['w2', undefined],
    ]);
  });
  it('reads -d -6 and the dead flag', () => {
    const d = parseIpRoutes(fx('route-v6-default-detail.json'));
    expect(d.map((x) => [x.metric, x.type, x.from])).toEqual([
      [512, 'unicast', '2001:db8:2::/64'],
      [5, 'unicast', undefined],
      [10, 'unicast', undefined],
    ]);
    const down = parseIpRoutes(fx('route-v6-default-w2down.json'));
    const ecmp = defaultRoute(down, 10);
    expect(ecmp && liveNexthops(ecmp).map((n) => n.dev)).toEqual(['w1']);
  });
});

describe('parseIpRoutes: fact-file examples and edge cases', () => {
  it('reads the openwrt-facts §10 example', () => {
    const text = `[{"dst":"default","flags":[],"nexthops":[
  {"gateway":"10.0.1.1","dev":"w1","weight":1,"flags":[]},
  {"gateway":"10.0.2.1","dev":"w2","weight":1,"flags":[]}]}]`;
    const r = parseIpRoutes(text);
    expect(r).toEqual([
      {
        dst: 'default',
        metric: 0,
        flags: [],
        nexthops: [
          { dev: 'w1', gateway: '10.0.1.1', weight: 1, flags: [] },
          { dev: 'w2', gateway: '10.0.2.1', weight: 1, flags: [] },
        ],
      },
    ]);
    expect(defaultRoute(r, 0)).toBe(r[0]);
  });
  it('treats empty output as no routes and tolerates a missing flags field', () => {
    expect(parseIpRoutes('')).toEqual([]);
    expect(parseIpRoutes('[]\n')).toEqual([]);
    expect(parseIpRoutes('[{"dst":"0.0.0.0/0","dev":"pppoe-wan"}]')[0]).toMatchObject({ flags: [], nexthops: [{ dev: 'pppoe-wan', weight: 1 }] });
  });
  it('gives a single-path route its linkdown flag on the nexthop', () => {
    const r = parseIpRoutes('[{"dst":"default","gateway":"10.0.0.1","dev":"w9","metric":3,"flags":["linkdown"]}]');
    expect(r[0] && liveNexthops(r[0])).toEqual([]);
  });
  it.each([
    ['{}', /not a JSON array/],
    ['not json', /not JSON/],
    ['[1]', /entry 0 is not an object/],
    ['[{"dev":"w1"}]', /without "dst"/],
    ['[{"dst":"default","metric":"5"}]', /"metric" is not a number/],
    ['[{"dst":"default","nexthops":{}}]', /"nexthops" is not an array/],
    ['[{"dst":"default","nexthops":[{"gateway":"1.2.3.4"}]}]', /nexthop without "dev"/],
    ['[{"dst":"default","flags":"dead"}]', /"flags"/],
    ['[{"dst":"default","dev":"w1","via":{"family":"inet6"}}]', /"via" has no host/],
  ])('rejects %j', (text, re) => {
    expect(() => parseIpRoutes(text)).toThrow(RemoteError);
    expect(() => parseIpRoutes(text)).toThrow(re);
  });
});

describe('parseIpNexthops', () => {
  it('reads groups (weights default 1), resilient groups and members', () => {
    const n = parseIpNexthops(fx('nexthop.json'));
    expect(n.find((x) => x.id === 3000)).toEqual({
      id: 3000,
      flags: [],
      group: [
        { id: 3001, weight: 1 },
        { id: 3002, weight: 2 },
        { id: 3003, weight: 1 },
      ],
    });
    expect(n.find((x) => x.id === 3010)).toMatchObject({
      type: 'resilient',
      resilient: { buckets: 32, idle_timer: 60, unbalanced_timer: 0, unbalanced_time: 0 },
      group: [
        { id: 3001, weight: 1 },
        { id: 3002, weight: 1 },
      ],
    });
    expect(n.find((x) => x.id === 3001)).toEqual({ id: 3001, gateway: '10.0.1.1', dev: 'w1', scope: 'link', flags: [] });
    expect(n.find((x) => x.id === 3003)).toEqual({ id: 3003, dev: 'w3', scope: 'host', flags: [] });
    expect(n.find((x) => x.id === 3000)?.type).toBeUndefined();
  });
  it('reads -6 and -d output', () => {
    // `ip -6 nexthop show` lists only the IPv6 members: groups have no address family
    expect(parseIpNexthops(fx('nexthop-v6.json')).map((x) => [x.id, x.gateway, x.dev])).toEqual([
      [3101, 'fe80::1', 'w1'],
      [3102, undefined, 'w2'],
    ]);
    expect(parseIpNexthops(fx('nexthop-detail.json')).find((x) => x.id === 3000)).toMatchObject({ scope: 'global', protocol: 'unspec' });
  });
  it('shows members removed when their device goes down or away', () => {
    const down = parseIpNexthops(fx('nexthop-w2down.json'));
    expect(down.map((x) => x.id)).toEqual([3000, 3001, 3003, 3010, 3100, 3101]);
    expect(down.find((x) => x.id === 3000)?.group?.map((m) => m.id)).toEqual([3001, 3003]);
    const gone = parseIpNexthops(fx('nexthop-w3deleted.json'));
    expect(gone.find((x) => x.id === 3000)?.group).toEqual([{ id: 3001, weight: 1 }]);
  });
  it('treats empty output as none and rejects garbage', () => {
    expect(parseIpNexthops('')).toEqual([]);
    expect(() => parseIpNexthops('[{"dev":"w1"}]')).toThrow(/without "id"/);
    expect(() => parseIpNexthops('[{"id":1,"group":[{"weight":2}]}]')).toThrow(/member without "id"/);
    expect(() => parseIpNexthops('[{"id":1,"group":{}}]')).toThrow(/"group" is not an array/);
  });
});

describe('parseIpRules', () => {
  it('reads priority, src/srclen, table and suppress_prefixlen', () => {
    expect(parseIpRules(fx('rule-v4.json'))).toEqual([
      { priority: 0, src: 'all', table: 'local' },
      { priority: 3000, src: 'all', table: 'main', suppress_prefixlength: 0 },
      { priority: 3002, src: '10.0.2.2', table: '3002' },
      { priority: 3003, src: '10.0.3.0', srclen: 24, table: '3003' },
      { priority: 32766, src: 'all', table: 'main' },
      { priority: 32767, src: 'all', table: 'default' },
    ]);
    expect(parseIpRules(fx('rule-v6.json')).map((r) => r.priority)).toEqual([0, 3000, 32766]);
  });
  it('rejects rules without priority', () => {
    expect(() => parseIpRules('[{"src":"all"}]')).toThrow(/without "priority"/);
  });
});
