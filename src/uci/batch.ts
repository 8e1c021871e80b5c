/**
 * `uci batch` writer. One command per line; every value single-quoted by `uciQuote`; every name checked
 * against libuci's rules first, so nothing the caller passes can change the shape of a command.
 *
 * Remember (cli.c `uci_batch`): `uci batch` exits 0 even when a line fails; only stderr tells.
 * `set cfg.sec.opt=''` (empty value) deletes the option, exactly like libuci `uci_set`.
 */
import { UsageError } from '../errors.js';
import { isValidConfigName, isValidUciName, isValidUciType, uciQuote } from './quote.js';

export type UciOp =
  | { op: 'set'; config: string; section: string; option?: string; value: string }
  | { op: 'add_list' | 'del_list'; config: string; section: string; option: string; value: string }
  | { op: 'delete'; config: string; section: string; option?: string };

/** What `describeOp` prints in place of a secret value. */
export const SECRET_MASK = '•••••';

function path(op: UciOp): string {
  if (!isValidConfigName(op.config)) throw new UsageError(`invalid UCI config name in ${op.op} command`);
  // named section, or an anonymous one by type index (`@zone[1]`), as libuci's lookup accepts
  if (!isValidUciName(op.section) && !/^@[A-Za-z0-9_]+\[-?\d+\]$/.test(op.section)) {
    throw new UsageError(`invalid UCI section name in ${op.op} command for config ${op.config}`);
  }
  let p = `${op.config}.${op.section}`;
  if (op.option !== undefined) {
    if (!isValidUciName(op.option)) {
      throw new UsageError(`invalid UCI option name in ${op.op} command for ${p}`);
    }
    p += `.${op.option}`;
  }
  return p;
}

function checkValue(op: UciOp): void {
  if (op.op === 'set' && op.option === undefined && !isValidUciType(op.value)) {
    throw new UsageError(`invalid UCI section type for ${op.config}.${op.section}`);
  }
}

/** One batch line without the trailing newline. */
export function renderOp(op: UciOp): string {
  const p = path(op);
  checkValue(op);
  if (op.op === 'delete') return `delete ${p}`;
  return `${op.op} ${p}=${uciQuote(op.value)}`;
}

/** The whole `uci batch` input: one command per line, ending with a newline (empty string for no ops). */
export function renderBatch(ops: readonly UciOp[]): string {
  return ops.map((op) => `${renderOp(op)}\n`).join('');
}

/** Plan/log form: the batch line, or with the value masked when `isSecret(op)`. */
export function describeOp(op: UciOp, isSecret: (op: UciOp) => boolean): string {
  if (op.op !== 'delete' && isSecret(op)) {
    renderOp(op); // same validation (and the same errors, which never contain the value)
    return `${op.op} ${path(op)}=${SECRET_MASK}`;
  }
  return renderOp(op);
}
