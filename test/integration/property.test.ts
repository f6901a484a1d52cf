import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeGainsight, startFakeGainsight } from '../support/fake-gainsight.ts';
import { validateGainsightRequest } from '../support/gainsight-schemas.ts';
import { type Handler, type HttpAnswer, call, httpApiEvent, loadHandler } from '../support/lambda.ts';

/**
 * Property-based tests (issue 4 item 1) through the REAL handler (env configuration, the
 * stateful loopback fake Gainsight PX): whatever arrives, the answer has a docs/http-contract.md status, never
 * a 500, never a throw, never an unhandled rejection; every request Gainsight receives matches
 * its documented body (test/support/gainsight-schemas.ts); no prototype is polluted.
 *
 * Reproducible: a fixed seed, and the number of runs is part of each test's name.
 */

const SEED = 20261128;
const SECRET = 'whsec-property';
const PRODUCT_KEY = 'AP-PROPERTY-1';
/** docs/http-contract.md: every status the relay may answer an HTTP request with. */
const ANSWER_STATUSES = [200, 202, 400, 401, 404, 405, 413, 429, 503];
const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

/**
 * Settings that map every interesting key, prototype keys included, so the mappers' copy paths
 * all run. Written as JSON text: an object literal would turn `__proto__` into a prototype.
 */
const SETTINGS_JSON = `{
  "userAttributeMap": {"__proto__": "protoAttr", "constructor": "ctorAttr", "prototype": "protoTypeAttr", "plan": "planTier", "nested": "nestedAttr"},
  "accountAttributeMap": [{"from": "__proto__", "to": "accountProto"}, {"from": "constructor", "to": "accountCtor"}, {"from": "tier", "to": "tier"}],
  "globalContextMap": [{"from": "__proto__", "to": "gp"}, {"from": "constructor", "to": "gc"}, {"from": "env", "to": "test"}],
  "pageEvents": true
}`;

let px: FakeGainsight;
let handler: Handler;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
const prototypeSnapshot = {
  object: Object.getOwnPropertyNames(Object.prototype).sort(),
  array: Object.getOwnPropertyNames(Array.prototype).sort(),
  func: Object.getOwnPropertyNames(Function.prototype).sort(),
};

/** Sets the reproducible seed and the number of runs a test states in its name. */
function runs(numRuns: number): void {
  fc.configureGlobal({ seed: SEED, numRuns, interruptAfterTimeLimit: 25_000, markInterruptAsFailure: true });
}

beforeAll(async () => {
  px = await startFakeGainsight();
  handler = await loadHandler({
    PX_API_KEY: px.apiKey,
    PX_PRODUCT_KEY: PRODUCT_KEY,
    WEBHOOK_SECRET: SECRET,
    GAINSIGHT_PX_BASE_URL: px.baseUrl,
    DELIVERY_BUDGET_MS: '1500',
    PX_SETTINGS: SETTINGS_JSON,
  });
  process.on('unhandledRejection', onUnhandled);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  fc.resetConfigureGlobal();
  await px.close();
});

/** Invokes the handler with the event; a throw or a non-HTTP answer fails the property. */
async function invoke(event: Record<string, unknown>): Promise<HttpAnswer> {
  px.reset();
  return call(handler, event);
}

/** The invariants every run must keep, whatever the input. */
function assertInvariants(answer: HttpAnswer): void {
  expect(ANSWER_STATUSES, `status ${answer.status}: ${answer.text.slice(0, 300)}`).toContain(answer.status);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  for (const request of px.requests) {
    const result = validateGainsightRequest(request.method, request.path, request.body);
    const issues = result.success ? [] : result.issues;
    expect(issues, `${request.method} ${request.path} ${request.rawBody.slice(0, 500)}`).toEqual([]);
  }
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeSnapshot.object);
  expect(Object.getOwnPropertyNames(Array.prototype).sort()).toEqual(prototypeSnapshot.array);
  expect(Object.getOwnPropertyNames(Function.prototype).sort()).toEqual(prototypeSnapshot.func);
  expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

const post = (body: string, options: { base64?: boolean } = {}) =>
  invoke(httpApiEvent({ secret: SECRET, rawBody: body, ...(options.base64 ? { base64: true } : {}) }));

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** Any UTF-16 code unit, so lone surrogates too (`unit: 'binary'` only yields whole code points). */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));

