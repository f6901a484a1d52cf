import * as z from 'zod';
import { ConfigurationError } from '../errors.ts';
import { type DataCenter, DATA_CENTERS } from './data-centers.ts';

/**
 * The optional settings JSON (`${SSM_PREFIX}/settings` or `PX_SETTINGS`), docs/configuration.md.
 *
 * It accepts RudderStack's Gainsight PX destination config as-is: attribute maps as
 * `[{from, to}]` (the shape RudderStack's UI saves, blank rows included) or as a plain
 * `{from: to}` object, `dataCenter` as a string or as RudderStack's per-source-type object
 * (`{"web": "EU"}`). Unknown keys are ignored. Maps become arrays of pairs, never objects keyed
 * by event data, so a key such as `__proto__` is only ever a string.
 */

/** One `from → to` rename: an event key and the Gainsight custom attribute API name. */
export type AttributePair = readonly [from: string, to: string];

export interface Settings {
  dataCenter: DataCenter;
  userAttributeMap: readonly AttributePair[];
  accountAttributeMap: readonly AttributePair[];
  /** Static global context for custom events, as `[key, value]` pairs. */
  globalContext: readonly (readonly [string, unknown])[];
  pageEvents: boolean;
}

export const DEFAULT_SETTINGS: Settings = Object.freeze({
  dataCenter: 'US',
  userAttributeMap: [],
  accountAttributeMap: [],
  globalContext: [],
  pageEvents: false,
});

const isBlank = (value: string): boolean => value.trim() === '';

/** A `{from, to}` row as RudderStack's dashboard stores it; extra keys are ignored. */
const Row = z.object({ from: z.string().optional(), to: z.unknown().optional() });

const pairsOf = (input: Record<string, unknown>): [string, unknown][] =>
  Object.keys(input).map((key) => [key, input[key]]);

/**
 * A plain `{key: value}` object, validated without being copied: zod's record would drop a key
 * named `__proto__`, and such keys must map like any other.
 */
const PlainObject = z.custom<Record<string, unknown>>(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  { message: 'expected [{from, to}] or an object' },
);

const AttributeMap = z
  .union([z.array(Row), PlainObject])
  .transform((input, ctx): AttributePair[] => {
    const rows: [string, unknown][] = Array.isArray(input)
      ? input.map((row) => [row.from ?? '', row.to])
      : pairsOf(input);
    const pairs: AttributePair[] = [];
    for (const [index, [from, to]] of rows.entries()) {
      if (isBlank(from)) continue; // RudderStack saves an empty row when nothing is mapped
      if (typeof to !== 'string' || isBlank(to)) {
        ctx.addIssue({
          code: 'custom',
          path: Array.isArray(input) ? [index, 'to'] : [from],
          message: `"${from}" is mapped to no attribute name`,
        });
        continue;
      }
      pairs.push([from, to.trim()]);
    }
    return pairs;
  });

const GlobalContextMap = z
  .union([z.array(Row), PlainObject])
  .transform((input): (readonly [string, unknown])[] =>
    Array.isArray(input)
      ? input.filter((row) => !isBlank(row.from ?? '')).map((row) => [row.from as string, row.to ?? null])
      : pairsOf(input),
  );

const DataCenterName = z
  .string()
  .transform((value) => value.trim().toUpperCase())
  .pipe(z.enum(DATA_CENTERS));

/** `"EU"`, or RudderStack's per-source-type form `{"web": "EU"}` (every value must agree). */
const DataCenterSetting = z.union([
  DataCenterName,
  z.record(z.string(), DataCenterName).transform((bySource, ctx): DataCenter => {
    const values = [...new Set(Object.values(bySource))];
    if (values.length > 1) {
      ctx.addIssue({ code: 'custom', message: `conflicting data centers ${values.join(', ')}` });
      return z.NEVER;
    }
    return values[0] ?? 'US';
  }),
]);

/** What the settings reference (docs/configuration.md) says of each key; `scripts/settings-doc.ts` renders it. */
export interface SettingDoc {
  /** The accepted JSON shapes, as a reader would write them. */
  accepts: string;
  default: string;
  description: string;
}

const doc = (meta: SettingDoc): SettingDoc & Record<string, unknown> => ({ ...meta });

