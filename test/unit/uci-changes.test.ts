import { describe, expect, it } from 'vitest';
import { RemoteError } from '../../src/errors.js';
import { renderBatch } from '../../src/uci/batch.js';
import { parseUciChanges } from '../../src/uci/changes.js';
import { uciQuote } from '../../src/uci/quote.js';
import { HOSTILE } from './uci-hostile.js';

describe('parseUciChanges', () => {
  it('reads every delta form cli.c uci_show_changes prints', () => {
    const text = [
      "network.vwan2='interface'",
      "network.vwan2.proto='pppoe'",
      "network.vwan2.password='it'\\''s'",
      "firewall.wan.network+='vwan2'",
      "firewall.wan.network-='vwan3'",
      '-network.vwan3',
      '-network.wan.metric',
      "my-cfg.cfg0a1b2c='rule'",
      '',
    ].join('\n');
    expect(parseUciChanges(text)).toEqual([
      { op: 'set', config: 'network', section: 'vwan2', value: 'interface' },
      { op: 'set', config: 'network', section: 'vwan2', option: 'proto', value: 'pppoe' },
      { op: 'set', config: 'network', section: 'vwan2', option: 'password', value: "it's" },
      { op: 'add_list', config: 'firewall', section: 'wan', option: 'network', value: 'vwan2' },
      { op: 'del_list', config: 'firewall', section: 'wan', option: 'network', value: 'vwan3' },
      { op: 'delete', config: 'network', section: 'vwan3' },
      { op: 'delete', config: 'network', section: 'wan', option: 'metric' },
      { op: 'set', config: 'my-cfg', section: 'cfg0a1b2c', value: 'rule' },
    ]);
  });

  it('reads multi-line values and hostile values', () => {
    const values = [...HOSTILE, 'two\nlines', "'\n'", '\n'];
    // cli.c uci_print_value: like uciQuote, but printing newlines as they are
    const print = (v: string): string => `'${v.replaceAll("'", "'\\''")}'`;
    expect(print("it's")).toBe(uciQuote("it's"));
    const text = values.map((v, i) => `c.s.o${i}=${print(v)}\n`).join('');
    expect(parseUciChanges(text).map((c) => ('value' in c ? c.value : undefined))).toEqual(values);
  });

  it('reads back what a batch stages (same shape as UciOp)', () => {
    const ops = [
      { op: 'set', config: 'network', section: 'vwan2', value: 'interface' },
      { op: 'set', config: 'network', section: 'vwan2', option: 'username', value: 'u s"e r' },
      { op: 'add_list', config: 'firewall', section: 'wan', option: 'network', value: 'vwan2' },
      { op: 'delete', config: 'network', section: 'vwan9' },
    ] as const;
    // uci changes prints the batch line minus the command word
    const text = renderBatch([...ops])
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [cmd, ...rest] = l.split(' ');
        const arg = rest.join(' ');
        if (cmd === 'delete') return `-${arg}`;
        if (cmd === 'add_list') return arg.replace('=', '+=');
        return arg;
      })
      .join('\n');
    expect(parseUciChanges(text)).toEqual(ops);
  });

  it('accepts empty output, blank lines, unquoted values and a trailing comment', () => {
    expect(parseUciChanges('')).toEqual([]);
    expect(parseUciChanges('\n\n')).toEqual([]);
    expect(parseUciChanges('a.b.c=d\n')).toEqual([{ op: 'set', config: 'a', section: 'b', option: 'c', value: 'd' }]);
    expect(parseUciChanges("a.b='t'## kept comment\n")).toEqual([{ op: 'set', config: 'a', section: 'b', value: 't' }]);
  });

  it.each([
    ['garbage\n', /unrecognised line at line 1/],
    ["a.b.c='x'\nnope\n", /unrecognised line at line 2/],
    ["a.b.c='open\n", /unterminated quote/],
    ["a.b.c='x' y\n", /unexpected text after the value/],
    ['-a.b.c=x\n', /unexpected text after a delete/],
    ["a.b+='x'\n", /list change without an option/],
    ['a.b.c\n', /missing operator/],
  ])('rejects %j', (text, re) => {
    expect(() => parseUciChanges(text)).toThrow(RemoteError);
    expect(() => parseUciChanges(text)).toThrow(re);
  });
});
