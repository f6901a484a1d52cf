import type { Settings } from '../config/settings.ts';
import { ValidationError } from '../errors.ts';
import { isRecord, type JsonRecord } from '../events/common.ts';
import type { RelayEvent } from '../events/index.ts';
import type { Gender, Location } from '../gainsight/types.ts';

/**
 * Small pure helpers shared by the mappers. Every reader here looks at OWN properties only, so a
 * trait named `constructor` or `__proto__` is just data, and every object built from event keys
 * is built with {@link fromPairs}, which defines a `__proto__` key instead of assigning it, so no
 * key can ever reach a prototype.
 */

/** What every mapper needs besides the event: the settings and the Gainsight product key. */
export interface MappingContext {
  settings: Settings;
  productKey: string;
}

/** A converter from a raw event value to the Gainsight type; `undefined` means "not usable". */
export type Convert<T> = (value: unknown) => T | undefined;

/**
 * Reads `obj[key]` only when it is an own property of a plain object. `traits.constructor` on
 * a plain object is therefore `undefined`, never `Object`.
 */
export function ownValue(obj: unknown, key: string): unknown {
  return isRecord(obj) && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** `obj[key]` when it is an own plain-object value, else `undefined`. */
export function ownRecord(obj: unknown, key: string): JsonRecord | undefined {
  const value = ownValue(obj, key);
  return isRecord(value) ? value : undefined;
}

/** Present = neither `undefined`, `null` nor `''`. `false` and `0` are present. */
export const isPresent = (value: unknown): boolean =>
  value !== undefined && value !== null && value !== '';

/** The first present value, or `undefined`. */
export function firstPresent(...sources: unknown[]): unknown {
  return sources.find(isPresent);
}

/**
 * The first present value that `convert` accepts. A value of the wrong type in the first
 * source then does not hide a usable one in the next (e.g. a garbage `timestamp` falls back to
 * `originalTimestamp`).
 */
export function firstConverted<T>(sources: readonly unknown[], convert: Convert<T>): T | undefined {
  for (const source of sources) {
    if (!isPresent(source)) continue;
    const converted = convert(source);
    if (converted !== undefined) return converted;
  }
  return undefined;
}

/**
 * Reads the first usable value of `keys` across `bags`, bag by bag: every key of the first bag
 * (e.g. `traits`) before any key of the next (`context.traits`).
 */
export function readField<T>(
  bags: readonly (JsonRecord | undefined)[],
  keys: readonly string[],
  convert: Convert<T>,
): T | undefined {
  // Plain loops: this runs ~60 times per identify, and flatMap/map allocations dominated mapping time.
  for (const bag of bags) {
    if (bag === undefined) continue;
    for (const key of keys) {
      const value = ownValue(bag, key);
      if (!isPresent(value)) continue;
      const converted = convert(value);
      if (converted !== undefined) return converted;
    }
  }
  return undefined;
}

const DIGITS = /^\d+$/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Epoch milliseconds from a number (rounded), an ISO-8601 text, or a text of only digits (taken
 * as milliseconds, like a number: RudderStack sources sometimes stringify epoch values).
 * Anything else is `undefined`, so the field is dropped rather than sent as garbage.
 */
export function toEpochMs(value: unknown): number | undefined {
  let ms: number;
  if (typeof value === 'number') ms = Math.round(value);
  else if (typeof value === 'string') {
    const text = value.trim();
    if (text === '') return undefined;
    ms = DIGITS.test(text) ? Number(text) : Date.parse(text);
  } else return undefined;
  // Gainsight stores int64 epoch ms; beyond JavaScript's date range a value is noise, not a date.
  return isDateInRange(ms) ? ms : undefined;
}

/** A whole epoch-ms value a JavaScript Date can hold (Gainsight stores int64 epoch ms). */
export const isDateInRange = (ms: number): boolean => Number.isSafeInteger(ms) && Math.abs(ms) <= MAX_DATE_MS;

/** The largest epoch-ms value a JavaScript Date can hold (±100 000 000 days). */
const MAX_DATE_MS = 8.64e15;

/** A whole number for an int64 field: rounded, and dropped beyond the safe integer range. */
export function toInteger(value: unknown): number | undefined {
  const number = toNumber(value);
  if (number === undefined) return undefined;
  const rounded = Math.round(number);
  return Number.isSafeInteger(rounded) ? rounded : undefined;
}

const INT32_MAX = 2 ** 31 - 1;

/** A whole number for an int32 field (e.g. `numberOfEmployees`); out of range is dropped. */
export function toInt32(value: unknown): number | undefined {
  const integer = toInteger(value);
  return integer !== undefined && Math.abs(integer) <= INT32_MAX ? integer : undefined;
}

/** A finite number from a number or a decimal text (`"56.0"`, `" 12 "`); NaN/Infinity dropped. */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (!DECIMAL.test(text)) return undefined;
  const parsed = Number(text);
  return Number.isFinite(parsed) ? parsed : undefined;
}

/** Text for a Gainsight string field: strings as sent, finite numbers and booleans as `String`. */
export function toText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === 'boolean') return String(value);
  return undefined;
}

/** Booleans only: `"false"` could mean anything to a sender, so it is not guessed at. */
export const toBoolean = (value: unknown): boolean | undefined =>
  typeof value === 'boolean' ? value : undefined;