/** Strings of every kind: ASCII, any code point, any code unit (lone surrogates), graphemes, blanks. */
const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: codeUnit }),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom('', ' ', '\t\n ', '\u00a0', '\u200b', 'null', 'undefined', 'NaN', '__proto__', 'constructor'),
);

/** Numbers JSON can carry, weighted towards the awkward ones. */
const anyNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1.5, 0.1, -1, 2 ** 53, 2 ** 53 + 2, 1e21, -1e21, 1e300, -1e300, Number.MAX_VALUE, Number.MIN_VALUE),
);

/** Mostly a value of the type the field takes (so that events get through validation), sometimes junk. */
const mostly = <T>(valid: fc.Arbitrary<T>, junk: fc.Arbitrary<unknown> = anyJunk) =>
  fc.oneof({ weight: 40, arbitrary: valid as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: junk });

/** A value of a type no event field takes: objects, arrays, booleans. */
const anyJunk: fc.Arbitrary<unknown> = fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 2 }), fc.constant([]), fc.constant({}));

/** Ids as senders get them wrong: blank, whitespace, unicode, lone surrogates, dot segments, huge numbers, over-long. */
const anyId = fc.oneof(
  { weight: 3, arbitrary: anyString },
  { weight: 1, arbitrary: anyNumber },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.string({ minLength: 1020, maxLength: 1030 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'a/b?c#d%e+f g', 'ü🙂', '%2F', '%', 'user-1', '1e21', '  user-1  ', '.', '..', '\ud800', 'a\udc00b',
    ),
  },
);

/** Timestamps that are valid, NaN-producing or absurd. */
const anyTimestamp = fc.oneof(
  fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
  anyNumber,
  anyString,
  fc.constantFrom('2024-02-30T25:61:00Z', 'not a date', '99999999999999999999', '1e400', 'Infinity', '0x10', '-1', '+275760-09-13T00:00:00.001Z'),
);

/** Keys a sender may use: the relay's known trait/property names, prototype keys, anything. */
const anyKey = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(
    ...PROTOTYPE_KEYS,
    'name', 'email', 'firstName', 'firstname', 'first_name', 'lastName', 'gender', 'title', 'phone', 'score',
    'role', 'subscriptionId', 'accountId', 'signUpDate', 'firstVisitDate', 'createDate', 'globalUnsubscribe',
    'sfdcContactId', 'countryName', 'city', 'postalCode', 'latitude', 'longitude', 'userId', 'id', 'groupId',
    'trackedSubscriptionId', 'numberOfEmployees', 'lastSeenDate', 'website', 'plan', 'tier', 'nested', 'date',
    'sessionId', 'url', 'referrer', 'globalContext', 'env', 'hasOwnProperty', 'toString', 'valueOf',
  ) },
  { weight: 1, arbitrary: anyString },
);

/** A value of any JSON type, with awkward numbers, dates and strings over-represented. */
const anyValue = fc.oneof(
  anyString,
  anyNumber,
  anyTimestamp,
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('male', 'F', 'Other', 'unknown', 'Jane Q Public', ' ', '56.0', ' 12 ', '1e3', '-0'),
  fc.jsonValue({ maxDepth: 3 }),
);

/** A bag (traits, properties, context) keyed by hostile keys. */
const bag = (valueArb: fc.Arbitrary<unknown> = anyValue) => fc.dictionary(anyKey, valueArb, { maxKeys: 8 });

/** Each of `keys` present or not, with any value: reaches every field the mappers read. */
const known = (keys: readonly string[]) =>
  fc.record(Object.fromEntries(keys.map((key) => [key, anyValue])) as Record<string, fc.Arbitrary<unknown>>, { requiredKeys: [] });

/** Known keys plus random ones (prototype keys among them), random keys possibly shadowed. */
const withKnown = (keys: readonly string[]) =>
  fc.tuple(bag(), known(keys)).map(([random, fields]) => ({ ...random, ...fields }));

const TRAIT_KEYS = [
  'name', 'email', 'firstName', 'firstname', 'first_name', 'lastName', 'lastname', 'gender', 'title', 'phone', 'score',
  'role', 'subscriptionId', 'accountId', 'signUpDate', 'firstVisitDate', 'createDate', 'globalUnsubscribe',
  'sfdcContactId', 'countryName', 'countryCode', 'city', 'postalCode', 'timeZone', 'latitude', 'longitude',
  'userId', 'id', 'groupId', 'trackedSubscriptionId', 'sfdcId', 'numberOfEmployees', 'lastSeenDate', 'website',
  'plan', 'tier', 'nested', '__proto__', 'constructor', 'prototype',
] as const;
const PROPERTY_KEYS = ['date', 'sessionId', 'url', 'referrer', 'name', 'nested', 'constructor', 'prototype'] as const;

