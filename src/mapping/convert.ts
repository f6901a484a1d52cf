import type { Gender } from '../gainsight/types.ts';

/**
 * Converters from a raw event value to the type a Gainsight field takes: each gives `undefined`
 * for a value it cannot use, so the field is dropped rather than sent as garbage. Also
 * {@link splitName}, which turns a full name into the two name fields.
 */

/** A converter from a raw event value to the Gainsight type; `undefined` means "not usable". */
export type Convert<T> = (value: unknown) => T | undefined;

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
