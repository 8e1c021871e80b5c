import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UciSandbox } from './helpers.js';

const NETWORK = `
config interface 'loopback'
\toption device 'lo'
\toption proto 'static'

config device
\toption name 'br-lan'
\tlist ports 'lan1'
\tlist ports 'lan 2'

config interface 'wan'
\toption device 'wan'
\toption proto 'pppoe'

`;

const FIREWALL = `
config defaults
\toption input 'REJECT'

config zone
\toption name 'lan'
\tlist network 'lan'

config zone
\toption name 'wan'
\tlist network 'wan'
\tlist network 'wan6'

`;

// single-quote a value for a uci batch line, the way uci show prints it
const q = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

let sb: UciSandbox;
beforeEach(() => {
  sb = new UciSandbox();
  writeFileSync(join(sb.confdir, 'network'), NETWORK);
  writeFileSync(join(sb.confdir, 'firewall'), FIREWALL);
});
afterEach(() => sb.cleanup());

describe('uci show / get / export formats', () => {
  it('shows named and anonymous sections, lists quoted per item', () => {
    const r = sb.uci(['show', 'network']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "network.loopback=interface",
        "network.loopback.device='lo'",
        "network.loopback.proto='static'",
        'network.@device[0]=device',
        "network.@device[0].name='br-lan'",
        "network.@device[0].ports='lan1' 'lan 2'",
        'network.wan=interface',
        "network.wan.device='wan'",
        "network.wan.proto='pppoe'",
        '',
      ].join('\n'),
    );
  });

  it('indexes @type[N] over all sections of the type; -X shows cfg names', () => {
    expect(sb.uci(['get', 'firewall.@zone[1].name']).stdout).toBe('wan\n');
    expect(sb.uci(['get', 'firewall.@zone[-1].name']).stdout).toBe('wan\n');
    const x = sb.uci(['-X', 'show', 'firewall']).stdout;
    expect(x).toMatch(/^firewall\.cfg[0-9a-f]{6}=defaults$/m);
    // `show` of one anonymous section prints its real name
    expect(sb.uci(['show', 'firewall.@zone[0]']).stdout).toMatch(/^firewall\.cfg[0-9a-f]{6}=zone\n/);
  });

  it('get prints raw values; list items quoted only when they contain whitespace', () => {
    expect(sb.uci(['get', 'network.@device[0].ports']).stdout).toBe("lan1 'lan 2'\n");
    expect(sb.uci(['get', 'network.wan']).stdout).toBe('interface\n');
  });

  it('export matches the uci format byte for byte', () => {
    const r = sb.uci(['export', 'firewall']);
    expect(r.stdout).toBe(
      "package firewall\n\nconfig defaults\n\toption input 'REJECT'\n\nconfig zone\n\toption name 'lan'\n\tlist network 'lan'\n\nconfig zone\n\toption name 'wan'\n\tlist network 'wan'\n\tlist network 'wan6'\n\n",
    );
  });

  it('reports errors like uci', () => {
    let r = sb.uci(['get', 'network.nosuch']);
    expect([r.code, r.stderr]).toEqual([1, 'uci: Entry not found\n']);
    r = sb.uci(['get', 'nosuchconfig.x']);
    expect([r.code, r.stderr]).toEqual([1, 'uci: Entry not found\n']);
    r = sb.uci(['set', 'network.nosuch.opt=1']);
    expect([r.code, r.stderr]).toEqual([1, 'uci: Invalid argument\n']);
    r = sb.uci(['get', 'network.a.b.c']);
    expect([r.code, r.stderr]).toEqual([1, 'uci: Parse error\n']);
    r = sb.uci(['-q', 'get', 'network.nosuch']);
    expect([r.code, r.stderr]).toEqual([1, '']);
    r = sb.uci(['add', 'nosuchconfig', 'x']);
    expect(r.stderr).toBe('uci: Entry not found\n');
  });
});

