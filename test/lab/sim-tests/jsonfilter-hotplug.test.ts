import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HOTPLUG_CALL, JSONFILTER, ROOT, run } from './helpers.js';

const DUMP = JSON.stringify({
  interface: [
    {
      interface: 'wan',
      up: true,
      l3_device: 'pppoe-wan',
      metric: 41,
      'ipv4-address': [{ address: '100.64.0.2', mask: 32, ptpaddress: '100.64.0.1' }],
      route: [{ target: '0.0.0.0', mask: 0, nexthop: '100.64.0.1', source: '0.0.0.0/0' }],
      inactive: { route: [] },
      data: {},
    },
    {
      interface: 'vwan2',
      up: false,
      inactive: { route: [{ target: '0.0.0.0', mask: 0, nexthop: '100.64.0.9', source: '0.0.0.0/0' }] },
    },
    {
      interface: 'wan_6',
      up: true,
      route: [{ target: '::', mask: 0, nexthop: 'fe80::1', metric: 512, source: '2001:db8::/64' }],
      data: { zone: 'wan' },
    },
  ],
});

const jf = (...args: string[]) => run(JSONFILTER, ['-s', DUMP, ...args]);

describe('jsonfilter', () => {
  it('prints strings raw, other values as json-c text', () => {
    expect(jf('-e', "@.interface[@.interface='wan'].l3_device").stdout).toBe('pppoe-wan\n');
    expect(jf('-e', "@.interface[@.interface='wan'].up").stdout).toBe('true\n');
    expect(jf('-e', "@.interface[@.interface='wan'].metric").stdout).toBe('41\n');
    expect(jf('-e', "@.interface[@.interface='wan_6'].data").stdout).toBe('{ "zone": "wan" }\n');
    expect(jf('-e', "@.interface[@.interface='wan'].route[0]").stdout).toBe(
      '{ "target": "0.0.0.0", "mask": 0, "nexthop": "100.64.0.1", "source": "0.0.0.0\\/0" }\n',
    );
  });

  it('supports bracket keys, indexes, filters with && and !, wildcards', () => {
    expect(jf('-e', "@.interface[@.interface='wan']['ipv4-address'][0].address").stdout).toBe('100.64.0.2\n');
    expect(jf('-e', '@.interface[@.up=true].interface').stdout).toBe('wan\nwan_6\n');
    expect(jf('-e', "@.interface[@.interface='wan_6'].route[@.target='::' && @.mask=0].nexthop").stdout).toBe(
      'fe80::1\n',
    );
    expect(jf('-e', "@.interface[@.interface='wan'].route[@.target='0.0.0.0' && !@.table].nexthop").stdout).toBe(
      '100.64.0.1\n',
    );
    expect(jf('-e', '@.interface[*].interface').stdout).toBe('wan\nvwan2\nwan_6\n');
    expect(jf('-e', '@.interface[-1].interface').stdout).toBe('wan_6\n');
  });

  it('VAR= output is shell-evaluable: booleans 1/0, strings quoted, multiple values joined', () => {
    const r = jf(
      '-e',
      "U=@.interface[@.interface='wan'].up",
      '-e',
      "V=@.interface[@.interface='vwan2'].up",
      '-e',
      'ALL=@.interface[*].interface',
      '-e',
      "NONE=@.interface[@.interface='nope'].up",
    );
    expect(r.stdout).toBe("export U=1; export V=0; export ALL='wan'\\ 'vwan2'\\ 'wan_6'; ");
    expect(r.code).toBe(1); // one pattern matched nothing
    const sh = run('busybox', ['sh', '-c', `eval "$(cat)"; echo "$U/$V/$ALL/\${NONE-unset}"`], { input: r.stdout });
    expect(sh.stdout).toBe('1/0/wan vwan2 wan_6/unset\n');
  });

  it('quotes single quotes for eval and honours -F and -l', () => {
    const s = JSON.stringify({ a: ["it's", 'b'] });
    const r = run(JSONFILTER, ['-s', s, '-F', ',', '-e', 'X=@.a[*]']);
    expect(r.stdout).toBe(`export X='it'"'"'s','b'; `);
    expect(run(JSONFILTER, ['-s', s, '-l', '1', '-e', '@.a[*]']).stdout).toBe("it's\n");
  });

  it('exit codes: 0 on match, 1 on no match, 126 on bad json; -q hides errors', () => {
    expect(jf('-e', '@.interface[0].interface').code).toBe(0);
    expect(jf('-e', '@.nothing').code).toBe(1);
    const bad = run(JSONFILTER, ['-s', '{bad', '-e', '@']);
    expect(bad.code).toBe(126);
    expect(bad.stderr).toMatch(/^Failed to parse json data/);
    expect(run(JSONFILTER, ['-q', '-s', '{bad', '-e', '@']).stderr).toBe('');
  });

  it('reads stdin by default and -i files', () => {
    expect(run(JSONFILTER, ['-e', '@.x'], { input: '{"x":"y"}' }).stdout).toBe('y\n');
  });
});

describe('hotplug-call', () => {
  it('sources every script alphabetically in a subshell under busybox ash with OpenWrt env', () => {
    const root = mkdtempSync(join(tmpdir(), 'lab-hotplug-'));
    try {
      const dir = join(root, 'etc', 'hotplug.d', 'iface');
      mkdirSync(dir, { recursive: true });
      mkdirSync(join(root, 'lib'), { recursive: true });
      writeFileSync(join(root, 'lib', 'functions.sh'), readFileSync(join(ROOT, 'lib', 'functions.sh')));
      const log = join(root, 'log');
      // not executable on purpose: hotplug scripts are sourced
      writeFileSync(
        join(dir, '10-first'),
        `echo "first $ACTION $INTERFACE \${DEVICE-unset} $HOTPLUG_TYPE $USER $PATH \${IFUPDATE_ADDRESSES-}" >>${log}\nFOO=leak\nexit 0\n`,
      );
      writeFileSync(
        join(dir, '20-second'),
        `echo "second \${FOO-nofoo} $(readlink /proc/$$/exe) $(type config_load | head -n1)" >>${log}\n`,
      );
      const env = {
        PATH: process.env.PATH,
        LAB_SIM_ROOT: root,
        ACTION: 'ifupdate',
        INTERFACE: 'vwan2',
        DEVICE: 'pppoe-vwan2',
        IFUPDATE_ADDRESSES: '1',
      };
      const r = run(HOTPLUG_CALL, ['iface'], { env });
      expect(r.code).toBe(0);
      const lines = readFileSync(log, 'utf8').trim().split('\n');
      expect(lines[0]).toBe('first ifupdate vwan2 pppoe-vwan2 iface root /usr/sbin:/usr/bin:/sbin:/bin 1');
      expect(lines[1]).toMatch(/^second nofoo \S*busybox config_load is a (shell )?function/);
      rmSync(log);
      run(HOTPLUG_CALL, ['iface'], { env: { PATH: process.env.PATH, LAB_SIM_ROOT: root, ACTION: 'ifdown', INTERFACE: 'vwan2' } });
      expect(readFileSync(log, 'utf8').split('\n')[0]).toBe('first ifdown vwan2 unset iface root /usr/sbin:/usr/bin:/sbin:/bin ');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
