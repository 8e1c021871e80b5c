import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { isValidConfigName, isValidUciName, isValidUciType, uciQuote } from '../../src/uci/quote.js';
import { parseUciBatch, parseUciConfig } from '../../src/uci/parse.js';
import { HOSTILE } from './uci-hostile.js';


describe('uciQuote', () => {
  it.each([
    ['plain', "'plain'"],
    ['', "''"],
    ["it's", "'it'\\''s'"],
    ["'", "''\\'''"],
    ['a b', "'a b'"],
    ['$(x)', "'$(x)'"],
    ['\\', "'\\'"],
  ])('%j → %s', (value, quoted) => {
    expect(uciQuote(value)).toBe(quoted);
  });

  it.each(HOSTILE.map((v) => [v]))('round-trips %j through the libuci option grammar', (value) => {
    const pkg = parseUciConfig(`config t 's'\n\toption v ${uciQuote(value)}\n\tlist l ${uciQuote(value)}\n`, 'x');
    const sec = pkg.sections[0];
    // libuci ignores an empty option value while parsing, but keeps an empty list item
    expect(sec?.options.get('v')).toBe(value === '' ? undefined : value);
    expect(sec?.options.get('l')).toEqual([value]);
  });

  it.each(HOSTILE.map((v) => [v]))('round-trips %j through uci batch argument splitting', (value) => {
    expect(parseUciBatch(`set x.s.o=${uciQuote(value)}\n`)).toEqual([['set', `x.s.o=${value}`]]);
  });

  it.each([
    ['a\nb', 'newline'],
    ['a\r', 'carriage return'],
    ['a\0b', 'NUL'],
    ['a\u0001b', 'control character'],
    ['\u001b[31m', 'control character'],
  ])('rejects %j with a UsageError naming the problem, not the value', (value, problem) => {
    let err: unknown;
    try {
      uciQuote(value);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(problem);
    expect((err as Error).message).not.toContain(value);
  });
});

describe('name rules (uci_validate_str)', () => {
  it.each([
    ['wan', true, true, true],
    ['vwan2', true, true, true],
    ['owrt_ecmp_dev2', true, true, true],
    ['my-config', false, true, true],
    ['a.b', false, false, true],
    ['', false, false, false],
    ['a b', false, false, false],
    ['@interface[0]', false, false, true],
    ['é', false, false, false],
    ["it's", false, false, true],
  ])('%j: name %s, config %s, type %s', (s, name, config, type) => {
    expect(isValidUciName(s)).toBe(name);
    expect(isValidConfigName(s)).toBe(config);
    expect(isValidUciType(s)).toBe(type);
  });
});
