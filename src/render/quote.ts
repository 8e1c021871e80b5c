/**
 * Quoting for router-side text. Handlebars renders shell and UCI here, never HTML,
 * so every interpolation goes through one of these, chosen for the target language.
 */

/** POSIX sh single-quoted word: safe for any byte string except NUL. */
export function shQuote(value: string): string {
  if (value.includes('\0')) throw new Error('a NUL byte cannot be passed to the shell');
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** A heredoc delimiter that does not occur as a line in `body`. */
export function heredocDelimiter(body: string, stem = 'OWRT_ECMP_EOF'): string {
  const lines = new Set(body.split('\n'));
  let n = 0;
  let candidate = stem;
  while (lines.has(candidate)) candidate = `${stem}_${++n}`;
  return candidate;
}
