/**
 * Parser for `uci changes` output (openwrt/uci cli.c `uci_show_changes`). Each staged delta prints as
 *
 *   cfg.sec.opt='v'     set an option          cfg.sec='type'   add/set a section (see below)
 *   cfg.sec.opt+='v'    add_list               cfg.sec.opt-='v' del_list
 *   -cfg.sec.opt        delete an option       -cfg.sec         delete a section
 *
 * Values are printed like `uci show`: single-quoted with `'` as `'\''`, and a value holding a newline
 * spans several lines. `cli.c` prints rename (`uci rename`) and reorder deltas with the same `=` form as a
 * set, so `cfg.sec='x'` may also be a rename of section `sec` to `x` or a reorder to position `x`:
 * the output cannot tell them apart. A delete by list index (`delete cfg.sec.opt=2`) prints without the index.
 */
import { RemoteError } from '../errors.js';
import type { UciOp } from './batch.js';

/** Same shape as the batch op that would stage it. */
export type UciChange = UciOp;

const PATH = /^(-?)([A-Za-z0-9_-]+)\.([A-Za-z0-9_]+)(?:\.([A-Za-z0-9_]+))?/;

export function parseUciChanges(text: string): UciChange[] {
  const changes: UciChange[] = [];
  let pos = 0;
  let line = 1;
  const fail = (what: string): never => {
    throw new RemoteError(`cannot parse 'uci changes' output: ${what} at line ${line}`);
  };

  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const lineEnd = nl === -1 ? text.length : nl;
    if (text.slice(pos, lineEnd).trim() === '') {
      pos = lineEnd + 1;
      line++;
      continue;
    }
    const m = PATH.exec(text.slice(pos, lineEnd));
    if (!m) fail('unrecognised line');
    const [whole, minus = '', config = '', section = '', option] = m as RegExpExecArray;
    pos += whole.length;

    if (minus === '-') {
      if (pos !== lineEnd) fail('unexpected text after a delete');
      changes.push(option === undefined ? { op: 'delete', config, section } : { op: 'delete', config, section, option });
    } else {
      let op: 'set' | 'add_list' | 'del_list';
      if (text.startsWith('+=', pos)) {
        op = 'add_list';
        pos += 2;
      } else if (text.startsWith('-=', pos)) {
        op = 'del_list';
        pos += 2;
      } else if (text[pos] === '=') {
        op = 'set';
        pos += 1;
      } else {
        return fail('missing operator');
      }
      // value: 'chunk' pieces joined by \' (uci_print_value); a bare value is accepted too (older tools)
      let value = '';
      if (text[pos] !== "'") {
        const end = text.indexOf('\n', pos);
        value = text.slice(pos, end === -1 ? text.length : end);
        pos += value.length;
      } else {
        for (;;) {
          if (text[pos] === "'") {
            const close = text.indexOf("'", pos + 1);
            if (close === -1) fail('unterminated quote');
            const chunk = text.slice(pos + 1, close);
            for (const c of chunk) if (c === '\n') line++;
            value += chunk;
            pos = close + 1;
          } else if (text.startsWith("\\'", pos)) {
            value += "'";
            pos += 2;
          } else {
            break;
          }
        }
      }
      // tolerate a trailing `#…` comment (uci forks that keep comments print one there)
      const end = text.indexOf('\n', pos);
      const rest = text.slice(pos, end === -1 ? text.length : end);
      if (rest !== '' && !rest.startsWith('#')) fail('unexpected text after the value');
      pos += rest.length;
      if (op === 'set') {
        changes.push(option === undefined ? { op, config, section, value } : { op, config, section, option, value });
      } else {
        if (option === undefined) fail('list change without an option name');
        changes.push({ op, config, section, option: option as string, value });
      }
    }
    // at a newline or the end
    pos += 1;
    line++;
  }
  return changes;
}
