import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../../src/config/settings.ts';
import { mapUserCreate, mapUserLinkCreate, mapUserLinkUpdate, mapUserUpdate } from '../../../src/mapping/index.ts';
import {
  TEST_PRODUCT_KEY,
  TEST_TIMESTAMP_MS,
  makeContext,
  makeGroup,
  makeIdentify,
} from '../../support/builders.ts';

const ctx = makeContext();

describe('mapUserUpdate: default fields', () => {
  it.each([
    ['email', 'a@example.com'],
    ['title', 'Director'],
    ['phone', '+1 555 0100'],
    ['role', 'admin'],
    ['subscriptionId', 'sub-9'],
    ['sfdcContactId', '003XYZ'],
  ])('maps the %s trait as text', (key, value) => {
    // Act
    const body = mapUserUpdate(makeIdentify({ traits: { [key]: value } }), ctx);
    // Assess
    expect(body).toMatchObject({ [key]: value });
  });

  it('maps firstName and lastName', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { firstName: 'Ada', lastName: 'Lovelace' } }), ctx);
    expect(body).toMatchObject({ firstName: 'Ada', lastName: 'Lovelace' });
  });

  it.each([
    ['firstname', 'lastname'],
    ['first_name', 'last_name'],
  ])('reads the name variants %s / %s', (firstKey, lastKey) => {
    const body = mapUserUpdate(makeIdentify({ traits: { [firstKey]: 'Ada', [lastKey]: 'Lovelace' } }), ctx);
    expect(body).toMatchObject({ firstName: 'Ada', lastName: 'Lovelace' });
  });

  it('prefers firstName over firstname and first_name', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { first_name: 'c', firstname: 'b', firstName: 'a' } }), ctx);
    expect(body.firstName).toBe('a');
  });

  it('normalises gender', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { gender: 'Male' } }), ctx);
    expect(body.gender).toBe('MALE');
  });

  it('drops a gender it cannot normalise', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { gender: 'unknown' } }), ctx);
    expect(body).not.toHaveProperty('gender');
  });

  it('maps score as a whole number (Gainsight int64), parsing numeric text and rounding', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { score: '42.5' } }), ctx);
    expect(body.score).toBe(43);
  });

  it('drops a score beyond the safe integer range', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { score: 1e300 } }), ctx);
    expect(body).not.toHaveProperty('score');
  });

  it('drops a score that is not a number', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { score: 'high' } }), ctx);
    expect(body).not.toHaveProperty('score');
  });

  it('maps accountId as text', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { accountId: 1234 } }), ctx);
    expect(body.accountId).toBe('1234');
  });

  it('maps signUpDate and firstVisitDate to epoch ms', () => {
    const body = mapUserUpdate(
      makeIdentify({ traits: { signUpDate: '2021-06-26T16:11:22.335+05:30', firstVisitDate: 1624431528295 } }),
      ctx,
    );
    expect(body).toMatchObject({ signUpDate: 1624704082335, firstVisitDate: 1624431528295 });
  });

  it('maps a digit-string date as milliseconds', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { signUpDate: '1624431528295' } }), ctx);
    expect(body.signUpDate).toBe(1624431528295);
  });

  it('drops an unparseable date', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { signUpDate: 'yesterday' } }), ctx);
    expect(body).not.toHaveProperty('signUpDate');
  });

  it('keeps globalUnsubscribe false', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { globalUnsubscribe: false } }), ctx);
    expect(body.globalUnsubscribe).toBe(false);
  });

  it('drops a globalUnsubscribe that is not a boolean', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { globalUnsubscribe: 'true' } }), ctx);
    expect(body).not.toHaveProperty('globalUnsubscribe');
  });

  it('maps every location field from flat traits', () => {
    // Prepare
    const traits = {
      countryName: 'USA',
      countryCode: 'US',
      stateName: 'New York',
      stateCode: 'NY',
      city: 'New York',
      street: '5th Avenue',
      postalCode: '10001',
      continent: 'North America',
      regionName: 'East',
      timeZone: 'America/New_York',
      latitude: '40.7128',
      longitude: -74.006,
    };
    // Act
    const body = mapUserUpdate(makeIdentify({ traits }), ctx);
    // Assess
    expect(body.location).toEqual({
      countryName: 'USA',
      countryCode: 'US',
      stateName: 'New York',
      stateCode: 'NY',
      city: 'New York',
      street: '5th Avenue',
      postalCode: '10001',
      continent: 'North America',
      regionName: 'East',
      timeZone: 'America/New_York',
      coordinates: { latitude: 40.7128, longitude: -74.006 },
    });
  });

  it('drops a latitude that is not a number', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { latitude: 'north', longitude: '2.35' } }), ctx);
    expect(body.location).toEqual({ coordinates: { longitude: 2.35 } });
  });

  it('omits location when no location trait is there', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { address: { city: 'Paris' } } }), ctx);
    expect(body).not.toHaveProperty('location');
  });

  it('always sends type USER, ignoring traits.type', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { type: 'ADMIN' } }), ctx);
    expect(body.type).toBe('USER');
  });

  it('sends the product key in propertyKeys', () => {
    const body = mapUserUpdate(makeIdentify(), ctx);
    expect(body.propertyKeys).toEqual([TEST_PRODUCT_KEY]);
  });

  it('sends no identifyId, createDate, date defaults or read-only fields on an update', () => {
    const body = mapUserUpdate(
      makeIdentify({ traits: { createDate: 1, lastSeenDate: 2, numberOfVisits: 3, lastModifiedDate: 4 } }),
      ctx,
    );
    for (const key of ['identifyId', 'createDate', 'signUpDate', 'lastSeenDate', 'numberOfVisits', 'lastModifiedDate']) {
      expect(body, key).not.toHaveProperty(key);
    }
  });

  it('drops unmapped traits and sends only known fields', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { email: 'a@b.c', favouriteColour: 'blue' } }), ctx);
    expect(body).toEqual({ type: 'USER', email: 'a@b.c', propertyKeys: [TEST_PRODUCT_KEY], customAttributes: {} });
  });

  it('contains no undefined values', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { email: null, score: 'x', gender: 'x' } }), ctx);
    expect(Object.values(body)).not.toContain(undefined);
  });

  it('does not mutate the event', () => {
    const event = makeIdentify({ traits: { name: 'Ada Lovelace', city: 'London' }, context: { traits: { x: 1 } } });
    const before = structuredClone(event);
    mapUserUpdate(event, makeContext({ userAttributeMap: [['x', 'y']] }));
    expect(event).toEqual(before);
  });
});