const anyTraits = withKnown(TRAIT_KEYS);
const anyProperties = fc.oneof(
  { weight: 3, arbitrary: withKnown(PROPERTY_KEYS) },
  { weight: 1, arbitrary: fc.tuple(withKnown(PROPERTY_KEYS), bag()).map(([properties, globalContext]) => ({ ...properties, globalContext })) },
);

const anyContext = fc.oneof(
  bag(),
  fc.record(
    {
      traits: mostly(anyTraits),
      page: mostly(fc.record({ url: anyValue, referrer: anyValue }, { requiredKeys: [] })),
      sessionId: anyValue,
      extra: anyValue,
    },
    { requiredKeys: [] },
  ),
);

const anyType = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom('identify', 'group', 'track', 'page', 'screen', 'alias') },
  { weight: 1, arbitrary: fc.constantFrom('IDENTIFY', ' Track ', 'Group', 'ALIAS', 'batch', '__proto__', 'constructor', '') },
  { weight: 1, arbitrary: fc.oneof(anyString, anyValue) },
);

/** An object shaped like a Segment event: every field optional, mostly of its type, sometimes not. */
const eventLike = fc.record(
  {
    type: anyType,
    messageId: mostly(fc.oneof(anyString, anyNumber)),
    userId: mostly(anyId),
    anonymousId: mostly(anyId),
    groupId: mostly(anyId),
    previousId: mostly(anyId),
    event: mostly(anyString),
    name: mostly(fc.oneof(anyString, fc.constant(null))),
    category: mostly(anyString),
    timestamp: mostly(anyTimestamp),
    originalTimestamp: mostly(anyTimestamp),
    sentAt: mostly(anyTimestamp),
    traits: mostly(anyTraits),
    properties: mostly(anyProperties),
    context: mostly(anyContext),
    integrations: mostly(bag()),
    extra: anyValue,
  },
  { requiredKeys: ['type'] },
);

/** One event, an array of events, or the batch shape. */
const eventBody = fc.oneof(
  { weight: 6, arbitrary: eventLike },
  { weight: 1, arbitrary: fc.array(eventLike, { minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.record({ batch: fc.array(eventLike, { minLength: 1, maxLength: 3 }), sentAt: anyTimestamp }) },
);

// ---------------------------------------------------------------------------------------------

describe('arbitrary bodies', () => {
  it('answers any JSON value with a documented status, never a 500 or a throw (300 runs)', async () => {
    runs(300);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.jsonValue(), fc.record({ batch: fc.jsonValue() }), fc.array(fc.jsonValue(), { maxLength: 5 })),
        async (value) => {
          const answer = await post(JSON.stringify(value) ?? 'null');
          assertInvariants(answer);
        },
      ),
    );
  }, 60_000);

  it('answers any raw string body with a documented status (300 runs)', async () => {
    runs(300);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })), async (text) => {
        const answer = await post(text);
        assertInvariants(answer);
        if (text.trim() === '') expect(answer.status).toBe(400);
      }),
    );
  }, 60_000);

  it('answers any base64 body, valid or not, with a documented status (300 runs)', async () => {
    runs(300);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 256 }).map((bytes) => Buffer.from(bytes).toString('base64')),
          fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value) ?? 'null', 'utf8').toString('base64')),
          fc.string(),
        ),
        async (encoded) => {
          const event = httpApiEvent({ secret: SECRET, rawBody: 'x' });
          const answer = await invoke({ ...event, body: encoded, isBase64Encoded: true });
          assertInvariants(answer);
        },
      ),
    );
  }, 60_000);
});

describe('arbitrary event-like objects', () => {
  it('answers with a documented status and sends Gainsight only documented bodies (500 runs)', async () => {
    runs(500);
    await fc.assert(
      fc.asyncProperty(eventBody, async (body) => {
        const answer = await post(JSON.stringify(body));
        assertInvariants(answer);
        if (answer.status === 200) {
          // Acknowledged means delivered or skipped, never "failed".
          const statuses = (answer.body.results as { status: string }[]).map((result) => result.status);
          expect(statuses.every((status) => status === 'delivered' || status === 'skipped')).toBe(true);
        }
      }),
    );
  }, 60_000);
});