export const SettingsSchema = z.object({
  dataCenter: DataCenterSetting.optional().meta(
    doc({
      accepts: '`"US"` \\| `"EU"` \\| `"US2"` (any case), or RudderStack\'s `{"web": "EU"}` (all values must agree)',
      default: '`"US"`',
      description:
        'Gainsight PX data center: base URL `https://api.aptrinsic.com/v1`, `https://api-eu.aptrinsic.com/v1` or `https://api-us2.aptrinsic.com/v1`. `GAINSIGHT_PX_BASE_URL` overrides it.',
    }),
  ),
  userAttributeMap: AttributeMap.optional().meta(
    doc({
      accepts: '`[{"from": "…", "to": "…"}]` or `{"from": "to"}`',
      default: 'none',
      description:
        'Trait key (exact, case-sensitive) → Gainsight custom user attribute API name. Unmapped traits are dropped. Rows with a blank `from` are skipped; a `from` without a `to` is invalid.',
    }),
  ),
  accountAttributeMap: AttributeMap.optional().meta(
    doc({
      accepts: 'same as `userAttributeMap`',
      default: 'none',
      description: 'Group trait key → Gainsight custom account attribute API name.',
    }),
  ),
  globalContextMap: GlobalContextMap.optional().meta(
    doc({
      accepts: '`[{"from": "key", "to": "value"}]` or `{"key": value}`',
      default: 'none',
      description:
        'Static `globalContext` for custom events (`from` is the key, `to` the value). An event\'s own `properties.globalContext` replaces it.',
    }),
  ),
  pageEvents: z
    .boolean()
    .optional()
    .meta(
      doc({
        accepts: '`true` \\| `false` (a JSON boolean)',
        default: '`false`',
        description: 'Forward `page` / `screen` calls as custom events `Viewed <name> Page` / `Viewed <name> Screen`; when off they are answered 200 `skipped`.',
      }),
    ),
});

/** The settings reference as a Markdown table, generated from the schema above. */
export function settingsReference(): string {
  const rows = Object.entries(SettingsSchema.shape).map(([key, schema]) => {
    const meta = schema.meta() as SettingDoc | undefined;
    if (!meta) throw new Error(`settings key ${key} has no documentation`);
    return `| \`${key}\` | ${meta.accepts} | ${meta.default} | ${meta.description} |`;
  });
  return ['| key | accepts | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** Keys of RudderStack's config that are secrets: they belong in their own SSM parameters. */
const IGNORED_SECRET_KEYS = ['apiKey', 'productTagKey'] as const;

export interface ParsedSettings {
  settings: Settings;
  /** Human-readable notes for the log, e.g. ignored secret keys. Never contain values. */
  warnings: string[];
}

/**
 * Validates settings given as JSON text or as an already parsed value (middy's SSM middleware
 * parses values that look like JSON). `undefined`, `null` and blank text mean "no settings".
 *
 * @throws ConfigurationError naming the offending key, never echoing its value.
 */
export function parseSettings(raw: unknown): ParsedSettings {
  let value = raw;
  if (typeof raw === 'string') {
    if (isBlank(raw)) return { settings: DEFAULT_SETTINGS, warnings: [] };
    try {
      value = JSON.parse(raw);
    } catch {
      throw new ConfigurationError('Settings are not valid JSON');
    }
  }
  if (value === undefined || value === null) return { settings: DEFAULT_SETTINGS, warnings: [] };
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigurationError('Settings must be a JSON object');
  }
  const result = SettingsSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`,
    );
    throw new ConfigurationError(`Invalid settings: ${problems.join('; ')}`, {
      details: { issues: problems },
    });
  }
  const warnings = IGNORED_SECRET_KEYS.filter((key) => Object.hasOwn(value, key)).map(
    (key) => `settings key "${key}" is ignored: secrets belong in their own SecureString parameters`,
  );
  const data = result.data;
  return {
    settings: {
      dataCenter: data.dataCenter ?? DEFAULT_SETTINGS.dataCenter,
      userAttributeMap: data.userAttributeMap ?? [],
      accountAttributeMap: data.accountAttributeMap ?? [],
      globalContext: data.globalContextMap ?? [],
      pageEvents: data.pageEvents ?? false,
    },
    warnings,
  };
}
