import { describe, expect, it } from 'vitest';
import { fromPairs } from '../../../src/mapping/index.ts';

describe('fromPairs', () => {
  it('keeps __proto__, constructor and prototype as own keys without touching a prototype', () => {
    // Prepare
    const pairs: [string, unknown][] = [
      ['__proto__', { polluted: true }],
      ['constructor', 'c'],
      ['prototype', 'p'],
    ];
    // Act
    const built = fromPairs(pairs);
    // Assess
    expect(Object.keys(built)).toEqual(['__proto__', 'constructor', 'prototype']);
    expect(Object.getPrototypeOf(built)).toBe(Object.prototype);
    expect((built as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('leaves out undefined values', () => {
    expect(fromPairs([['a', undefined], ['b', null]])).toEqual({ b: null });
  });
});
