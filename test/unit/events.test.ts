import { afterEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.ts';
import { type FieldIssue, parseEvent } from '../../src/events/index.ts';

type Raw = Record<string, unknown>;

/** A valid raw event of `type`; `overrides` spread over it (`undefined` removes a field). */
const makeRaw = (type: string, overrides: Raw = {}): Raw => {
  const base: Raw = { messageId: 'message-1', userId: 'user-1', timestamp: '2024-01-02T03:04:05.678Z' };
  const byType: Record<string, Raw> = {
    identify: { traits: { email: 'a@example.com' } },
    group: { groupId: 'group-1', traits: { name: 'ECorp' } },
    track: { event: 'Report Exported', properties: { format: 'csv' } },
    page: { name: 'Pricing', properties: { url: 'https://example.com/pricing' } },
    screen: { name: 'Settings' },
    alias: { previousId: 'anon-1' },
  };
  const raw: Raw = { ...base, type, ...byType[type.trim().toLowerCase()], ...overrides };
  for (const key of Object.keys(raw)) if (raw[key] === undefined) delete raw[key];
  return raw;
};

/** Runs parseEvent and returns the ValidationError it must throw. */
const validationErrorOf = (raw: unknown): ValidationError => {
  try {
    parseEvent(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected parseEvent to throw a ValidationError');
};

const issuesOf = (error: ValidationError): FieldIssue[] => (error.details as { issues: FieldIssue[] }).issues;

/** Everything about an error the sender sees. */
const visibleText = (error: ValidationError): string => `${error.message} ${JSON.stringify(error.details ?? null)}`;

afterEach(() => {
  delete (Object.prototype as Record<string, unknown>).polluted;
});

describe('parseEvent: call types', () => {
  it('parses an identify with its traits', () => {
    // Act
    const event = parseEvent(makeRaw('identify'));
    // Assess
    expect(event).toMatchObject({ type: 'identify', userId: 'user-1', traits: { email: 'a@example.com' } });
  });

  it('parses a group with its id and account name', () => {
    // Act
    const event = parseEvent(makeRaw('group'));
    // Assess
    expect(event).toMatchObject({ type: 'group', groupId: 'group-1', traits: { name: 'ECorp' } });
  });

  it('parses a track with its event name and properties', () => {
    // Act
    const event = parseEvent(makeRaw('track'));
    // Assess
    expect(event).toMatchObject({ type: 'track', event: 'Report Exported', properties: { format: 'csv' } });
  });

  it('parses a page with its name', () => {
    // Act
    const event = parseEvent(makeRaw('page'));
    // Assess
    expect(event).toMatchObject({ type: 'page', name: 'Pricing' });
  });

  it('parses a screen with its name', () => {
    // Act
    const event = parseEvent(makeRaw('screen'));
    // Assess
    expect(event).toMatchObject({ type: 'screen', name: 'Settings' });
  });

  it('parses an alias with its previous id', () => {
    // Act
    const event = parseEvent(makeRaw('alias'));
    // Assess
    expect(event).toMatchObject({ type: 'alias', previousId: 'anon-1' });
  });

  it('accepts an anonymous identify without userId', () => {
    // Act
    const event = parseEvent(makeRaw('identify', { userId: undefined, anonymousId: 'anon-7' }));
    // Assess
    expect(event).toMatchObject({ type: 'identify', anonymousId: 'anon-7' });
    expect(event.userId).toBeUndefined();
  });

  it('accepts null for optional fields', () => {
    // Act
    const event = parseEvent(makeRaw('track', { userId: null, anonymousId: 'anon-1', properties: null, context: null }));
    // Assess
    expect(event).toMatchObject({ type: 'track', userId: null, properties: null });
  });

  it('leaves the input object as it was', () => {
    // Prepare
    const raw = makeRaw('IDENTIFY', { userId: 42 });
    const before = structuredClone(raw);
    // Act
    parseEvent(raw);
    // Assess
    expect(raw).toEqual(before);
  });
});

describe('parseEvent: the type', () => {
  it.each([
    ['IDENTIFY', 'identify'],
    ['Track', 'track'],
    ['  group ', 'group'],
    ['PaGe', 'page'],
    ['SCREEN', 'screen'],
    ['Alias', 'alias'],
  ])('matches %j as %s', (given, expected) => {
    // Act
    const event = parseEvent(makeRaw(given));
    // Assess
    expect(event.type).toBe(expected);
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['blank', '   '],
    ['not text', 5],
    ['null', null],
  ])('reports a type that is %s as missing_type (400)', (_label, type) => {
    // Act
    const error = validationErrorOf({ ...makeRaw('identify'), type });
    // Assess
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('missing_type');
    expect(issuesOf(error)).toEqual([{ field: 'type', message: 'required' }]);
  });

  it.each(['merge', 'batch', 'identify2'])('reports type %j as unsupported_type (400)', (type) => {
    // Act
    const error = validationErrorOf(makeRaw('identify', { type }));
    // Assess
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('unsupported_type');
    expect(issuesOf(error)[0]?.field).toBe('type');
  });

  it('keeps a long unsupported type out of the message beyond 40 characters', () => {
    // Prepare
    const type = `x${'y'.repeat(60)}TAIL`;
    // Act
    const error = validationErrorOf(makeRaw('identify', { type }));
    // Assess
    expect(error.message).not.toContain('TAIL');
  });

  it.each([
    ['null', null],
    ['an array', [makeRaw('identify')]],
    ['a string', 'identify'],
    ['a number', 1],
  ])('refuses %s as an event (400)', (_label, raw) => {
    // Act
    const error = validationErrorOf(raw);
    // Assess
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('invalid_event');
  });
});

describe('parseEvent: ids', () => {
  it('turns numeric ids into strings', () => {
    // Act
    const event = parseEvent(makeRaw('group', { messageId: 7, userId: 42, anonymousId: 3, groupId: 9001 }));
    // Assess
    expect(event).toMatchObject({ messageId: '7', userId: '42', anonymousId: '3', groupId: '9001' });
  });

  it('turns a numeric previousId of an alias into a string', () => {
    // Act
    const event = parseEvent(makeRaw('alias', { previousId: 12 }));
    // Assess
    expect(event).toMatchObject({ previousId: '12' });
  });

  it('turns a zero id into "0"', () => {
    // Act
    const event = parseEvent(makeRaw('identify', { userId: 0 }));
    // Assess
    expect(event.userId).toBe('0');
  });
});

describe('parseEvent: field issues', () => {
  it('names a userId that is an object without quoting it', () => {
    // Act
    const error = validationErrorOf(makeRaw('identify', { userId: { email: 'hidden@example.com' } }));
    // Assess
    expect(error.code).toBe('invalid_event');
    expect(issuesOf(error).map((issue) => issue.field)).toEqual(['userId']);
    expect(visibleText(error)).not.toContain('hidden@example.com');
  });

  it('requires the event name of a track', () => {
    // Act
    const error = validationErrorOf(makeRaw('track', { event: undefined }));
    // Assess
    expect(issuesOf(error).map((issue) => issue.field)).toEqual(['event']);
  });

  it('refuses a blank event name', () => {
    // Act
    const error = validationErrorOf(makeRaw('track', { event: '   ' }));
    // Assess
    expect(issuesOf(error)).toEqual([{ field: 'event', message: 'event name must not be blank' }]);
  });

  it('names an event name of the wrong type without quoting it', () => {
    // Act
    const error = validationErrorOf(makeRaw('track', { event: { secret: 'SENSITIVE-NAME' } }));
    // Assess
    expect(issuesOf(error)).toEqual([{ field: 'event', message: 'expected string' }]);
    expect(visibleText(error)).not.toContain('SENSITIVE-NAME');
  });

  it('requires traits.name on a group', () => {
    // Act
    const error = validationErrorOf(makeRaw('group', { traits: { plan: 'gold' } }));
    // Assess
    expect(issuesOf(error).map((issue) => issue.field)).toEqual(['traits.name']);
  });

  it('refuses a blank groupId', () => {
    // Act
    const error = validationErrorOf(makeRaw('group', { groupId: ' ' }));
    // Assess
    expect(issuesOf(error).map((issue) => issue.field)).toEqual(['groupId']);
  });

  it('names traits that are not an object without quoting them', () => {
    // Act
    const error = validationErrorOf(makeRaw('identify', { traits: 'ssn=123-45-6789' }));
    // Assess
    expect(issuesOf(error).map((issue) => issue.field)).toEqual(['traits']);
    expect(visibleText(error)).not.toContain('123-45-6789');
  });

  it('names every failing field at once', () => {
    // Act
    const error = validationErrorOf(makeRaw('track', { event: 5, properties: [1, 2], context: 'ctx' }));
    // Assess
    expect(issuesOf(error).map((issue) => issue.field).sort()).toEqual(['context', 'event', 'properties']);
  });

  it('names a page name of the wrong type', () => {
    // Act
    const error = validationErrorOf(makeRaw('page', { name: 12 }));
    // Assess
    expect(issuesOf(error)).toEqual([{ field: 'name', message: 'expected string' }]);
  });

  it('names the fields in the message of a type given in upper case', () => {
    // Act
    const error = validationErrorOf(makeRaw('TRACK', { event: undefined }));
    // Assess
    expect(error.message).toContain('track');
    expect(error.message).toContain('event');
  });
});

describe('parseEvent: prototype-named keys', () => {
  it.each(['identify', 'IDENTIFY'])('keeps __proto__ inside traits as an own property (type %s)', (type) => {
    // Prepare
    const raw = JSON.parse(
      `{"type":"${type}","userId":"u-1","traits":{"__proto__":{"polluted":"yes"},"constructor":"c","prototype":"p","plan":"gold"}}`,
    ) as unknown;
    // Act
    const event = parseEvent(raw);
    // Assess
    const traits = (event as { traits: Record<string, unknown> }).traits;
    expect(Object.hasOwn(traits, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(traits, '__proto__')?.value).toEqual({ polluted: 'yes' });
    expect(Object.getOwnPropertyDescriptor(traits, 'constructor')?.value).toBe('c');
    expect(Object.getOwnPropertyDescriptor(traits, 'prototype')?.value).toBe('p');
    expect(traits.plan).toBe('gold');
    expect(Object.getPrototypeOf(traits)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps __proto__ inside context.traits and properties as own properties', () => {
    // Prepare
    const raw = JSON.parse(
      '{"type":"Track","event":"E","userId":"u","properties":{"__proto__":1},"context":{"traits":{"__proto__":"x"}}}',
    ) as unknown;
    // Act
    const event = parseEvent(raw);
    // Assess
    const track = event as unknown as { properties: Record<string, unknown>; context: { traits: Record<string, unknown> } };
    expect(Object.getOwnPropertyDescriptor(track.properties, '__proto__')?.value).toBe(1);
    expect(Object.getOwnPropertyDescriptor(track.context.traits, '__proto__')?.value).toBe('x');
  });

  it('does not let a top-level __proto__ key touch Object.prototype', () => {
    // Prepare
    const raw = JSON.parse('{"type":"IDENTIFY","userId":"u","__proto__":{"polluted":"yes"}}') as unknown;
    // Act
    const event = parseEvent(raw);
    // Assess
    expect(event.type).toBe('identify');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