const GENDERS: Readonly<Record<string, Gender>> = Object.freeze({
  m: 'MALE',
  male: 'MALE',
  f: 'FEMALE',
  female: 'FEMALE',
  o: 'OTHER',
  other: 'OTHER',
  others: 'OTHER',
});

/** MALE / FEMALE / OTHER from the usual spellings (any case); Gainsight rejects anything else. */
export function normaliseGender(value: unknown): Gender | undefined {
  if (typeof value !== 'string') return undefined;
  const key = value.trim().toLowerCase();
  return Object.hasOwn(GENDERS, key) ? GENDERS[key] : undefined;
}

/** Splits a full name on the first space: first word → firstName, the rest → lastName. */
export function splitName(name: string): { firstName?: string; lastName?: string } {
  const text = name.trim();
  const space = text.indexOf(' ');
  if (space === -1) return text === '' ? {} : { firstName: text };
  const lastName = text.slice(space + 1).trim();
  return lastName === ''
    ? { firstName: text.slice(0, space) }
    : { firstName: text.slice(0, space), lastName };
}

/** An id: a non-blank string or a finite number (as text). */
export function toId(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** `event.traits` and `event.context.traits`, in that order (absent bags are `undefined`). */
export function traitBags(event: RelayEvent): [JsonRecord | undefined, JsonRecord | undefined] {
  return [ownRecord(event, 'traits'), ownRecord(event.context, 'traits')];
}

/**
 * The Gainsight user id (SPEC §3): the first non-blank of `userId`, `traits.userId`,
 * `traits.id`, `context.traits.userId`, `context.traits.id`, `anonymousId`.
 */
export function resolveUserId(event: RelayEvent): string | undefined {
  const [traits, contextTraits] = traitBags(event);
  return firstConverted(
    [
      event.userId,
      ownValue(traits, 'userId'),
      ownValue(traits, 'id'),
      ownValue(contextTraits, 'userId'),
      ownValue(contextTraits, 'id'),
      event.anonymousId,
    ],
    toId,
  );
}

/** When the event happened: `timestamp`, else `originalTimestamp`, in epoch ms. */
export function eventTimeMs(event: RelayEvent): number | undefined {
  return firstConverted([event.timestamp, event.originalTimestamp], toEpochMs);
}

/**
 * `JSON.stringify` that never throws anything but a {@link ValidationError}: a hostile, deeply
 * nested value overflows the stack (RangeError), a cycle or BigInt is a TypeError. The message
 * names the field only, never the value (it may carry personal data).
 */
export function safeJson(value: unknown, field: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw notEncodable(field, error);
  }
  if (text === undefined) throw notEncodable(field, undefined);
  return text;
}

const notEncodable = (field: string, cause: unknown): ValidationError =>
  new ValidationError(`${field} cannot be encoded as JSON`, {
    cause,
    details: { issues: [{ field, message: 'cannot be encoded as JSON' }] },
  });

/**
 * An object from `[key, value]` pairs, skipping `undefined` values. A key `__proto__`,
 * `constructor` or `prototype` stays a plain own key and never changes a prototype: `__proto__`
 * is the one key whose assignment would (it is an accessor on `Object.prototype`), so it is
 * defined instead; every other key is assigned, which is several times faster than
 * `Object.fromEntries` on this hot path.
 */
export function fromPairs(pairs: Iterable<readonly [string, unknown]>): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [key, value] of pairs) {
    if (value === undefined) continue;
    if (key === '__proto__') {
      Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
    } else object[key] = value;
  }
  return object;
}

/**
 * Custom attributes through an attribute map (`[from, to]` pairs): only listed keys, renamed,
 * values unchanged; null/undefined dropped. The first bag holding a non-null value for a `from`
 * wins; when two rows map to the same `to`, the first row wins.
 */
export function mapCustomAttributes(
  bags: readonly (JsonRecord | undefined)[],
  attributeMap: Settings['userAttributeMap'],
): Record<string, unknown> {
  const mapped = new Map<string, unknown>();
  for (const [from, to] of attributeMap) {
    if (mapped.has(to)) continue;
    for (const bag of bags) {
      const value = ownValue(bag, from);
      if (value !== undefined && value !== null) {
        mapped.set(to, value);
        break;
      }
    }
  }
  return fromPairs(mapped);
}

/** Location string fields, each read from the flat trait of the same name. */
const LOCATION_TEXT_KEYS = [
  'countryName',
  'countryCode',
  'stateName',
  'stateCode',
  'city',
  'street',
  'postalCode',
  'continent',
  'regionName',
  'timeZone',
] as const satisfies readonly (keyof Location)[];

/**
 * Gainsight's `location` from FLAT trait keys (`traits.city`, `traits.latitude`), as the peer
 * maps it; `undefined` when nothing is there, so no empty object is sent.
 */
export function mapLocation(bags: readonly (JsonRecord | undefined)[]): Location | undefined {
  const location: Location = {};
  for (const key of LOCATION_TEXT_KEYS) {
    const value = readField(bags, [key], toText);
    if (value !== undefined) location[key] = value;
  }
  const latitude = readField(bags, ['latitude'], toNumber);
  const longitude = readField(bags, ['longitude'], toNumber);
  if (latitude !== undefined || longitude !== undefined) {
    location.coordinates = {
      ...(latitude !== undefined && { latitude }),
      ...(longitude !== undefined && { longitude }),
    };
  }
  return Object.keys(location).length > 0 ? location : undefined;
}