describe('mapUserUpdate: traits and context.traits', () => {
  it('reads default fields from context.traits, where RudderStack puts them', () => {
    const body = mapUserUpdate(makeIdentify({ traits: undefined, context: { traits: { email: 'ctx@b.c', city: 'Rome' } } }), ctx);
    expect(body).toMatchObject({ email: 'ctx@b.c', location: { city: 'Rome' } });
  });

  it('prefers traits over context.traits for default fields', () => {
    const body = mapUserUpdate(
      makeIdentify({ traits: { email: 'traits@b.c' }, context: { traits: { email: 'ctx@b.c' } } }),
      ctx,
    );
    expect(body.email).toBe('traits@b.c');
  });

  it('falls back to context.traits when the traits value is empty', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { email: '' }, context: { traits: { email: 'ctx@b.c' } } }), ctx);
    expect(body.email).toBe('ctx@b.c');
  });
});

describe('mapUserUpdate: name', () => {
  it('splits a one-word name into firstName only', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { name: 'Cher' } }), ctx);
    expect(body).toMatchObject({ firstName: 'Cher' });
    expect(body).not.toHaveProperty('lastName');
  });

  it('splits a two-word name into firstName and lastName', () => {
    const body = mapUserUpdate(makeIdentify({ context: { traits: { name: 'Stanley Kubrick' } } }), ctx);
    expect(body).toMatchObject({ firstName: 'Stanley', lastName: 'Kubrick' });
  });

  it('splits name on the first space: the rest becomes lastName', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { name: 'Ludwig van Beethoven' } }), ctx);
    expect(body).toMatchObject({ firstName: 'Ludwig', lastName: 'van Beethoven' });
  });

  it('lets explicit firstName and lastName traits win over the split name', () => {
    const body = mapUserUpdate(
      makeIdentify({ traits: { name: 'Stanley Kubrick', firstName: 'Stan', lastName: 'K.' } }),
      ctx,
    );
    expect(body).toMatchObject({ firstName: 'Stan', lastName: 'K.' });
  });

  it('fills only the missing part from the split name', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { name: 'Stanley Kubrick', firstName: 'Stan' } }), ctx);
    expect(body).toMatchObject({ firstName: 'Stan', lastName: 'Kubrick' });
  });
});

