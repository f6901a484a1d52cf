import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors.ts';
import type { GroupEvent } from '../../../src/events/index.ts';
import { mapAccountCreate, mapAccountUpdate } from '../../../src/mapping/index.ts';
import { TEST_PRODUCT_KEY, TEST_TIMESTAMP_MS, makeContext, makeGroup } from '../../support/builders.ts';

const ctx = makeContext();

describe('mapAccountUpdate', () => {
  it('maps the name and the product key', () => {
    const body = mapAccountUpdate(makeGroup({ traits: { name: 'ECorp' } }), ctx);
    expect(body).toEqual({ name: 'ECorp', propertyKeys: [TEST_PRODUCT_KEY] });
  });

  it('turns a numeric name into text', () => {
    const body = mapAccountUpdate(makeGroup({ traits: { name: 42 } }), ctx);
    expect(body.name).toBe('42');
  });

  it.each([
    ['trackedSubscriptionId', 'sub-1'],
    ['sfdcId', '001ABC'],
    ['dunsNumber', '150483782'],
    ['industry', 'software'],
    ['sicCode', '7372'],
    ['website', 'www.ecorp.com'],
    ['naicsCode', '511210'],
    ['plan', 'premium'],
    ['parentGroupId', 'parent-1'],
  ])('maps the %s trait as text', (key, value) => {
    const body = mapAccountUpdate(makeGroup({ traits: { name: 'ECorp', [key]: value } }), ctx);
    expect(body).toMatchObject({ [key]: value });
  });

  it('turns a numeric code trait into text', () => {
    const body = mapAccountUpdate(makeGroup({ traits: { name: 'ECorp', sicCode: 7372 } }), ctx);
    expect(body.sicCode).toBe('7372');
  });

  it('maps numberOfEmployees as a number, parsing numeric text', () => {
    const body = mapAccountUpdate(makeGroup({ traits: { name: 'ECorp', numberOfEmployees: '400' } }), ctx);
    expect(body.numberOfEmployees).toBe(400);
  });

  it('drops a numberOfEmployees that is not a number', () => {
    const body = mapAccountUpdate(makeGroup({ traits: { name: 'ECorp', numberOfEmployees: 'many' } }), ctx);
    expect(body).not.toHaveProperty('numberOfEmployees');
  });

  it('maps lastSeenDate to epoch ms', () => {
    const body = mapAccountUpdate(
      makeGroup({ traits: { name: 'ECorp', lastSeenDate: '2021-06-26T16:11:22.335+05:30' } }),
      ctx,
    );
    expect(body.lastSeenDate).toBe(1624704082335);
  });

  it('drops an unparseable lastSeenDate', () => {
    const body = mapAccountUpdate(makeGroup({ traits: { name: 'ECorp', lastSeenDate: 'never' } }), ctx);
    expect(body).not.toHaveProperty('lastSeenDate');
  });

  it('maps location from flat traits', () => {
    const body = mapAccountUpdate(
      makeGroup({ traits: { name: 'ECorp', city: 'Berlin', countryCode: 'DE', latitude: '52.52', longitude: 13.405 } }),
      ctx,
    );
    expect(body.location).toEqual({ city: 'Berlin', countryCode: 'DE', coordinates: { latitude: 52.52, longitude: 13.405 } });
  });

  it('reads only event.traits, never context.traits', () => {
    const event = makeGroup({ traits: { name: 'ECorp' }, context: { traits: { industry: 'retail', city: 'Paris' } } });
    const body = mapAccountUpdate(event, makeContext({ accountAttributeMap: [['region', 'region']] }));
    expect(body).toEqual({ name: 'ECorp', propertyKeys: [TEST_PRODUCT_KEY] });
  });

  it('sends no createDate, numberOfUsers or lastModifiedDate on an update', () => {
    const body = mapAccountUpdate(
      makeGroup({ traits: { name: 'ECorp', createDate: 1, numberOfUsers: 2, lastModifiedDate: 3 } }),
      ctx,
    );
    expect(body).toEqual({ name: 'ECorp', propertyKeys: [TEST_PRODUCT_KEY] });
  });

  it('maps custom attributes through accountAttributeMap, values unchanged', () => {
    const ctxWithMap = makeContext({ accountAttributeMap: [['cultureCustomField', 'culture'], ['tags', 'tags']] });
    const body = mapAccountUpdate(
      makeGroup({ traits: { name: 'ECorp', cultureCustomField: 'open', tags: ['a', 'b'], other: 1 } }),
      ctxWithMap,
    );
    expect(body.customAttributes).toEqual({ culture: 'open', tags: ['a', 'b'] });
  });

  it('drops a mapped custom attribute whose value is null', () => {
    const ctxWithMap = makeContext({ accountAttributeMap: [['term', 'term'], ['plan2', 'plan2']] });
    const body = mapAccountUpdate(makeGroup({ traits: { name: 'ECorp', term: null, plan2: 'x' } }), ctxWithMap);
    expect(body.customAttributes).toEqual({ plan2: 'x' });
  });

  it('omits customAttributes when nothing is mapped', () => {
    const ctxWithMap = makeContext({ accountAttributeMap: [['term', 'term']] });
    const body = mapAccountUpdate(makeGroup({ traits: { name: 'ECorp', term: null } }), ctxWithMap);
    expect(body).not.toHaveProperty('customAttributes');
  });

  it('throws a ValidationError when the name is unusable', () => {
    // Prepare: bypass the schema, which normally rejects this.
    const event = { ...makeGroup(), traits: { name: { first: 'E' } } } as GroupEvent;
    // Act / Assess
    expect(() => mapAccountUpdate(event, ctx)).toThrow(ValidationError);
  });

  it('does not mutate the event', () => {
    const event = makeGroup({ traits: { name: 'ECorp', city: 'Berlin', x: 1 } });
    const before = structuredClone(event);
    mapAccountUpdate(event, makeContext({ accountAttributeMap: [['x', 'y']] }));
    expect(event).toEqual(before);
  });
});

describe('mapAccountCreate', () => {
  it('adds the group id as id', () => {
    const body = mapAccountCreate(makeGroup({ groupId: 'ecorp-id' }), ctx);
    expect(body.id).toBe('ecorp-id');
  });

  it('defaults createDate to the event time', () => {
    const body = mapAccountCreate(makeGroup(), ctx);
    expect(body.createDate).toBe(TEST_TIMESTAMP_MS);
  });

  it('takes createDate from traits when given', () => {
    const body = mapAccountCreate(makeGroup({ traits: { name: 'ECorp', createDate: '1577836800000' } }), ctx);
    expect(body.createDate).toBe(1577836800000);
  });

  it('leaves createDate out without a trait or an event time', () => {
    const body = mapAccountCreate(makeGroup({ timestamp: undefined }), ctx);
    expect(body).not.toHaveProperty('createDate');
  });

  it('carries the update fields', () => {
    const body = mapAccountCreate(makeGroup({ groupId: 'g', traits: { name: 'ECorp', plan: 'premium' } }), ctx);
    expect(body).toEqual({
      id: 'g',
      name: 'ECorp',
      plan: 'premium',
      propertyKeys: [TEST_PRODUCT_KEY],
      createDate: TEST_TIMESTAMP_MS,
    });
  });
});
