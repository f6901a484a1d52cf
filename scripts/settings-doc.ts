/**
 * `npm run docs:settings`: writes the settings reference into docs/configuration.md, between the markers
 * `<!-- settings-reference:start -->` and `<!-- settings-reference:end -->`, from the zod
 * schema in src/config/settings.ts. A test fails when that page is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { settingsReference } from '../src/config/settings.ts';

export const START = '<!-- settings-reference:start -->';
export const END = '<!-- settings-reference:end -->';

/** The page with its settings reference replaced by the generated one. */
export function withReference(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/configuration.md has no ${START} … ${END} markers`);
  return `${readme.slice(0, start + START.length)}\n${settingsReference()}\n${readme.slice(end)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = new URL('../docs/configuration.md', import.meta.url);
  const readme = readFileSync(path, 'utf8');
  const updated = withReference(readme);
  if (updated !== readme) writeFileSync(path, updated);
  console.log(updated === readme ? 'docs/configuration.md settings reference is up to date' : 'docs/configuration.md settings reference updated');
}
