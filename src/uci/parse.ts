/**
 * Parser for UCI config files and `uci export` output, following libuci's own parser (openwrt/uci
 * file.c `uci_parse_line`, `next_arg`, `parse_str`, `parse_single_quote`, `parse_double_quote`,
 * `parse_backslash`; list.c `uci_set`/`uci_add_list`) in strict mode, which is the CLI default:
 *
 * - A line is `package <name>`, `config <type> [<name>]`, `option <name> [<value>]` or
 *   `list <name> [<value>]`; the keywords may be abbreviated to their first letter. `;` separates commands,
 *   except right after a plain unquoted word (`option a 1;option b 2`), where libuci's in-place token
 *   termination overwrites the `;` and the rest of the line is silently ignored.
 * - Arguments: `'…'` is literal (may span lines); `"…"` drops a backslash and keeps the next character
 *   (`\n` is a plain `n`), backslash-newline joins lines; unquoted text ends at whitespace, `;` or `#`
 *   (the rest of the line is a comment); pieces concatenate (`a'b'"c"` is `abc`).
 * - A backslash at the end of a line continues the argument on the next line (outside single quotes).
 * - An empty option value is ignored; `option` on an existing option replaces it (and, unless the value is
 *   unchanged, moves it to the end); `list` on a plain option turns it into a list; `config` with the name
 *   of an existing section reopens it (a different type is an error in strict mode).
 * - With a package name given (how libuci loads /etc/config/<name>), `package` lines are checked but
 *   ignored, like `uci_file_load` does.
 */
import { RemoteError } from '../errors.js';
import { isValidConfigName, isValidUciName, isValidUciType } from './quote.js';

export type UciValue = string | string[];

export interface UciSection {
  type: string;
  /** '' for anonymous sections: libuci names them `cfgXXXXXX` internally, `uci export` does not print it. */
  name: string;
  anonymous: boolean;
  /** Position among the package's sections, from 0. */
  index: number;
  /** Insertion order kept (libuci order: a replaced option moves to the end). */
  options: Map<string, UciValue>;
}

export interface UciPackage {
  name: string;
  sections: UciSection[];
}

class UciParseError extends Error {}

const isSpace = (c: string): boolean =>
  c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';

class Parser {
  private readonly lines: string[];
  private nextLine = 0;
  /** 1-based number of the last line read. */
  line = 0;
  private buf = '';
  private pos = 0;

  readonly packages: UciPackage[] = [];
  private pkg: UciPackage | undefined;
  private section: UciSection | undefined;

  constructor(
    text: string,
    private readonly name: string | undefined,
    private readonly single: boolean,
  ) {
    this.lines = text.split(/(?<=\n)/).filter((l) => l !== '');
  }

  run(): UciPackage[] {
    while (this.nextLine < this.lines.length) {
      this.pos = 0;
      this.getln(0);
      if (this.buf !== '') this.parseLine();
    }
    if (!this.pkg && this.name !== undefined) this.switchConfig(this.name);
    return this.packages;
  }

  /** `uci batch` argument splitting (cli.c `uci_batch_cmd` + file.c `uci_parse_argument`). */
  batchCommands(): string[][] {
    const cmds: string[][] = [];
    while (this.nextLine < this.lines.length) {
      this.pos = 0;
      this.getln(0);
      const args: string[] = [];
      for (;;) {
        // MAX_ARGS is 4 and the check runs before the 4th slot is tested for end-of-command
        if (args.length === 4) this.fail('Too many arguments');
        const a = this.nextArg(false, 'value');
        if (a === '') break;
        args.push(a);
      }
      // the rest of the line after `;` or `#` is dropped: the next command starts on a new line
      if (args.length > 0) cmds.push(args);
    }
    return cmds;
  }

  private fail(reason: string): never {
    throw new UciParseError(reason);
  }

  private cur(): string {
    return this.buf[this.pos] ?? '';
  }

  /** Replace everything from `offset` on with the next input line (libuci `uci_getln`). */
  private getln(offset: number): void {
    this.buf = this.buf.slice(0, offset);
    const l = this.lines[this.nextLine];
    if (l === undefined) return;
    this.nextLine++;
    this.line++;
    this.buf += l;
  }

  private skipWhitespace(): void {
    while (this.cur() !== '' && isSpace(this.cur())) this.pos++;
  }

  /** At a backslash: true if the next character is to be taken literally, false after a line join. */
  private backslash(): boolean {
    this.pos++;
    const c = this.cur();
    if (
      c === '' ||
      c === '\n' ||
      (c === '\r' && this.buf[this.pos + 1] === '\n' && this.pos + 2 >= this.buf.length)
    ) {
      this.getln(this.pos);
      return false;
    }
    return true;
  }

