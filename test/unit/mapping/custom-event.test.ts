import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors.ts';
import { mapPage, mapTrack } from '../../../src/mapping/index.ts';
import {
  TEST_PRODUCT_KEY,
  TEST_TIMESTAMP_MS,
  makeContext,
  makePage,
  makeScreen,
  makeTrack,
} from '../../support/builders.ts';

const ctx = makeContext();

const deeplyNested = (depth: number): unknown => {
  let value: unknown = 'leaf';
  for (let level = 0; level < depth; level += 1) value = [value];
  return value;
};

describe('mapTrack', () => {
  it('builds the minimal custom event', () => {
    const body = mapTrack(makeTrack({ event: 'Report Exported' }), ctx, 'user-1');
    expect(body).toEqual({
      eventName: 'Report Exported',
      identifyId: 'user-1',
      date: TEST_TIMESTAMP_MS,
      attributes: {},
      propertyKey: TEST_PRODUCT_KEY,
      userType: 'USER',
    });
  });

  it('sends propertyKey as a single string, not propertyKeys', () => {
    const body = mapTrack(makeTrack(), ctx, 'user-1');
    expect(body.propertyKey).toBe(TEST_PRODUCT_KEY);
    expect(body).not.toHaveProperty('propertyKeys');
  });

  it('takes the date from properties.date first', () => {
    const body = mapTrack(makeTrack({ properties: { date: '2020-01-01T00:00:00Z' } }), ctx, 'u');
    expect(body.date).toBe(1577836800000);
  });

  it('takes the date from timestamp before originalTimestamp', () => {
    const event = makeTrack({ timestamp: '2021-06-26T16:11:22.335+05:30', originalTimestamp: '2021-06-26T10:41:22.316Z' });
    expect(mapTrack(event, ctx, 'u').date).toBe(1624704082335);
  });

  it('falls back to originalTimestamp for the date', () => {
    const event = makeTrack({ timestamp: undefined, originalTimestamp: '2019-10-14T09:03:17.562Z' });
    expect(mapTrack(event, ctx, 'u').date).toBe(1571043797562);
  });

  it('skips an unparseable properties.date', () => {
    const body = mapTrack(makeTrack({ properties: { date: 'today' } }), ctx, 'u');
    expect(body.date).toBe(TEST_TIMESTAMP_MS);
  });

  it('omits the date when no time is usable', () => {
    const body = mapTrack(makeTrack({ timestamp: undefined }), ctx, 'u');
    expect(body).not.toHaveProperty('date');
  });

  it('takes sessionId from properties first, as sent', () => {
    const event = makeTrack({ properties: { sessionId: 'abc' }, context: { sessionId: 1679967592314 } });
    expect(mapTrack(event, ctx, 'u').sessionId).toBe('abc');
  });

  it('falls back to context.sessionId, keeping a number a number', () => {
    const event = makeTrack({ context: { sessionId: 1679967592314 } });
    expect(mapTrack(event, ctx, 'u').sessionId).toBe(1679967592314);
  });

  it('drops a sessionId that is neither text nor a number', () => {
    const event = makeTrack({ context: { sessionId: { id: 1 } } });
    expect(mapTrack(event, ctx, 'u')).not.toHaveProperty('sessionId');
  });

  it('takes url and referrer from context.page', () => {
    const event = makeTrack({ context: { page: { url: 'https://a.example/', referrer: '$direct' } } });
    expect(mapTrack(event, ctx, 'u')).toMatchObject({ url: 'https://a.example/', referrer: '$direct' });
  });

  it('does not read url from properties on a track', () => {
    const body = mapTrack(makeTrack({ properties: { url: 'https://a.example/' } }), ctx, 'u');
    expect(body).not.toHaveProperty('url');
  });

  it('takes accountId from traits.groupId as text', () => {
    const event = makeTrack({ traits: { groupId: 77 }, context: { traits: { groupId: 'ctx' } } });
    expect(mapTrack(event, ctx, 'u').accountId).toBe('77');
  });

  it('falls back to context.traits.groupId for accountId', () => {
    const event = makeTrack({ context: { traits: { groupId: 'ctx-group' } } });
    expect(mapTrack(event, ctx, 'u').accountId).toBe('ctx-group');
  });

  it('keeps scalar properties as attributes', () => {
    const event = makeTrack({ properties: { price: 13.49, sku: 'F16', gift: false, url: 'u' } });
    expect(mapTrack(event, ctx, 'u').attributes).toEqual({ price: 13.49, sku: 'F16', gift: false, url: 'u' });
  });

  it('JSON-encodes object, array and null property values', () => {
    const event = makeTrack({ properties: { nested: { json: 'test' }, array: [1, 2, 3], empty: null } });
    expect(mapTrack(event, ctx, 'u').attributes).toEqual({
      nested: '{"json":"test"}',
      array: '[1,2,3]',
      empty: 'null',
    });
  });

  it('keeps globalContext out of the attributes', () => {
    const event = makeTrack({ properties: { a: 1, globalContext: { k: 'v' } } });
    expect(mapTrack(event, ctx, 'u').attributes).toEqual({ a: 1 });
  });

  it('throws a ValidationError, not a RangeError, for a 10 000-deep property value', () => {
    // Prepare
    const event = makeTrack({ properties: { deep: deeplyNested(10_000) } });
    // Act
    const act = () => mapTrack(event, ctx, 'u');
    // Assess
    expect(act).toThrow(ValidationError);
    expect(act).toThrow('properties.deep cannot be encoded as JSON');
  });

  it('uses the settings global context when the event has none', () => {
    const ctxWithGlobal = makeContext({ globalContext: [['projectId', 'p-123'], ['tag', 'sample']] });
    const body = mapTrack(makeTrack(), ctxWithGlobal, 'u');
    expect(body.globalContext).toEqual({ projectId: 'p-123', tag: 'sample' });
  });

  it('lets properties.globalContext replace the settings global context entirely', () => {
    const ctxWithGlobal = makeContext({ globalContext: [['projectId', 'p-123']] });
    const body = mapTrack(makeTrack({ properties: { globalContext: { testOverride: 'x' } } }), ctxWithGlobal, 'u');
    expect(body.globalContext).toEqual({ testOverride: 'x' });
  });

  it('falls back to the settings when properties.globalContext is empty or not an object', () => {
    const ctxWithGlobal = makeContext({ globalContext: [['projectId', 'p-123']] });
    for (const globalContext of [{}, 'text', ['a'], null]) {
      const body = mapTrack(makeTrack({ properties: { globalContext } }), ctxWithGlobal, 'u');
      expect(body.globalContext, JSON.stringify(globalContext)).toEqual({ projectId: 'p-123' });
    }
  });

  it('omits globalContext when both the event and the settings have none', () => {
    const body = mapTrack(makeTrack({ properties: { globalContext: {} } }), ctx, 'u');
    expect(body).not.toHaveProperty('globalContext');
  });

  it('does not mutate the event', () => {
    const event = makeTrack({ properties: { nested: { a: 1 }, globalContext: { k: 'v' } } });
    const before = structuredClone(event);
    mapTrack(event, ctx, 'u');
    expect(event).toEqual(before);
  });
});

