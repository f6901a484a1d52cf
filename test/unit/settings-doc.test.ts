import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SettingsSchema, settingsReference } from '../../src/config/settings.ts';
import { END, START, withReference } from '../../scripts/settings-doc.ts';

/** The settings reference of docs/configuration.md is generated from the zod schema and must not drift. */
describe('settings reference', () => {
  it('documents every key of the settings schema, in a row of its own', () => {
    const table = settingsReference();

    for (const key of Object.keys(SettingsSchema.shape)) expect(table).toContain(`| \`${key}\` |`);
    expect(table.split('\n')).toHaveLength(Object.keys(SettingsSchema.shape).length + 2);
  });

  it('is up to date in docs/configuration.md (run `npm run docs:settings` after changing the schema)', () => {
    const readme = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

    expect(readme).toContain(START);
    expect(readme).toContain(END);
    expect(withReference(readme)).toBe(readme);
  });

  it('replaces only what stands between the markers', () => {
    const readme = `before\n${START}\nold table\n${END}\nafter`;

    expect(withReference(readme)).toBe(`before\n${START}\n${settingsReference()}\n${END}\nafter`);
  });
});