  private doubleQuote(): string {
    let out = '';
    this.pos++;
    for (;;) {
      const c = this.cur();
      if (c === '"') {
        this.pos++;
        return out;
      }
      if (c === '') {
        this.getln(this.pos);
        if (this.cur() === '') this.fail('EOF with unterminated "');
        continue;
      }
      if (c === '\\' && !this.backslash()) continue;
      out += this.cur();
      this.pos++;
    }
  }

  private singleQuote(): string {
    let out = '';
    this.pos++;
    for (;;) {
      const c = this.cur();
      if (c === "'") {
        this.pos++;
        return out;
      }
      if (c === '') {
        this.getln(this.pos);
        if (this.cur() === '') this.fail("EOF with unterminated '");
        continue;
      }
      out += c;
      this.pos++;
    }
  }

  private parseStr(): string {
    const start = this.pos;
    let out = '';
    let next = true;
    scan: do {
      switch (this.cur()) {
        case "'":
          out += this.singleQuote();
          break;
        case '"':
          out += this.doubleQuote();
          break;
        case '#':
          this.buf = this.buf.slice(0, this.pos);
          break scan;
        case '':
          break scan;
        case ';':
          next = false;
          // libuci builds the token in place and NUL-terminates it where it ends; for a plain unquoted
          // token that spot is this `;`, which is thereby erased: the rest of the line is ignored
          if (start + out.length === this.pos) this.buf = this.buf.slice(0, this.pos);
          break scan;
        case '\\':
          if (!this.backslash()) continue;
          out += this.cur();
          this.pos++;
          break;
        default:
          out += this.cur();
          this.pos++;
      }
    } while (this.cur() !== '' && !isSpace(this.cur()));
    if (this.cur() !== '' && next) this.pos++;
    return out;
  }

  private nextArg(required: boolean, kind: 'value' | 'name' | 'package'): string {
    this.skipWhitespace();
    let v: string;
    if (this.cur() === ';') {
      this.pos++;
      v = '';
    } else {
      v = this.parseStr();
    }
    if (v === '') {
      if (required) this.fail('insufficient arguments');
      return '';
    }
    if (kind === 'name' && !isValidUciName(v)) this.fail('invalid character in name field');
    if (kind === 'package' && !isValidConfigName(v)) this.fail('invalid character in name field');
    return v;
  }

  private assertEol(): void {
    this.skipWhitespace();
    if (this.nextArg(false, 'value') !== '') this.fail('too many arguments');
  }

  /** Move past the command word and its delimiter (libuci `uci_increase_pos`). */
  private skipWord(afterWord: number, what: string): void {
    if (afterWord > this.buf.length) this.fail(`${what} without name`);
    this.pos = afterWord;
  }

  private parseLine(): void {
    this.skipWhitespace();
    for (;;) {
      // strtok(cur, " \t")
      let start = this.pos;
      while (this.buf[start] === ' ' || this.buf[start] === '\t') start++;
      if (start >= this.buf.length) return;
      let end = start;
      while (end < this.buf.length && this.buf[end] !== ' ' && this.buf[end] !== '\t') end++;
      const word = this.buf.slice(start, end);
      const after = end + 1;
      const is = (full: string): boolean => word === full[0] || word === full;
      if (word.startsWith('#')) return;
      if (is('package')) {
        this.skipWord(after, 'package');
        this.parsePackage();
      } else if (is('config')) {
        this.parseConfig(after);
      } else if (is('option')) {
        this.parseOption(after, false);
      } else if (is('list')) {
        this.parseOption(after, true);
      } else {
        this.fail('invalid command');
      }
    }
  }

  private switchConfig(name: string): void {
    if (this.packages.some((p) => p.name === name)) this.fail(`duplicate package ${name}`);
    this.pkg = { name, sections: [] };
    this.section = undefined;
    this.packages.push(this.pkg);
  }

  private parsePackage(): void {
    const name = this.nextArg(true, 'package');
    this.assertEol();
    if (this.single) return;
    this.switchConfig(name);
  }

  private parseConfig(after: number): void {
    if (!this.pkg) {
      if (this.name === undefined) this.fail('attempting to import a file without a package name');
      this.switchConfig(this.name);
    }
    const pkg = this.pkg as UciPackage;
    this.skipWord(after, 'config');
    const type = this.nextArg(true, 'value');
    if (!isValidUciType(type)) this.fail('invalid character in type field');
    const name = this.nextArg(false, 'name');
    this.assertEol();
    if (name !== '') {
      const existing = pkg.sections.find((s) => !s.anonymous && s.name === name);
      if (existing) {
        if (existing.type !== type) {
          this.fail('section of different type overwrites prior section with same name');
        }
        this.section = existing;
        return;
      }
    }
    this.section = {
      type,
      name,
      anonymous: name === '',
      index: pkg.sections.length,
      options: new Map(),
    };
    pkg.sections.push(this.section);
  }

