import { describe, expect, it } from 'vitest';
import { eventTimeMs, resolveUserId } from '../../../src/mapping/index.ts';
import { makeIdentify, makeTrack } from '../../support/builders.ts';

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