describe('mapPage', () => {
  it('names a page event after event.name', () => {
    const body = mapPage(makePage({ name: 'Pricing', properties: { name: 'Other' } }), ctx, 'u');
    expect(body.eventName).toBe('Viewed Pricing Page');
  });

  it('falls back to properties.name', () => {
    const body = mapPage(makePage({ properties: { name: 'Pricing' } }), ctx, 'u');
    expect(body.eventName).toBe('Viewed Pricing Page');
  });

  it('names an unnamed page "Viewed Page"', () => {
    const body = mapPage(makePage(), ctx, 'u');
    expect(body.eventName).toBe('Viewed Page');
  });

  it('names a screen event "Viewed <name> Screen"', () => {
    const body = mapPage(makeScreen({ name: 'Settings' }), ctx, 'u');
    expect(body.eventName).toBe('Viewed Settings Screen');
  });

  it('names an unnamed screen "Viewed Screen"', () => {
    const body = mapPage(makeScreen(), ctx, 'u');
    expect(body.eventName).toBe('Viewed Screen');
  });

  it('falls back to properties.url and properties.referrer', () => {
    const event = makePage({ properties: { url: 'https://a.example/p', referrer: 'https://b.example/' } });
    expect(mapPage(event, ctx, 'u')).toMatchObject({ url: 'https://a.example/p', referrer: 'https://b.example/' });
  });

  it('prefers context.page over properties for url', () => {
    const event = makePage({ properties: { url: 'https://props/' }, context: { page: { url: 'https://ctx/' } } });
    expect(mapPage(event, ctx, 'u').url).toBe('https://ctx/');
  });

  it('maps properties as attributes, like a track', () => {
    const event = makePage({ properties: { path: '/p', tags: ['a'] } });
    const body = mapPage(event, ctx, 'u');
    expect(body).toMatchObject({
      identifyId: 'u',
      attributes: { path: '/p', tags: '["a"]' },
      propertyKey: TEST_PRODUCT_KEY,
      userType: 'USER',
      date: TEST_TIMESTAMP_MS,
    });
  });
});
