import { describe, expect, it } from 'vitest';
import { normaliseGender, splitName, toEpochMs, toNumber, toText } from '../../../src/mapping/index.ts';

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
