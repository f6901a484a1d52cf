import type { Settings } from '../config/settings.ts';
import type { JsonRecord } from '../events/common.ts';
import { ownValue } from './read.ts';

/**
 * Objects built from event keys. Every such object is built with {@link fromPairs}, which
 * defines a `__proto__` key instead of assigning it, so no key can ever reach a prototype.
 */

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