  private parseOption(after: number, list: boolean): void {
    const sec = this.section;
    if (!sec) this.fail('option/list command found before the first section');
    this.skipWord(after, 'option');
    const name = this.nextArg(true, 'name');
    const value = this.nextArg(false, 'value');
    this.assertEol();
    const old = sec.options.get(name);
    if (list) {
      if (Array.isArray(old)) {
        old.push(value);
      } else {
        sec.options.delete(name);
        sec.options.set(name, old === undefined ? [value] : [old, value]);
      }
      return;
    }
    // libuci ignores an empty value while parsing (uci_set without a completed lookup is a no-op)
    if (value === '' || old === value) return;
    sec.options.delete(name);
    sec.options.set(name, value);
  }
}

function parse(text: string, name: string | undefined, single: boolean): UciPackage[] {
  if (name !== undefined && !isValidConfigName(name)) {
    throw new RemoteError('invalid UCI config name');
  }
  const label = name === undefined ? 'UCI config' : `UCI config '${name}'`;
  if (text.includes('\0')) throw new RemoteError(`cannot parse ${label}: it contains a NUL byte`);
  const parser = new Parser(text, name, single);
  try {
    return parser.run();
  } catch (e) {
    if (e instanceof UciParseError) {
      throw new RemoteError(`cannot parse ${label}: ${e.message} at line ${parser.line}`);
    }
    throw e;
  }
}

/**
 * Parse one package: a config file (pass `name`, as libuci does for /etc/config/<name>) or the output
 * of `uci export <name>` (a `package` line names it). Errors are `RemoteError`s with the line number.
 */
export function parseUciConfig(text: string, name?: string): UciPackage {
  const pkgs = parse(text, name, name !== undefined);
  const [first, ...rest] = pkgs;
  if (!first) throw new RemoteError('cannot parse UCI config: no package statement and no package name');
  if (rest.length > 0) {
    throw new RemoteError(`UCI export holds ${pkgs.length} packages where one was expected`);
  }
  return first;
}

/** Parse `uci export` output for several packages (no argument: every config). */
export function parseUciExport(text: string): UciPackage[] {
  return parse(text, undefined, false);
}

/**
 * How `uci batch` splits its input into commands and arguments: one command per line (continuation
 * lines and multi-line quotes aside), text after `;` or `#` dropped. For checking generated batches.
 */
export function parseUciBatch(text: string): string[][] {
  if (text.includes('\0')) throw new RemoteError('cannot parse UCI batch: it contains a NUL byte');
  const parser = new Parser(text, undefined, true);
  try {
    return parser.batchCommands();
  } catch (e) {
    if (e instanceof UciParseError) {
      throw new RemoteError(`cannot parse UCI batch: ${e.message} at line ${parser.line}`);
    }
    throw e;
  }
}

/** A named section, or libuci's extended `@type[N]` / `@type[-1]` reference. */
export function findSection(pkg: UciPackage, name: string): UciSection | undefined {
  const ext = /^@([^[\]]*)\[(-?\d+)\]$/.exec(name);
  if (ext) {
    const [, type = '', idxText = '0'] = ext;
    const list = type === '' ? pkg.sections : sectionsOfType(pkg, type);
    let idx = Number(idxText);
    if (idx < 0) idx += list.length;
    return list[idx];
  }
  return pkg.sections.find((s) => !s.anonymous && s.name === name);
}

export function sectionsOfType(pkg: UciPackage, type: string): UciSection[] {
  return pkg.sections.filter((s) => s.type === type);
}

export function getOption(sec: UciSection, key: string): UciValue | undefined {
  return sec.options.get(key);
}

/** libuci `uci_escape`: `'` → `'\''` (the caller adds the surrounding quotes, or not). */
function escape(s: string): string {
  return s.replaceAll("'", `'\\''`);
}

/**
 * What `uci export <name>` prints (file.c `uci_export_package`); with `header: false`, what
 * `uci commit` writes to /etc/config/<name> (the same without the `package` line).
 */
export function exportUci(pkg: UciPackage, opts: { header?: boolean } = {}): string {
  let out = opts.header === false ? '' : `package ${escape(pkg.name)}\n`;
  for (const sec of pkg.sections) {
    out += `\nconfig ${escape(sec.type)}`;
    if (!sec.anonymous) out += ` '${escape(sec.name)}'`;
    out += '\n';
    for (const [key, value] of sec.options) {
      if (Array.isArray(value)) {
        for (const item of value) out += `\tlist ${escape(key)} '${escape(item)}'\n`;
      } else {
        out += `\toption ${escape(key)} '${escape(value)}'\n`;
      }
    }
  }
  return `${out}\n`;
}
