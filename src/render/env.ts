import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { heredocDelimiter, shQuote } from './quote.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const templatesDir = join(root, 'templates');
export const openwrtFilesDir = join(root, 'openwrt-files');

/**
 * A private Handlebars environment: `noEscape` because the output is shell, UCI and
 * sysctl text (HTML escaping would corrupt it), `strict` so a missing variable is an
 * error instead of an empty string. Quoting is explicit through the helpers.
 */
const hbs = Handlebars.create();
hbs.registerHelper('sh', (value: unknown) => {
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new Error(`sh helper needs a string or number, got ${typeof value}`);
  }
  return shQuote(String(value));
});
/** `{{#heredoc}}…{{/heredoc}}` → a quoted heredoc with a delimiter that cannot clash. */
hbs.registerHelper('heredoc', function (this: unknown, options: Handlebars.HelperOptions) {
  const body = options.fn(this);
  const delim = heredocDelimiter(body);
  // the closing delimiter ends its line here: Handlebars drops the newline after a
  // standalone `{{/heredoc}}`, and a delimiter with anything after it does not close
  return `<<'${delim}'\n${body.endsWith('\n') ? body : `${body}\n`}${delim}\n`;
});
hbs.registerHelper('json', (value: unknown) => JSON.stringify(value));
hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
// shared pieces of the router-side scripts, also rendered alone by tests
hbs.registerPartial('apply-lock', readFileSync(join(templatesDir, 'apply-lock.sh.hbs'), 'utf8'));
hbs.registerPartial('library-env', readFileSync(join(templatesDir, 'library-env.sh.hbs'), 'utf8'));
hbs.registerPartial('install-packages', readFileSync(join(templatesDir, 'install-packages.sh.hbs'), 'utf8'));

const cache = new Map<string, Handlebars.TemplateDelegate>();

export function render(name: string, context: object): string {
  let tpl = cache.get(name);
  if (!tpl) {
    const source = readFileSync(join(templatesDir, `${name}.hbs`), 'utf8');
    tpl = hbs.compile(source, { noEscape: true, strict: true });
    cache.set(name, tpl);
  }
  return tpl(context);
}

export function openwrtFile(name: string): string {
  return readFileSync(join(openwrtFilesDir, name), 'utf8');
}
