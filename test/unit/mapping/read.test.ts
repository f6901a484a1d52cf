import { describe, expect, it } from 'vitest';
import { ownValue } from '../../../src/mapping/index.ts';

describe('ownValue', () => {
  it('reads an own property', () => {
    // Prepare
    const traits = { email: 'a@b.c' };
    // Act
    const value = ownValue(traits, 'email');
    // Assess
    expect(value).toBe('a@b.c');
  });

  it('never reads a property inherited from Object.prototype', () => {
    expect(ownValue({}, 'constructor')).toBeUndefined();
    expect(ownValue({}, 'toString')).toBeUndefined();
    expect(ownValue({}, '__proto__')).toBeUndefined();
  });

  it('reads an own __proto__ key as plain data', () => {
    const traits = JSON.parse('{"__proto__": "data"}') as Record<string, unknown>;
    expect(ownValue(traits, '__proto__')).toBe('data');
  });

  it('gives undefined for non-objects and arrays', () => {
    expect(ownValue(null, 'a')).toBeUndefined();
    expect(ownValue('text', 'length')).toBeUndefined();
    expect(ownValue(['x'], '0')).toBeUndefined();
  });
});
