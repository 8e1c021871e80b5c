import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { describeOp, renderBatch, SECRET_MASK, type UciOp } from '../../src/uci/batch.js';
import { parseUciBatch } from '../../src/uci/parse.js';
import { HOSTILE } from './uci-hostile.js';

const never = (): boolean => false;
const always = (): boolean => true;

describe('renderBatch', () => {
  it('renders one command per line, values quoted, trailing newline', () => {
    const ops: UciOp[] = [
      { op: 'set', config: 'network', section: 'vwan2', value: 'interface' },
      { op: 'set', config: 'network', section: 'vwan2', option: 'proto', value: 'pppoe' },
      { op: 'set', config: 'network', section: 'vwan2', option: 'password', value: "p'w" },
      { op: 'add_list', config: 'firewall', section: 'wan', option: 'network', value: 'vwan2' },
      { op: 'del_list', config: 'firewall', section: 'wan', option: 'network', value: 'vwan3' },
      { op: 'delete', config: 'network', section: 'vwan3' },
      { op: 'delete', config: 'network', section: 'vwan2', option: 'metric' },
    ];
    expect(renderBatch(ops)).toBe(
      [
        "set network.vwan2='interface'",
        "set network.vwan2.proto='pppoe'",
        "set network.vwan2.password='p'\\''w'",
        "add_list firewall.wan.network='vwan2'",
        "del_list firewall.wan.network='vwan3'",
        'delete network.vwan3',
        'delete network.vwan2.metric',
        '',
      ].join('\n'),
    );
  });

  it('accepts libuci extended section references', () => {
    expect(renderBatch([{ op: 'set', config: 'firewall', section: '@zone[1]', option: 'network', value: 'wan' }])).toBe(
      "set firewall.@zone[1].network='wan'\n",
    );
    expect(renderBatch([{ op: 'delete', config: 'firewall', section: '@rule[-1]' }])).toBe('delete firewall.@rule[-1]\n');
  });

  it('renders nothing for no ops', () => {
    expect(renderBatch([])).toBe('');
  });

  it('splits back into exactly the intended arguments for hostile values', () => {
    const ops: UciOp[] = HOSTILE.map((value, i) => ({ op: 'set', config: 'owrt_ecmp', section: 'main', option: `o${i}`, value }));
    const cmds = parseUciBatch(renderBatch(ops));
    expect(cmds).toEqual(HOSTILE.map((value, i) => ['set', `owrt_ecmp.main.o${i}=${value}`]));
  });

  it.each<[string, UciOp]>([
    ['config', { op: 'set', config: 'net work', section: 'a', value: 'x' }],
    ['config', { op: 'set', config: 'net.work', section: 'a', value: 'x' }],
    ['section', { op: 'set', config: 'network', section: 'a-b', value: 'x' }],
    ['section', { op: 'set', config: 'network', section: '@interface[x]', option: 'x', value: 'x' }],
    ['section', { op: 'set', config: 'network', section: '@inter face[0]', option: 'x', value: 'x' }],
    ['section', { op: 'delete', config: 'network', section: '' }],
    ['option', { op: 'set', config: 'network', section: 'a', option: 'x=y', value: 'x' }],
    ['option', { op: 'add_list', config: 'network', section: 'a', option: "x'", value: 'x' }],
    ['section type', { op: 'set', config: 'network', section: 'a', value: 'inter face' }],
    ['section type', { op: 'set', config: 'network', section: 'a', value: '' }],
  ])('rejects a bad %s name', (what, op) => {
    expect(() => renderBatch([op])).toThrow(UsageError);
    expect(() => renderBatch([op])).toThrow(what);
  });

  it('rejects a value with a newline without echoing it', () => {
    const op: UciOp = { op: 'set', config: 'network', section: 'a', option: 'password', value: 'sec\nret' };
    expect(() => renderBatch([op])).toThrow(/newline/);
    expect(() => renderBatch([op])).not.toThrow(/sec/);
  });
});

describe('describeOp', () => {
  const pw: UciOp = { op: 'set', config: 'network', section: 'vwan2', option: 'password', value: 'hunter2' };
  it('masks secrets', () => {
    expect(describeOp(pw, always)).toBe(`set network.vwan2.password=${SECRET_MASK}`);
    expect(describeOp(pw, always)).not.toContain('hunter2');
  });
  it('prints the batch line otherwise', () => {
    expect(describeOp(pw, never)).toBe("set network.vwan2.password='hunter2'");
    expect(describeOp({ op: 'delete', config: 'network', section: 'vwan2' }, always)).toBe('delete network.vwan2');
    expect(describeOp({ op: 'add_list', config: 'f', section: 's', option: 'o', value: 'v' }, (op) => op.op === 'set')).toBe(
      "add_list f.s.o='v'",
    );
  });
  it('passes the op to the predicate', () => {
    const isSecret = (op: UciOp): boolean => 'option' in op && op.option === 'password';
    expect(describeOp(pw, isSecret)).toContain(SECRET_MASK);
    expect(describeOp({ ...pw, option: 'username' }, isSecret)).toContain('hunter2');
  });
  it('still validates a masked op (and never leaks the value)', () => {
    expect(() => describeOp({ ...pw, value: 'a\nb' }, always)).toThrow(UsageError);
    expect(() => describeOp({ ...pw, section: 'bad-name' }, always)).toThrow(UsageError);
  });
});
