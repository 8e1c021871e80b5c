/**
 * Quoting and name rules for UCI, checked against openwrt/uci (file.c `parse_str`/`parse_single_quote`,
 * util.c `uci_validate_str`, uci_internal.h `uci_validate_{package,type,name}`).
 *
 * Inside single quotes libuci copies every byte literally until the next `'`; there is no escape. A quote
 * is therefore written as `'\''` (close, backslash-escaped quote outside quotes, reopen), which is also how
 * `uci export`/`uci show`/`uci changes` print values.
 */
import { UsageError } from '../errors.js';

/**
 * Control characters a generated batch line must not carry: newline/CR would split or continue the
 * command, NUL truncates the C string, and older libuci (`uci_validate_text`) rejects every other C0
 * control except tab in `set`/`add_list` values.
 */
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u0008\u000a-\u001f]/;

function describeForbidden(value: string): string {
  if (value.includes('\n')) return 'a newline';
  if (value.includes('\r')) return 'a carriage return';
  if (value.includes('\0')) return 'a NUL byte';
  return 'a control character';
}

/** `'value'` with `'` written as `'\''`, for `uci batch` input and config files. */
export function uciQuote(value: string): string {
  if (FORBIDDEN.test(value)) {
    throw new UsageError(`UCI value contains ${describeForbidden(value)}, which cannot be written safely`);
  }
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Section and option names: libuci `uci_validate_name` (C-locale isalnum or `_`, non-empty). */
export function isValidUciName(name: string): boolean {
  return /^[A-Za-z0-9_]+$/.test(name);
}

/** Package (config file) names: libuci `uci_validate_package` (names plus `-`). */
export function isValidConfigName(name: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(name);
}

/** Section types: libuci `uci_validate_type` (non-empty, printable ASCII without space). */
export function isValidUciType(type: string): boolean {
  return /^[\x21-\x7e]+$/.test(type);
}
