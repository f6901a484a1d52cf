import { afterEach, describe, expect, it } from 'vitest';
import { parseSettings } from '../../../src/config/settings.ts';
import {
  mapAccountUpdate,
  mapTrack,
  mapUserUpdate,
  resolveUserId,
} from '../../../src/mapping/index.ts';
import { makeContext, makeGroup, makeIdentify, makeTrack } from '../../support/builders.ts';

/**
 * docs/security.md: keys named `__proto__`, `constructor` or `prototype`, in events or in settings maps,
 * are plain keys. Event bags are built with JSON.parse, as the relay receives them, so
 * `__proto__` is a real own key.
 */

const polluted = (): unknown => ({} as { polluted?: unknown }).polluted;
const hostile = <T>(json: string): T => JSON.parse(json) as T;

afterEach(() => {
  // Assess (every test): nothing reached Object.prototype.
  expect(polluted()).toBeUndefined();
  expect(Object.keys(Object.prototype)).toEqual([]);
});

describe('prototype safety', () => {
  it('does not read traits.constructor from Object.prototype for a plain object', () => {
    // Prepare: `constructor` mapped but absent from the traits.
    const ctx = makeContext({ userAttributeMap: [['constructor', 'ctor'], ['prototype', 'proto']] });
    // Act
    const body = mapUserUpdate(makeIdentify({ traits: { email: 'a@b.c' } }), ctx);
    // Assess
    expect(body.customAttributes).toEqual({});
  });

  it('maps traits named __proto__, constructor and prototype like any key', () => {
    // Prepare
    const traits = hostile<Record<string, unknown>>(
      '{"__proto__": {"polluted": "yes"}, "constructor": "c", "prototype": "p"}',
    );
    const ctx = makeContext({
      userAttributeMap: [
        ['__proto__', 'proto'],
        ['constructor', 'ctor'],
        ['prototype', 'prototype'],
      ],
    });
    // Act
    const body = mapUserUpdate(makeIdentify({ traits }), ctx);
    // Assess
    expect(body.customAttributes).toEqual({ proto: { polluted: 'yes' }, ctor: 'c', prototype: 'p' });
  });

  it('writes a custom attribute named __proto__ as an own property', () => {
    // Prepare
    const ctx = makeContext({ userAttributeMap: [['hobby', '__proto__']] });
    // Act
    const body = mapUserUpdate(makeIdentify({ traits: { hobby: { polluted: 'yes' } } }), ctx);
    // Assess
    const attributes = body.customAttributes ?? {};
    expect(Object.hasOwn(attributes, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(attributes)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(body)).customAttributes).toEqual(
      hostile('{"__proto__": {"polluted": "yes"}}'),
    );
  });

  it('drops unmapped __proto__ and constructor traits', () => {
    const traits = hostile<Record<string, unknown>>('{"__proto__": {"polluted": "yes"}, "constructor": "c"}');
    const body = mapUserUpdate(makeIdentify({ traits }), makeContext());
    expect(body.customAttributes).toEqual({});
    expect(Object.keys(body)).not.toContain('__proto__');
  });

  it('maps account traits with hostile keys through an account map built from settings JSON', () => {
    // Prepare: the settings map as an operator could paste it (RudderStack's [{from, to}] form).
    const { settings } = parseSettings(
      '{"accountAttributeMap": [{"from": "__proto__", "to": "legacy"}, {"from": "constructor", "to": "__proto__"}]}',
    );
    const traits = hostile<Record<string, unknown>>('{"name": "ECorp", "__proto__": 1, "constructor": 2}');
    // Act
    const body = mapAccountUpdate(makeGroup({ traits }), { settings, productKey: 'AP-TEST-1' });
    // Assess
    expect(body.customAttributes).toEqual(hostile('{"legacy": 1, "__proto__": 2}'));
    expect(Object.hasOwn(body.customAttributes ?? {}, '__proto__')).toBe(true);
  });

  it('keeps hostile property keys as own attribute keys', () => {
    // Prepare
    const properties = hostile<Record<string, unknown>>(
      '{"__proto__": {"polluted": "yes"}, "constructor": "c", "prototype": [1]}',
    );
    // Act
    const body = mapTrack(makeTrack({ properties }), makeContext(), 'u');
    // Assess
    expect(Object.keys(body.attributes)).toEqual(['__proto__', 'constructor', 'prototype']);
    expect(body.attributes.__proto__).toBe('{"polluted":"yes"}');
    expect(Object.getPrototypeOf(body.attributes)).toBe(Object.prototype);
  });

  it('keeps hostile globalContext keys, from the event and from settings, as own keys', () => {
    // Prepare
    const { settings } = parseSettings('{"globalContextMap": [{"from": "__proto__", "to": "x"}]}');
    const fromEvent = hostile<Record<string, unknown>>('{"globalContext": {"__proto__": {"polluted": "yes"}}}');
    // Act
    const withSettings = mapTrack(makeTrack(), { settings, productKey: 'AP-TEST-1' }, 'u');
    const withEvent = mapTrack(makeTrack({ properties: fromEvent }), { settings, productKey: 'AP-TEST-1' }, 'u');
    // Assess
    expect(Object.hasOwn(withSettings.globalContext ?? {}, '__proto__')).toBe(true);
    expect(withSettings.globalContext?.__proto__).toBe('x');
    expect(Object.hasOwn(withEvent.globalContext ?? {}, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(withEvent.globalContext)).toBe(Object.prototype);
  });

  it('does not take an id from an inherited traits property', () => {
    const traits = hostile<Record<string, unknown>>('{"__proto__": {"userId": "from-proto"}}');
    const event = makeIdentify({ userId: undefined, traits });
    expect(resolveUserId(event)).toBeUndefined();
  });
});