describe('staging, changes, commit', () => {
  it('stages deltas in the default save dir and commits them atomically', () => {
    expect(sb.uci(['set', 'network.wan.metric=41']).code).toBe(0);
    expect(sb.uci(['add_list', 'firewall.@zone[1].network=vwan2']).code).toBe(0);
    expect(sb.uci(['changes']).stdout).toBe(
      "firewall.@zone[1].network+='vwan2'\n".replace('@zone[1]', sb.uci(['-X', 'show', 'firewall']).stdout.split('\n').filter((l) => l.endsWith('=zone'))[1]!.split('.')[1]!.split('=')[0]!) +
        "network.wan.metric='41'\n",
    );
    expect(readFileSync(join(sb.defaultSave, 'network'), 'utf8')).toBe("network.wan.metric='41'\n");
    expect(sb.uci(['commit']).code).toBe(0);
    expect(sb.uci(['changes']).stdout).toBe('');
    const net = readFileSync(join(sb.confdir, 'network'), 'utf8');
    expect(net.startsWith('\nconfig interface')).toBe(true); // committed files start with a blank line
    expect(net).toContain("\toption metric '41'\n");
  });

  it('records delete, rename, del_list with uci changes prefixes', () => {
    sb.uci(['delete', 'network.loopback.proto']);
    sb.uci(['del_list', 'firewall.@zone[1].network=wan6']);
    sb.uci(['rename', 'network.wan=dial1']);
    const out = sb.uci(['changes']).stdout.split('\n');
    expect(out).toContain('-network.loopback.proto');
    expect(out).toContain("network.wan='dial1'");
    expect(out.some((l) => /^firewall\.cfg[0-9a-f]{6}\.network-='wan6'$/.test(l))).toBe(true);
    sb.uci(['revert', 'network']);
    expect(sb.uci(['changes', 'network']).stdout).toBe('');
  });

  it('setting an option to its current value records nothing (libuci list.c)', () => {
    sb.uci(['set', 'network.wan.proto=pppoe']);
    expect(sb.uci(['changes']).stdout).toBe('');
    // a section type set is always recorded
    sb.uci(['set', 'network.wan=interface']);
    expect(sb.uci(['changes']).stdout).toBe("network.wan='interface'\n");
  });

  it('a config file must exist before it can be changed', () => {
    expect(sb.uci(['set', 'owrt_ecmp.main=owrt_ecmp']).stderr).toBe('uci: Entry not found\n');
    writeFileSync(join(sb.confdir, 'owrt_ecmp'), '');
    expect(sb.uci(['set', 'owrt_ecmp.main=owrt_ecmp']).code).toBe(0);
    expect(sb.uci(['get', 'owrt_ecmp.main']).stdout).toBe('owrt_ecmp\n');
  });

  it('an option re-set to a new value moves to the end of its section on commit', () => {
    sb.uci(['set', 'network.wan.device=vwan1mv']);
    sb.uci(['commit', 'network']);
    expect(sb.uci(['export', 'network']).stdout).toContain(
      "config interface 'wan'\n\toption proto 'pppoe'\n\toption device 'vwan1mv'\n",
    );
  });

  it('uci add prints a cfgXXXXXX name that later commands can use', () => {
    const name = sb.uci(['add', 'network', 'device']).stdout.trim();
    expect(name).toMatch(/^cfg[0-9a-f]{6}$/);
    expect(sb.uci(['set', `network.${name}.name=vwan2mv`]).code).toBe(0);
    expect(sb.uci(['get', 'network.@device[1].name']).stdout).toBe('vwan2mv\n');
    sb.uci(['commit', 'network']);
    expect(readFileSync(join(sb.confdir, 'network'), 'utf8')).toContain("\nconfig device\n\toption name 'vwan2mv'\n");
  });
});

