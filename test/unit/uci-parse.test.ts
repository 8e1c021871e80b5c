import { describe, expect, it } from 'vitest';
import { RemoteError } from '../../src/errors.js';
import {
  exportUci,
  findSection,
  getOption,
  parseUciBatch,
  parseUciConfig,
  parseUciExport,
  sectionsOfType,
  type UciPackage,
  type UciSection,
} from '../../src/uci/parse.js';
import { HOSTILE } from './uci-hostile.js';

const NETWORK = `
config interface 'loopback'
	option device 'lo'
	option proto 'static'
	option ipaddr '127.0.0.1'
	option netmask '255.0.0.0'

config globals 'globals'
	option ula_prefix 'fd12:3456:789a::/48'
	option packet_steering '1'

# bridge for the LAN ports
config device
	option name 'br-lan'
	option type 'bridge'
	list ports 'lan1'
	list ports 'lan2'

config interface 'lan'
	option device 'br-lan'
	option proto 'static'
	option ipaddr '192.168.1.1'
	option netmask '255.255.255.0'
	option ip6assign '60'

config interface 'wan'
	option device 'wan'
	option proto 'pppoe'
	option username 'user@isp'
	option password 'it'\\''s "secret" $(x) #1'
	option ipv6 'auto'
	option metric '41'
`;

const opts = (s: UciSection | undefined): Record<string, string | string[]> => Object.fromEntries(s?.options ?? []);

/** value of `option v …` after parsing the given argument text */
function value(arg: string): string | string[] | undefined {
  return parseUciConfig(`config t 's'\noption v ${arg}\n`, 'x').sections[0]?.options.get('v');
}

function parseError(text: string, name: string | undefined = 'x'): RemoteError {
  try {
    parseUciConfig(text, name);
  } catch (e) {
    expect(e).toBeInstanceOf(RemoteError);
    return e as RemoteError;
  }
  throw new Error('expected a parse error');
}

describe('parseUciConfig: a real /etc/config/network', () => {
  const pkg = parseUciConfig(NETWORK, 'network');
  it('reads sections in order, named and anonymous', () => {
    expect(pkg.name).toBe('network');
    expect(pkg.sections.map((s) => [s.type, s.name, s.anonymous, s.index])).toEqual([
      ['interface', 'loopback', false, 0],
      ['globals', 'globals', false, 1],
      ['device', '', true, 2],
      ['interface', 'lan', false, 3],
      ['interface', 'wan', false, 4],
    ]);
  });
  it('reads options and lists in order', () => {
    expect([...(pkg.sections[2]?.options.keys() ?? [])]).toEqual(['name', 'type', 'ports']);
    expect(getOption(pkg.sections[2] as UciSection, 'ports')).toEqual(['lan1', 'lan2']);
    expect(getOption(findSection(pkg, 'wan') as UciSection, 'password')).toBe(`it's "secret" $(x) #1`);
    expect(getOption(findSection(pkg, 'wan') as UciSection, 'nope')).toBeUndefined();
  });
  it('finds sections by name, by @type[N] and by type', () => {
    expect(findSection(pkg, 'lan')?.index).toBe(3);
    expect(findSection(pkg, 'nope')).toBeUndefined();
    expect(findSection(pkg, '@interface[0]')?.name).toBe('loopback');
    expect(findSection(pkg, '@interface[-1]')?.name).toBe('wan');
    expect(findSection(pkg, '@device[0]')?.anonymous).toBe(true);
    expect(findSection(pkg, '@device[1]')).toBeUndefined();
    expect(findSection(pkg, '@[1]')?.name).toBe('globals');
    expect(sectionsOfType(pkg, 'interface').map((s) => s.name)).toEqual(['loopback', 'lan', 'wan']);
    expect(sectionsOfType(pkg, 'route')).toEqual([]);
  });
  it('matches the libuci test reference (test/references/export.result)', () => {
    const text = "package export\n\nconfig type 'section'\n\toption opt 'val'\n\tlist list_opt 'val0'\n\tlist list_opt 'val1'\n\n";
    const p = parseUciConfig(text);
    expect(p.name).toBe('export');
    expect(opts(p.sections[0])).toEqual({ opt: 'val', list_opt: ['val0', 'val1'] });
    expect(exportUci(p)).toBe(text);
  });
});