/**
 * The properties stop at their first counterexample, so each class of failure they found is
 * pinned here on its own, shrunk to its essence: one test per bug, failing until it is fixed.
 */
describe('counterexamples found by the properties', () => {
  it.each([
    ['a lone high surrogate userId', { type: 'identify', userId: '\ud800' }],
    ['a lone low surrogate inside a userId', { type: 'track', userId: 'a\udc00b', event: 'Clicked' }],
    ['a lone surrogate groupId', { type: 'group', userId: 'u1', groupId: '\ud800', traits: { name: 'Acme' } }],
  ])('answers %s with a clear 400, not a 500', async (_name, event) => {
    const answer = await post(JSON.stringify(event));

    expect(answer.status).toBe(400);
    expect(px.requests).toEqual([]);
  });

  it.each([
    ['user', '.'],
    ['user', '..'],
    ['account', '.'],
    ['account', '..'],
  ])('never lets the %s id %j become a dot segment that retargets the PUT (WHATWG URL normalisation)', async (kind, id) => {
    const event =
      kind === 'user'
        ? { type: 'identify', userId: id, traits: { email: 'dots@example.test' } }
        : { type: 'group', userId: 'u1', groupId: id, traits: { name: 'Dots' } };

    const answer = await post(JSON.stringify(event));

    // Either refused before sending, or sent to the object's own resource: never to /v1/ or /v1/users/.
    expect([200, 400]).toContain(answer.status);
    const expected = kind === 'user' ? { kind: 'users', id } : { kind: 'accounts', id };
    const puts = px.requests.filter((request) => request.method === 'PUT' && request.resource.id !== 'u1');
    for (const request of puts) expect(request.resource, `${request.method} ${request.path}`).toEqual(expected);
  });

  it.each([
    ['signUpDate as a number beyond int64', { signUpDate: 1e300 }, 'signUpDate'],
    ['firstVisitDate as a digit string beyond 2^53', { firstVisitDate: '99999999999999999999' }, 'firstVisitDate'],
    ['score as a fraction', { score: 1.5 }, 'score'],
    ['score beyond int64', { score: -1e300 }, 'score'],
  ])('sends no %s to Gainsight (documented int64): drops the field or refuses the event', async (_name, traits, field) => {
    px.users.set('u1', { identifyId: 'u1' });

    const answer = await post(JSON.stringify({ type: 'identify', userId: 'u1', traits }));

    expect([200, 400]).toContain(answer.status);
    for (const request of px.requests) {
      expect(validateGainsightRequest(request.method, request.path, request.body)).toMatchObject({ success: true });
      expect(request.body).not.toHaveProperty(field, (traits as Record<string, unknown>)[field]);
    }
  });

  it.each([
    ['numberOfEmployees as a fraction', { numberOfEmployees: 3.5 }],
    ['numberOfEmployees beyond int32', { numberOfEmployees: 1e12 }],
    ['lastSeenDate beyond int64', { lastSeenDate: 1e20 }],
  ])('sends no %s to Gainsight (documented int32/int64)', async (_name, traits) => {
    px.users.set('u1', { identifyId: 'u1' });
    px.accounts.set('g1', { id: 'g1', name: 'Acme' });

    const answer = await post(JSON.stringify({ type: 'group', userId: 'u1', groupId: 'g1', traits: { name: 'Acme', ...traits } }));

    expect([200, 400]).toContain(answer.status);
    for (const request of px.requests) {
      const result = validateGainsightRequest(request.method, request.path, request.body);
      expect(result.success ? [] : result.issues, `${request.method} ${request.path} ${request.rawBody}`).toEqual([]);
    }
  });

  it('sends no custom event date beyond int64 (properties.date 1e300)', async () => {
    const answer = await post(JSON.stringify({ type: 'track', userId: 'u1', event: 'Clicked', properties: { date: 1e300 } }));

    expect([200, 400]).toContain(answer.status);
    for (const request of px.requests) {
      const result = validateGainsightRequest(request.method, request.path, request.body);
      expect(result.success ? [] : result.issues, `${request.method} ${request.path} ${request.rawBody}`).toEqual([]);
    }
  });
});

describe('the whole file', () => {
  it('raised no unhandled promise rejection', async () => {
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(unhandled).toEqual([]);
  });
});
