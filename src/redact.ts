/** Replace every occurrence of a secret in text shown to the user or written to logs. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('•••••');
  return out;
}