describe('-t / -P save dirs (libuci delta path)', () => {
  it('-t reads and commits /tmp/.uci deltas too, but only flushes its own dir', () => {
    sb.uci(['set', 'network.wan.username=foreign']); // someone else's staged edit in /tmp/.uci
    const mine = join(sb.dir, 'mine');
    expect(sb.uci(['-t', mine, 'set', 'network.wan.metric=42']).code).toBe(0);
    expect(readFileSync(join(mine, 'network'), 'utf8')).toBe("network.wan.metric='42'\n");
    // reads through -t see both
    expect(sb.uci(['-t', mine, 'get', 'network.wan.username']).stdout).toBe('foreign\n');
    expect(sb.uci(['-t', mine, 'changes', 'network']).stdout).toBe(
      "network.wan.username='foreign'\nnetwork.wan.metric='42'\n",
    );
    expect(sb.uci(['-t', mine, 'commit', 'network']).code).toBe(0);
    const committed = readFileSync(join(sb.confdir, 'network'), 'utf8');
    expect(committed).toContain("option username 'foreign'"); // the foreign edit was committed...
    expect(readFileSync(join(sb.defaultSave, 'network'), 'utf8')).toBe("network.wan.username='foreign'\n"); // ...and is still staged
    expect(readFileSync(join(mine, 'network'), 'utf8')).toBe('');
  });

  it('-P stages into its dir and makes commit a no-op', () => {
    const dry = join(sb.dir, 'dry');
    sb.uci(['-P', dry, 'set', 'network.wan.metric=9']);
    expect(sb.uci(['-P', dry, 'commit']).code).toBe(0);
    expect(readFileSync(join(sb.confdir, 'network'), 'utf8')).toBe(NETWORK);
    expect(existsSync(join(sb.defaultSave, 'network'))).toBe(false);
  });
});

describe('uci batch', () => {
  const tricky = [
    "it's",
    '$(reboot)',
    'a#b',
    'x;y',
    '  spaced  out  ',
    'ünïcødé pässwörd 密码',
    'back\\slash "dq"',
    'tab\there',
  ];

  it('round-trips awkward values byte-exact through single-quoted batch lines', () => {
    const lines = tricky.map((v, i) => `set network.wan.v${i}=${q(v)}`);
    const r = sb.uci(['batch'], lines.join('\n') + '\ncommit network\n');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    tricky.forEach((v, i) => {
      expect(sb.uci(['get', `network.wan.v${i}`]).stdout).toBe(v + '\n');
    });
    // and uci show quotes them back in the same form
    const show = sb.uci(['show', 'network.wan']).stdout;
    tricky.forEach((v, i) => expect(show).toContain(`network.wan.v${i}=${q(v)}\n`));
  });

  it('handles multi-line single quotes, double-quote escapes, comments', () => {
    const input = [
      '# comment line',
      "set network.wan.a='line1",
      "line2'",
      'set network.wan.b="say \\"hi\\" \\n"',
      "set network.wan.c=x # trailing comment",
      "set network.wan.d='x'\"y\"z",
      '',
    ].join('\n');
    const r = sb.uci(['batch'], input);
    expect(r.stderr).toBe('');
    expect(sb.uci(['get', 'network.wan.a']).stdout).toBe('line1\nline2\n');
    expect(sb.uci(['get', 'network.wan.b']).stdout).toBe('say "hi" n\n');
    expect(sb.uci(['get', 'network.wan.c']).stdout).toBe('x\n');
    expect(sb.uci(['get', 'network.wan.d']).stdout).toBe('xyz\n');
  });

  it('always exits 0; errors go to stderr only', () => {
    const r = sb.uci(
      ['batch'],
      [
        'set network.nosuch.x=1',
        'frobnicate network',
        'set network.wan.e=a b c d',
        "set network.wan.ok='1'",
        "set network.wan.f='unterminated",
      ].join('\n') + '\n',
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /^uci: Invalid argument\nUnknown command\nToo many arguments\nuci: Parse error \(EOF with unterminated '\) at line 5, byte \d+\n$/,
    );
    expect(sb.uci(['get', 'network.wan.ok']).stdout).toBe('1\n');
  });

  it('an unquoted ; ends the command and drops the rest of the line', () => {
    sb.uci(['batch'], 'set network.wan.g=1; set network.wan.h=2\n');
    expect(sb.uci(['get', 'network.wan.g']).stdout).toBe('1\n');
    expect(sb.uci(['-q', 'get', 'network.wan.h']).code).toBe(1);
  });

  it('exit stops the batch', () => {
    sb.uci(['batch'], "set network.wan.i=1\nexit\nset network.wan.j=2\n");
    expect(sb.uci(['-q', 'get', 'network.wan.j']).code).toBe(1);
  });
});