describe('parseUciConfig: argument grammar (file.c parse_str)', () => {
  it.each<[string, string | string[] | undefined]>([
    ['plain', 'plain'],
    ["'single quoted'", 'single quoted'],
    ['"double quoted"', 'double quoted'],
    ["'no \\escape \\' here'", undefined], // quote closes at \' → `here'` is an unterminated quote… see error tests
    ['"a \\"quoted\\" word"', 'a "quoted" word'],
    ['"back\\\\slash"', 'back\\slash'],
    ['"\\n is n"', 'n is n'],
    ["'\\n stays'", '\\n stays'],
    ["x'y'\"z\"", 'xyz'],
    ["'it'\\''s'", "it's"],
    ['x#comment', 'x'],
    ["'x#not'", 'x#not'],
    ['"x#not"', 'x#not'],
    ['x #comment', 'x'],
    ['a\\ b', 'a b'],
    ['a\\#b', 'a#b'],
    ["'$(reboot)'", '$(reboot)'],
    ['`id`', '`id`'],
    ['ünï', 'ünï'],
    ["''", undefined],
    ['""', undefined],
    ['', undefined],
    ['x;', 'x'],
    ['x;y', 'x'],
    ["'tab\there'", 'tab\there'],
  ])('option v %s', (arg, expected) => {
    if (arg === "'no \\escape \\' here'") {
      expect(() => value(arg)).toThrow(/unterminated '/);
      return;
    }
    expect(value(arg)).toEqual(expected);
  });

  it('keeps newlines inside quotes (multi-line values)', () => {
    expect(value("'line1\nline2'")).toBe('line1\nline2');
    expect(value('"line1\nline2"')).toBe('line1\nline2');
    expect(value("'a\n\n  b'")).toBe('a\n\n  b');
  });

  it('joins backslash-newline continuations', () => {
    expect(value('"join\\\nme"')).toBe('joinme');
    expect(value('"join\\\n  me"')).toBe('join  me');
    expect(value('foo\\\nbar')).toBe('foobar');
    expect(value("'single \\\nkeeps'")).toBe('single \\\nkeeps');
    expect(value('"crlf\\\r\nok"')).toBe('crlfok');
  });

  it('ends an unquoted continuation at leading whitespace (then: too many arguments)', () => {
    expect(() => value('foo\\\n  bar')).toThrow(/too many arguments/);
  });

  it('accepts CRLF line endings', () => {
    const p = parseUciConfig("config t 'a'\r\n\toption x '1'\r\n\tlist y z\r\n", 'x');
    expect(opts(p.sections[0])).toEqual({ x: '1', y: ['z'] });
  });

  it('accepts abbreviated keywords and ; separated commands', () => {
    const p = parseUciConfig("p ignored\nc t 'a'; o x '1'; l y 2 ;l y 3\n", 'x');
    expect(p.name).toBe('x');
    expect(opts(p.sections[0])).toEqual({ x: '1', y: ['2', '3'] });
  });

  it('rejects a `;` that ends the line after a quoted word or a space (the next command word is the newline)', () => {
    expect(() => value("'x';")).toThrow(/invalid command at line 2/);
    expect(() => value('x ;')).toThrow(/invalid command at line 2/);
  });

  it('drops the rest of the line after `word;` (libuci terminates the token on the `;`)', () => {
    expect(opts(parseUciConfig("config t 'a'\noption x 1;option y 2\noption z 3\n", 'x').sections[0])).toEqual({ x: '1', z: '3' });
    expect(opts(parseUciConfig("config t 'a'\noption x '1';option y 2\n", 'x').sections[0])).toEqual({ x: '1', y: '2' });
    expect(opts(parseUciConfig("config t 'a'\noption x 1 ;option y 2\n", 'x').sections[0])).toEqual({ x: '1', y: '2' });
  });

  it('handles comments and indentation', () => {
    const p = parseUciConfig("# c\n   # c2\n\t\nconfig t 'a' # trailing\n\toption x 1 # c3\n#option y 2\n", 'x');
    expect(opts(p.sections[0])).toEqual({ x: '1' });
  });
});

describe('parseUciConfig: libuci semantics (list.c uci_set/uci_add_list)', () => {
  const sec = (body: string): UciSection | undefined => parseUciConfig(`config t 's'\n${body}`, 'x').sections[0];
  it('a changed option moves to the end; an unchanged one stays', () => {
    expect([...(sec('option a 1\noption b 2\noption a 3\n')?.options ?? [])]).toEqual([
      ['b', '2'],
      ['a', '3'],
    ]);
    expect([...(sec('option a 1\noption b 2\noption a 1\n')?.options ?? [])]).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
  });
  it('an empty option value is ignored, even over an existing option', () => {
    expect(opts(sec("option a 1\noption a ''\noption b\n"))).toEqual({ a: '1' });
  });
  it('list appends; list over an option makes a list; option over a list replaces it', () => {
    expect(opts(sec('list a 1\nlist a 2\n'))).toEqual({ a: ['1', '2'] });
    expect(opts(sec('option a 1\nlist a 2\n'))).toEqual({ a: ['1', '2'] });
    expect(opts(sec('list a 1\noption a 2\n'))).toEqual({ a: '2' });
    expect(opts(sec("list a ''\nlist a\n"))).toEqual({ a: ['', ''] });
  });
  it('reopening a named section merges into it', () => {
    const p = parseUciConfig("config t 'a'\noption x 1\nconfig t 'b'\nconfig t 'a'\noption y 2\n", 'x');
    expect(p.sections.map((s) => s.name)).toEqual(['a', 'b']);
    expect(opts(p.sections[0])).toEqual({ x: '1', y: '2' });
  });
  it("an empty name ('') makes an anonymous section", () => {
    const p = parseUciConfig("config t ''\noption x 1\nconfig t\n", 'x');
    expect(p.sections.map((s) => [s.name, s.anonymous, s.index])).toEqual([
      ['', true, 0],
      ['', true, 1],
    ]);
  });
  it('accepts types with punctuation (uci_validate_type)', () => {
    expect(parseUciConfig("config my-type.v2 'a'\n", 'x').sections[0]?.type).toBe('my-type.v2');
  });
});

describe('parseUciConfig: package statements', () => {
  it('uses the package line without a name, ignores it with one (like uci_file_load)', () => {
    expect(parseUciConfig("package network\nconfig t 'a'\n").name).toBe('network');
    expect(parseUciConfig("package other\nconfig t 'a'\n", 'network').name).toBe('network');
    expect(parseUciConfig('package empty\n').sections).toEqual([]);
    expect(parseUciConfig('', 'empty')).toEqual({ name: 'empty', sections: [] });
  });
  it('parseUciExport reads several packages', () => {
    const pkgs = parseUciExport("package a\n\nconfig t 's'\n\toption x '1'\n\npackage b-c\n\nconfig u\n\n");
    expect(pkgs.map((p) => [p.name, p.sections.length])).toEqual([
      ['a', 1],
      ['b-c', 1],
    ]);
  });
  it('parseUciConfig refuses several packages', () => {
    expect(() => parseUciConfig('package a\npackage b\n')).toThrow(/2 packages/);
  });
});

describe('parseUciConfig: errors carry the reason and line number', () => {
  it.each<[string, RegExp]>([
    ["config t 'a'\n\tfoo bar\n", /invalid command at line 2/],
    ["config t 'a'\n\toptions x y\n", /invalid command at line 2/],
    ['option x y\n', /option\/list command found before the first section at line 1/],
    ["config t 'a-b'\n", /invalid character in name field at line 1/],
    ["config t 'a'\noption 'x.y' 1\n", /invalid character in name field at line 2/],
    ["config 'a b' 'a'\n", /invalid character in type field at line 1/],
    ["config t 'a'\noption x 1 2\n", /too many arguments at line 2/],
    ["config t 'a' b\n", /too many arguments at line 1/],
    ["\n\nconfig t 'a'\noption x 'open\nstill open\n", /EOF with unterminated ' at line 5/],
    ['config t \'a\'\noption x "open\n', /EOF with unterminated " at line 2/],
    ["config t 'a'\nconfig u 'a'\n", /different type overwrites prior section with same name at line 2/],
    ['config\n', /invalid command at line 1/],
    ['config', /config without name at line 1/],
    ['config \n', /insufficient arguments at line 1/],
    ["config t 'a'\noption\t\n", /insufficient arguments at line 2/],
    ['package bad.name\n', /invalid character in name field/],
  ])('%j → %s', (text, re) => {
    expect(parseError(text).message).toMatch(re);
  });
  it('needs a package name for sections', () => {
    expect(() => parseUciConfig("config t 'a'\n")).toThrow(/without a package name at line 1/);
    expect(() => parseUciConfig('')).toThrow(/no package/);
  });
  it('refuses NUL bytes and bad package names', () => {
    expect(parseError("config t 'a'\noption x 'a\0b'\n").message).toMatch(/NUL/);
    expect(() => parseUciConfig('', 'bad name')).toThrow(RemoteError);
  });
  it('names the package but never echoes values', () => {
    const msg = parseError("config t 'a'\noption password 'hunter2' extra\n", 'network').message;
    expect(msg).toContain("'network'");
    expect(msg).not.toContain('hunter2');
  });
});

describe('exportUci', () => {
  const pkg: UciPackage = {
    name: 'network',
    sections: [
      { type: 'interface', name: 'vwan2', anonymous: false, index: 0, options: new Map<string, string | string[]>([['proto', 'pppoe'], ['password', "it's"]]) },
      { type: 'rule', name: '', anonymous: true, index: 1, options: new Map<string, string | string[]>([['dest_port', ['22', '80']]]) },
      { type: 'empty', name: 'e', anonymous: false, index: 2, options: new Map() },
    ],
  };
  it('prints the uci export format', () => {
    expect(exportUci(pkg)).toBe(
      [
        'package network',
        '',
        "config interface 'vwan2'",
        "\toption proto 'pppoe'",
        "\toption password 'it'\\''s'",
        '',
        'config rule',
        "\tlist dest_port '22'",
        "\tlist dest_port '80'",
        '',
        "config empty 'e'",
        '',
        '',
      ].join('\n'),
    );
  });
  it('prints what uci commit writes with header: false', () => {
    expect(exportUci(pkg, { header: false }).startsWith("\nconfig interface 'vwan2'\n")).toBe(true);
    expect(parseUciConfig(exportUci(pkg, { header: false }), 'network')).toEqual(pkg);
    expect(exportUci({ name: 'x', sections: [] })).toBe('package x\n\n');
  });
  it('round-trips parse(export(x)) == x', () => {
    expect(parseUciConfig(exportUci(pkg))).toEqual(pkg);
  });
  it('round-trips hostile values, multi-line values and lists', () => {
    const values = [...HOSTILE.filter((v) => v !== ''), 'multi\nline', "it's\n'quoted'\n", '\n', '\\\n'];
    const options = new Map<string, string | string[]>();
    values.forEach((v, i) => options.set(`o${i}`, v));
    options.set('l', [...HOSTILE]);
    const p: UciPackage = { name: 'owrt_ecmp', sections: [{ type: 'owrt_ecmp', name: 'main', anonymous: false, index: 0, options }] };
    const text = exportUci(p);
    expect(parseUciConfig(text)).toEqual(p);
    expect(exportUci(parseUciConfig(text))).toBe(text);
  });
  it('is a fixed point on real config text', () => {
    const once = exportUci(parseUciConfig(NETWORK, 'network'));
    expect(exportUci(parseUciConfig(once))).toBe(once);
    expect(parseUciConfig(once)).toEqual(parseUciConfig(NETWORK, 'network'));
  });
});

describe('parseUciBatch (uci batch argument splitting)', () => {
  it('splits like cli.c uci_batch_cmd', () => {
    expect(
      parseUciBatch(
        [
          '# first line comment',
          "set batch.SEC0='section'",
          "set batch.SEC0.option1='\"Hello,",
          '\'"  World\\""',
          "set batch.SEC1='section' # comment at end of line",
          'set batch.SEC1.option0="value1"',
          '',
          ' \t # comment line starts with spaces.',
          "set a.b.c='x'; set a.b.d='dropped'",
          'commit',
        ].join('\n'),
      ),
    ).toEqual([
      ['set', 'batch.SEC0=section'],
      ['set', 'batch.SEC0.option1="Hello,\n  World"'],
      ['set', 'batch.SEC1=section'],
      ['set', 'batch.SEC1.option0=value1'],
      ['set', 'a.b.c=x'],
      ['commit'],
    ]);
  });
  it('refuses a fourth argument like MAX_ARGS does', () => {
    expect(() => parseUciBatch('a b c d\n')).toThrow(/Too many arguments/);
    expect(parseUciBatch('a b c\n')).toEqual([['a', 'b', 'c']]);
  });
});