describe('mapUserUpdate: custom attributes', () => {
  it('sends customAttributes {} when nothing is mapped', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { hobby: 'films' } }), ctx);
    expect(body.customAttributes).toEqual({});
  });

  it('renames a mapped trait and passes its value unchanged', () => {
    const ctxWithMap = makeContext({ userAttributeMap: [['hobbyCustomField', 'hobby'], ['prefs', 'preferences']] });
    const body = mapUserUpdate(
      makeIdentify({ traits: { hobbyCustomField: 'films', prefs: { dark: true }, other: 1 } }),
      ctxWithMap,
    );
    expect(body.customAttributes).toEqual({ hobby: 'films', preferences: { dark: true } });
  });

  it('matches map keys exactly and case-sensitively', () => {
    const ctxWithMap = makeContext({ userAttributeMap: [['Hobby', 'hobby']] });
    const body = mapUserUpdate(makeIdentify({ traits: { hobby: 'films' } }), ctxWithMap);
    expect(body.customAttributes).toEqual({});
  });

  it('drops a mapped trait whose value is null', () => {
    const ctxWithMap = makeContext({ userAttributeMap: [['term', 'term']] });
    const body = mapUserUpdate(makeIdentify({ traits: { term: null } }), ctxWithMap);
    expect(body.customAttributes).toEqual({});
  });

  it('reads mapped traits from context.traits too', () => {
    const ctxWithMap = makeContext({ userAttributeMap: [['hobbyCustomField', 'hobby']] });
    const body = mapUserUpdate(makeIdentify({ context: { traits: { hobbyCustomField: 'films' } } }), ctxWithMap);
    expect(body.customAttributes).toEqual({ hobby: 'films' });
  });

  it('prefers traits over context.traits for a mapped key', () => {
    const ctxWithMap = makeContext({ userAttributeMap: [['hobbyCustomField', 'hobby']] });
    const body = mapUserUpdate(
      makeIdentify({ traits: { hobbyCustomField: 'films' }, context: { traits: { hobbyCustomField: 'chess' } } }),
      ctxWithMap,
    );
    expect(body.customAttributes).toEqual({ hobby: 'films' });
  });

  it('sends {} with an absent or empty map', () => {
    const body = mapUserUpdate(makeIdentify({ traits: { '': 'blank key' } }), makeContext({ userAttributeMap: [] }));
    expect(body.customAttributes).toEqual({});
  });
});

describe('mapUserCreate', () => {
  it('adds identifyId', () => {
    const body = mapUserCreate(makeIdentify(), ctx, 'user-1');
    expect(body.identifyId).toBe('user-1');
  });

  it('defaults signUpDate and createDate to the event time', () => {
    const body = mapUserCreate(makeIdentify(), ctx, 'user-1');
    expect(body).toMatchObject({ signUpDate: TEST_TIMESTAMP_MS, createDate: TEST_TIMESTAMP_MS });
  });

  it('uses originalTimestamp as the event time when timestamp is absent', () => {
    const event = makeIdentify({ timestamp: undefined, originalTimestamp: '2019-10-14T09:03:17.562Z' });
    const body = mapUserCreate(event, ctx, 'user-1');
    expect(body).toMatchObject({ signUpDate: 1571043797562, createDate: 1571043797562 });
  });

  it('keeps signUpDate and createDate from traits', () => {
    const event = makeIdentify({ traits: { signUpDate: 1624431528295, createDate: '2020-01-01T00:00:00Z' } });
    const body = mapUserCreate(event, ctx, 'user-1');
    expect(body).toMatchObject({ signUpDate: 1624431528295, createDate: 1577836800000 });
  });

  it('leaves the dates out when the event has no usable time', () => {
    const body = mapUserCreate(makeIdentify({ timestamp: undefined }), ctx, 'user-1');
    expect(body).not.toHaveProperty('signUpDate');
    expect(body).not.toHaveProperty('createDate');
  });

  it('carries the same mapped fields as an update', () => {
    const event = makeIdentify({ traits: { email: 'a@b.c', gender: 'f', city: 'Oslo' } });
    const body = mapUserCreate(event, ctx, 'user-1');
    expect(body).toMatchObject({
      type: 'USER',
      email: 'a@b.c',
      gender: 'FEMALE',
      location: { city: 'Oslo' },
      propertyKeys: [TEST_PRODUCT_KEY],
      customAttributes: {},
    });
  });
});

describe('mapUserLinkUpdate / mapUserLinkCreate', () => {
  it('links a user with only the accountId', () => {
    expect(mapUserLinkUpdate('ecorp-id')).toEqual({ accountId: 'ecorp-id' });
  });

  it('creates a missing user already linked to the account, dated at the event time', () => {
    const body = mapUserLinkCreate(makeGroup({ groupId: 'ecorp-id' }), ctx, 'user-1');
    expect(body).toEqual({
      identifyId: 'user-1',
      type: 'USER',
      accountId: 'ecorp-id',
      propertyKeys: [TEST_PRODUCT_KEY],
      signUpDate: TEST_TIMESTAMP_MS,
      createDate: TEST_TIMESTAMP_MS,
    });
  });

  it('leaves the dates out of a link create without an event time', () => {
    const body = mapUserLinkCreate(makeGroup({ timestamp: undefined }), ctx, 'user-1');
    expect(body).not.toHaveProperty('signUpDate');
    expect(body).not.toHaveProperty('createDate');
  });
});

describe('mapUserUpdate: attribute maps from settings JSON', () => {
  it('maps nothing with the blank row RudderStack saves for an empty map', () => {
    // Prepare
    const { settings } = parseSettings({ userAttributeMap: [{ from: '', to: '' }] });
    // Act
    const body = mapUserUpdate(makeIdentify({ traits: { '': 'x', hobby: 'films' } }), { settings, productKey: 'k' });
    // Assess
    expect(body.customAttributes).toEqual({});
  });

  it('maps nothing when the settings have no map at all', () => {
    const { settings } = parseSettings(undefined);
    const body = mapUserUpdate(makeIdentify({ traits: { hobby: 'films' } }), { settings, productKey: 'k' });
    expect(body.customAttributes).toEqual({});
  });
});
