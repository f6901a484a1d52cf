import { isRecord, type JsonRecord } from '../events/common.ts';
import type { RelayEvent } from '../events/index.ts';
import type { Convert } from './convert.ts';

/**
 * Reading values out of an event. Every reader here looks at OWN properties only, so a trait
 * named `constructor` or `__proto__` is just data.
 */

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

/** `event.traits` and `event.context.traits`, in that order (absent bags are `undefined`). */
export function traitBags(event: RelayEvent): [JsonRecord | undefined, JsonRecord | undefined] {
  return [ownRecord(event, 'traits'), ownRecord(event.context, 'traits')];
}
