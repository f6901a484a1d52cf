import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors.ts';
import {
  eventTimeMs,
  firstPresent,
  fromPairs,
  normaliseGender,
  ownValue,
  resolveUserId,
  safeJson,
  splitName,
  toEpochMs,
  toNumber,
  toText,
} from '../../../src/mapping/index.ts';
import { makeIdentify, makeTrack } from '../../support/builders.ts';

const deeplyNested = (depth: number): unknown => {
  let value: unknown = 'leaf';
  for (let level = 0; level < depth; level += 1) value = { next: value };
  return value;
};

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

describe('firstPresent', () => {
  it('skips undefined, null and the empty string', () => {
    expect(firstPresent(undefined, null, '', 'value')).toBe('value');
  });

  it('counts false and 0 as present', () => {
    expect(firstPresent(undefined, false, 'later')).toBe(false);
    expect(firstPresent(null, 0, 'later')).toBe(0);
  });

  it('gives undefined when nothing is present', () => {
    expect(firstPresent(undefined, null, '')).toBeUndefined();
  });
});

describe('toEpochMs', () => {
  it('reads an ISO-8601 text with an offset', () => {
    expect(toEpochMs('2021-06-26T16:11:22.335+05:30')).toBe(1624704082335);
  });

  it('keeps an epoch-milliseconds number', () => {
    expect(toEpochMs(1624431528295)).toBe(1624431528295);
  });

  it('rounds a fractional number', () => {
    expect(toEpochMs(1624431528295.6)).toBe(1624431528296);
  });

  it('reads a text of only digits as milliseconds', () => {
    expect(toEpochMs('1624431528295')).toBe(1624431528295);
  });

  it('drops garbage, blank text, NaN, Infinity and non-scalars', () => {
    for (const value of ['not a date', '', '   ', Number.NaN, Number.POSITIVE_INFINITY, {}, [], true, null]) {
      expect(toEpochMs(value), String(value)).toBeUndefined();
    }
  });
});

describe('toNumber', () => {
  it('keeps a finite number', () => {
    expect(toNumber(100)).toBe(100);
  });

  it('parses a numeric text', () => {
    expect(toNumber('56.0')).toBe(56);
    expect(toNumber(' -12.5 ')).toBe(-12.5);
  });

  it('drops NaN, Infinity, non-numeric text and other types', () => {
    for (const value of [Number.NaN, Number.NEGATIVE_INFINITY, 'abc', '12abc', '', '0x10', true, {}, null]) {
      expect(toNumber(value), String(value)).toBeUndefined();
    }
  });
});

describe('toText', () => {
  it('keeps a string as sent', () => {
    expect(toText(' as sent ')).toBe(' as sent ');
  });

  it('turns finite numbers and booleans into text', () => {
    expect(toText(1234)).toBe('1234');
    expect(toText(false)).toBe('false');
  });

  it('drops objects, arrays, null and NaN', () => {
    for (const value of [{}, [], null, undefined, Number.NaN]) {
      expect(toText(value), String(value)).toBeUndefined();
    }
  });
});

describe('normaliseGender', () => {
  it.each([
    ['m', 'MALE'],
    ['M', 'MALE'],
    ['Male', 'MALE'],
    ['MALE', 'MALE'],
    ['f', 'FEMALE'],
    ['Female', 'FEMALE'],
    ['FEMALE', 'FEMALE'],
    ['o', 'OTHER'],
    ['Other', 'OTHER'],
    ['others', 'OTHER'],
    ['OTHERS', 'OTHER'],
  ])('normalises %s to %s', (input, expected) => {
    expect(normaliseGender(input)).toBe(expected);
  });

  it.each([['unknown'], ['x'], [''], [1], [null], ['constructor'], ['__proto__']])('drops %s', (input) => {
    expect(normaliseGender(input)).toBeUndefined();
  });
});

describe('splitName', () => {
  it('gives a one-word name only as firstName', () => {
    expect(splitName('Cher')).toEqual({ firstName: 'Cher' });
  });

  it('splits two words into firstName and lastName', () => {
    expect(splitName('Stanley Kubrick')).toEqual({ firstName: 'Stanley', lastName: 'Kubrick' });
  });

  it('splits name on the first space: the rest becomes lastName', () => {
    expect(splitName('Ludwig van Beethoven')).toEqual({ firstName: 'Ludwig', lastName: 'van Beethoven' });
  });

  it('trims the rest after the first space', () => {
    expect(splitName('Ada  Lovelace ')).toEqual({ firstName: 'Ada', lastName: 'Lovelace' });
  });
});

describe('resolveUserId', () => {
  it('prefers userId', () => {
    const event = makeIdentify({ userId: 'u', anonymousId: 'anon', traits: { userId: 't', id: 'ti' } });
    expect(resolveUserId(event)).toBe('u');
  });

  it('falls back to traits.userId', () => {
    const event = makeIdentify({ userId: undefined, anonymousId: 'anon', traits: { userId: 't', id: 'ti' } });
    expect(resolveUserId(event)).toBe('t');
  });

  it('falls back to traits.id', () => {
    const event = makeIdentify({ userId: undefined, anonymousId: 'anon', traits: { id: 'ti' }, context: { traits: { userId: 'c' } } });
    expect(resolveUserId(event)).toBe('ti');
  });

  it('falls back to context.traits.userId', () => {
    const event = makeIdentify({ userId: undefined, anonymousId: 'anon', context: { traits: { userId: 'c', id: 'ci' } } });
    expect(resolveUserId(event)).toBe('c');
  });

  it('falls back to context.traits.id', () => {
    const event = makeIdentify({ userId: undefined, anonymousId: 'anon', context: { traits: { id: 'ci' } } });
    expect(resolveUserId(event)).toBe('ci');
  });

  it('falls back to anonymousId last', () => {
    const event = makeIdentify({ userId: undefined, anonymousId: 'anon' });
    expect(resolveUserId(event)).toBe('anon');
  });

  it('skips blank ids', () => {
    const event = makeIdentify({ userId: '  ', anonymousId: 'anon', traits: { userId: '' } });
    expect(resolveUserId(event)).toBe('anon');
  });

  it('turns a numeric trait id into text', () => {
    const event = makeIdentify({ userId: undefined, traits: { id: 42 } });
    expect(resolveUserId(event)).toBe('42');
  });

  it('gives undefined when there is no id at all', () => {
    const event = makeIdentify({ userId: undefined });
    expect(resolveUserId(event)).toBeUndefined();
  });
});

describe('eventTimeMs', () => {
  it('prefers timestamp over originalTimestamp', () => {
    const event = makeTrack({ timestamp: '2021-06-26T16:11:22.335+05:30', originalTimestamp: '2021-06-26T10:41:22.316Z' });
    expect(eventTimeMs(event)).toBe(1624704082335);
  });

  it('falls back to originalTimestamp', () => {
    const event = makeTrack({ timestamp: undefined, originalTimestamp: '2019-10-14T09:03:17.562Z' });
    expect(eventTimeMs(event)).toBe(1571043797562);
  });

  it('falls back to originalTimestamp when timestamp is garbage', () => {
    const event = makeTrack({ timestamp: 'soon', originalTimestamp: 1571043797562 });
    expect(eventTimeMs(event)).toBe(1571043797562);
  });

  it('gives undefined without any usable time', () => {
    const event = makeTrack({ timestamp: undefined });
    expect(eventTimeMs(event)).toBeUndefined();
  });
});

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
