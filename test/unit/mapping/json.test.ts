import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors.ts';
import { safeJson } from '../../../src/mapping/index.ts';

const deeplyNested = (depth: number): unknown => {
  let value: unknown = 'leaf';
  for (let level = 0; level < depth; level += 1) value = { next: value };
  return value;
};

describe('safeJson', () => {
  it('encodes a value as JSON', () => {
    expect(safeJson({ a: [1, 2] }, 'properties.x')).toBe('{"a":[1,2]}');
  });

  it('turns a stack overflow from a 10 000-deep value into a ValidationError naming the field', () => {
    // Prepare
    const value = deeplyNested(10_000);
    // Act
    const act = () => safeJson(value, 'properties.deep');
    // Assess
    expect(act).toThrow(ValidationError);
    expect(act).toThrow('properties.deep cannot be encoded as JSON');
  });

  it('turns a cycle into a ValidationError', () => {
    const value: Record<string, unknown> = {};
    value.self = value;
    expect(() => safeJson(value, 'properties.loop')).toThrow(ValidationError);
  });

  it('turns a BigInt into a ValidationError that does not quote the value', () => {
    const act = () => safeJson({ secret: 12345678901234567890n }, 'properties.big');
    expect(act).toThrow(ValidationError);
    expect(act).not.toThrow(/12345678901234567890/);
  });
});
