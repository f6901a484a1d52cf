import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeGainsight, type RecordedRequest, startFakeGainsight } from '../support/fake-gainsight.ts';
import { type FakeSqs, startFakeSqs } from '../support/fake-sqs.ts';
import { validateGainsightRequest } from '../support/gainsight-schemas.ts';
import { type Handler, type HttpAnswer, call, httpApiEvent, loadHandler, restApiEvent } from '../support/lambda.ts';

/**
 * Hostile input through the real handler (issue 4 items 2–5 and 8): Gainsight's documented
 * limits checked before sending, identity edge cases, prototype keys, resource abuse (deep
 * nesting, huge strings, maximum bodies) and the routes. Every answer is JSON with a documented
 * status; every request the fake Gainsight receives is checked against Gainsight's documented
 * bodies.
 */

const SECRET = 'whsec-hostile';
const PRODUCT_KEY = 'AP-HOSTILE-1';
const TIME = '2024-05-06T07:08:09.010Z';
const KIB = 1024;
const MAX_BODY_BYTES = 512 * KIB;

/**
 * Settings whose maps use prototype keys, written as JSON text (an object literal would turn
 * `__proto__` into a prototype instead of a key).
 */
const PROTOTYPE_SETTINGS = `{
  "userAttributeMap": {"__proto__": "x", "constructor": "y", "prototype": "z"},
  "accountAttributeMap": [{"from": "__proto__", "to": "accountProto"}, {"from": "constructor", "to": "accountCtor"}],
  "globalContextMap": [{"from": "__proto__", "to": "gp"}, {"from": "constructor", "to": "gc"}, {"from": "prototype", "to": "gt"}]
}`;

let px: FakeGainsight;
let handler: Handler;
/** The same relay with prototype keys in every settings map. */
let protoHandler: Handler;

const post = (body: unknown, target: Handler = handler): Promise<HttpAnswer> =>
  call(target, httpApiEvent({ secret: SECRET, body }));
const postRaw = (rawBody: string, target: Handler = handler): Promise<HttpAnswer> =>
  call(target, httpApiEvent({ secret: SECRET, rawBody }));

const envFor = (extra: Record<string, string> = {}) => ({
  PX_API_KEY: px.apiKey,
  PX_PRODUCT_KEY: PRODUCT_KEY,
  WEBHOOK_SECRET: SECRET,
  GAINSIGHT_PX_BASE_URL: px.baseUrl,
  ...extra,
});

// Builders: a valid event of each type; a test states only what it cares about.
const makeTrack = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'track',
  messageId: 'm-track',
  userId: 'u1',
  event: 'Report Exported',
  properties: { format: 'csv' },
  timestamp: TIME,
  ...overrides,
});
const makeIdentify = (overrides: Record<string, unknown> = {}) => ({
  type: 'identify',
  messageId: 'm-identify',
  userId: 'u1',
  traits: { email: 'u1@example.test' },
  timestamp: TIME,
  ...overrides,
});
const makeGroup = (overrides: Record<string, unknown> = {}) => ({
  type: 'group',
  messageId: 'm-group',
  userId: 'u1',
  groupId: 'g1',
  traits: { name: 'Acme' },
  timestamp: TIME,
  ...overrides,
});

/** `n` distinct properties `p0…p(n-1)`. */
const properties = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, i]));

/** `{"a":{"a":…1…}}`, `depth` objects deep, as JSON text (building it as a value would recurse). */
const nestedJson = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

const expectNoPrototypePollution = (): void => {
  expect(Object.keys(Object.prototype)).toEqual([]);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.getPrototypeOf({})).toBe(Object.prototype);
};

const expectDocumentedRequests = (requests: readonly RecordedRequest[]): void => {
  for (const request of requests) {
    const result = validateGainsightRequest(request.method, request.path, request.body);
    expect(result.success ? [] : result.issues, `${request.method} ${request.path}`).toEqual([]);
  }
};

/** A limit refusal: 400 `limit_exceeded`, naming the field and the limit, nothing sent. */
const expectLimitRefusal = (answer: HttpAnswer, field: string, limit: number): void => {
  expect(answer.status).toBe(400);
  expect(answer.body.error.code).toBe('limit_exceeded');
  expect(answer.body.error.message).toContain(String(limit));
  expect(answer.body.error.details.issues[0].field).toBe(field);
  expect(px.requests).toEqual([]);
};

beforeAll(async () => {
  px = await startFakeGainsight();
  protoHandler = await loadHandler(envFor({ PX_SETTINGS: PROTOTYPE_SETTINGS }));
  handler = await loadHandler(envFor());
});
afterAll(() => px.close());
beforeEach(() => px.reset());
afterEach(() => {
  // Assess (every test): whatever came in, no prototype changed and Gainsight saw only documented bodies.
  expectNoPrototypePollution();
  expectDocumentedRequests(px.requests);
});

describe("Gainsight's documented limits, checked before sending (issue 4 item 2)", () => {
  it('sends an event name of exactly 2000 characters', async () => {
    const answer = await post(makeTrack({ event: 'e'.repeat(2000) }));

    expect(answer.status).toBe(200);
    expect(px.customEvents).toHaveLength(1);
    expect((px.customEvents[0] as { eventName: string }).eventName).toHaveLength(2000);
  });

  it('refuses an event name of 2001 characters with a 400 naming the limit, without calling Gainsight', async () => {
    const answer = await post(makeTrack({ event: 'e'.repeat(2001) }));

    expectLimitRefusal(answer, 'event', 2000);
  });

  it('refuses a page name that makes "Viewed <name> Page" longer than 2000 characters (pageEvents on)', async () => {
    const pages = await loadHandler(envFor({ PX_SETTINGS: '{"pageEvents": true}' }));

    const answer = await post({ type: 'page', userId: 'u1', name: 'n'.repeat(1990) }, pages);

    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('limit_exceeded');
    expect(answer.body.error.message).toContain('2000');
    expect(px.requests).toEqual([]);
  });

  it('sends 50 properties as 50 attributes', async () => {
    const answer = await post(makeTrack({ properties: properties(50) }));

    expect(answer.status).toBe(200);
    expect(Object.keys((px.customEvents[0] as { attributes: object }).attributes)).toHaveLength(50);
  });

  it('refuses 51 properties with a 400 naming the limit of 50', async () => {
    const answer = await post(makeTrack({ properties: properties(51) }));

    expectLimitRefusal(answer, 'properties', 50);
  });

  it('does not count properties.globalContext as an attribute (50 + globalContext is fine)', async () => {
    const answer = await post(makeTrack({ properties: { ...properties(50), globalContext: { plan: 'gold' } } }));

    expect(answer.status).toBe(200);
    expect(px.customEvents[0]).toMatchObject({ globalContext: { plan: 'gold' } });
  });

  it('sends a property name of 1024 characters', async () => {
    const answer = await post(makeTrack({ properties: { ['k'.repeat(1024)]: 1 } }));

    expect(answer.status).toBe(200);
  });

  it('refuses a property name of 1025 characters with a 400 naming the limit of 1024', async () => {
    const answer = await post(makeTrack({ properties: { ['k'.repeat(1025)]: 1 } }));

    expectLimitRefusal(answer, 'properties', 1024);
  });

  it('refuses a whole batch, sending nothing, when one event breaks a limit; the details name it', async () => {
    const answer = await post([makeTrack({ messageId: 'ok' }), makeTrack({ messageId: 'too-many', properties: properties(51) })]);

    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalid_events');
    expect(answer.body.error.details.events).toEqual([
      expect.objectContaining({ index: 1, messageId: 'too-many', code: 'limit_exceeded', message: expect.stringContaining('50') }),
    ]);
    expect(px.requests).toEqual([]);
  });
});

describe('identity edge cases (issue 4 item 3)', () => {
  it('turns numeric ids into strings: userId, groupId, anonymousId and messageId', async () => {
    const answer = await post([
      makeIdentify({ userId: 12345, messageId: 42 }),
      makeGroup({ userId: 12345, groupId: 678, messageId: 43 }),
      makeTrack({ userId: undefined, anonymousId: 9.5, messageId: 44 }),
    ]);

    expect(answer.status).toBe(200);
    expect(answer.body.results.map((result: { messageId: unknown }) => result.messageId)).toEqual(['42', '43', '44']);
    // The anonymous track is another user's lane, so it may run between the others.
    expect(px.calls().filter((call) => call !== 'POST /events/custom')).toEqual([
      'PUT /users/12345',
      'POST /users',
      'PUT /accounts/678',
      'POST /accounts',
      'PUT /users/12345',
    ]);
    const bodyOf = (method: string, path: string, index = 0) =>
      px.requests.filter((request) => request.method === method && request.path === `/v1${path}`)[index]?.body;
    expect(bodyOf('POST', '/users')).toMatchObject({ identifyId: '12345' });
    expect(bodyOf('POST', '/accounts')).toMatchObject({ id: '678' });
    expect(bodyOf('PUT', '/users/12345', 1)).toEqual({ accountId: '678' });
    expect(bodyOf('POST', '/events/custom')).toMatchObject({ identifyId: '9.5' });
  });

  it.each([
    ['an empty userId', ''],
    ['a whitespace-only userId', ' \t\n '],
  ])('refuses %s with no other id with a 400, sending nothing', async (_name, userId) => {
    const answer = await post(makeIdentify({ userId }));

    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toMatch(/userId or anonymousId is required/);
    expect(px.requests).toEqual([]);
  });

  it('falls back to the anonymousId when userId is "" (RudderStack sends that for anonymous users)', async () => {
    const answer = await post(makeTrack({ userId: '', anonymousId: 'anon-7' }));

    expect(answer.status).toBe(200);
    expect(px.customEvents[0]).toMatchObject({ identifyId: 'anon-7' });
  });

  it('falls back to the anonymousId when userId is null (Segment libraries send that)', async () => {
    const answer = await post(makeIdentify({ userId: null, anonymousId: 'anon-8' }));

    expect(answer.status).toBe(200);
    expect(px.calls()).toEqual(['PUT /users/anon-8', 'POST /users']);
  });

  it('sends a userId of 1024 characters', async () => {
    const answer = await post(makeTrack({ userId: 'u'.repeat(1024) }));

    expect(answer.status).toBe(200);
  });

  it('refuses a userId of 1025 characters with a 400 naming the limit', async () => {
    const answer = await post(makeIdentify({ userId: 'u'.repeat(1025) }));

    expectLimitRefusal(answer, 'userId', 1024);
  });

  it('refuses a groupId of 1025 characters with a 400 naming the limit', async () => {
    const answer = await post(makeGroup({ groupId: 'g'.repeat(1025) }));

    expectLimitRefusal(answer, 'groupId', 1024);
  });

  it('refuses an over-long anonymousId used as the user id', async () => {
    const answer = await post(makeTrack({ userId: undefined, anonymousId: 'a'.repeat(1025) }));

    expectLimitRefusal(answer, 'userId', 1024);
  });

  it.each([
    ['slash', 'a/b'],
    ['query and fragment', 'a?b=c#d'],
    ['percent and plus', '100%+1'],
    ['an encoded-looking id', 'a%2Fb'],
    ['spaces', ' lead and trail '],
    ['unicode', 'ünïcødé-用户-🙂'],
    ['everything at once', 'a/b?c#d%e+f g-ü🙂'],
  ])('delivers ids with %s intact to Gainsight (URL-encoded path, decoded id equal)', async (_name, id) => {
    const answer = await post([makeIdentify({ userId: id }), makeGroup({ userId: id, groupId: id }), makeTrack({ userId: id })]);

    expect(answer.status).toBe(200);
    const puts = px.requests.filter((request) => request.method === 'PUT');
    expect(puts.map((request) => request.resource)).toEqual([
      { kind: 'users', id },
      { kind: 'accounts', id },
      { kind: 'users', id },
    ]);
    expect(puts.every((request) => request.path.endsWith(`/${encodeURIComponent(id)}`))).toBe(true);
    expect(px.users.has(id)).toBe(true);
    expect(px.accounts.has(id)).toBe(true);
    expect(px.users.get(id)).toMatchObject({ accountId: id });
    expect(px.customEvents[0]).toMatchObject({ identifyId: id });
  });
});

describe('prototype keys are plain keys (issue 4 item 4)', () => {
  it('maps traits named __proto__, constructor and prototype through a settings map keyed by them', async () => {
    const answer = await postRaw(
      `{"type":"identify","userId":"u1","traits":{"__proto__":{"polluted":"yes"},"constructor":"c","prototype":"p","email":"e@example.test"}}`,
      protoHandler,
    );

    expect(answer.status).toBe(200);
    const body = px.requests[1]?.body as { customAttributes: Record<string, unknown>; email: string };
    expect(body.email).toBe('e@example.test');
    expect(JSON.stringify(body.customAttributes)).toBe('{"x":{"polluted":"yes"},"y":"c","z":"p"}');
  });

  it('drops prototype-named traits when no map names them, and never reads inherited ones', async () => {
    const answer = await postRaw(`{"type":"identify","userId":"u1","traits":{"__proto__":{"email":"inherited@example.test"}}}`);

    expect(answer.status).toBe(200);
    expect(px.requests[0]?.body).toEqual({ type: 'USER', propertyKeys: [PRODUCT_KEY], customAttributes: {} });
  });

  it('maps group traits named __proto__ and constructor through accountAttributeMap', async () => {
    const answer = await postRaw(
      `{"type":"group","userId":"u1","groupId":"g1","traits":{"name":"Acme","__proto__":{"polluted":"yes"},"constructor":"c"}}`,
      protoHandler,
    );

    expect(answer.status).toBe(200);
    const body = px.requests[0]?.body as { customAttributes: Record<string, unknown> };
    expect(JSON.stringify(body.customAttributes)).toBe('{"accountProto":{"polluted":"yes"},"accountCtor":"c"}');
  });

  it('sends properties named __proto__, constructor and prototype as attributes', async () => {
    const answer = await postRaw(
      `{"type":"track","userId":"u1","event":"Clicked","properties":{"__proto__":{"polluted":"yes"},"constructor":"c","prototype":"p"}}`,
    );

    expect(answer.status).toBe(200);
    const attributes = (px.requests[0]?.body as { attributes: Record<string, unknown> }).attributes;
    expect(Object.keys(attributes)).toEqual(['__proto__', 'constructor', 'prototype']);
    expect(JSON.stringify(attributes)).toBe('{"__proto__":"{\\"polluted\\":\\"yes\\"}","constructor":"c","prototype":"p"}');
  });

  it('passes an event globalContext with prototype keys through as plain keys', async () => {
    const answer = await postRaw(
      `{"type":"track","userId":"u1","event":"Clicked","properties":{"globalContext":{"__proto__":{"polluted":"yes"},"constructor":"c"}}}`,
    );

    expect(answer.status).toBe(200);
    const globalContext = (px.requests[0]?.body as { globalContext: Record<string, unknown> }).globalContext;
    expect(JSON.stringify(globalContext)).toBe('{"__proto__":{"polluted":"yes"},"constructor":"c"}');
  });

  it('sends a settings globalContextMap whose keys are __proto__, constructor and prototype', async () => {
    const answer = await post(makeTrack(), protoHandler);

    expect(answer.status).toBe(200);
    const globalContext = (px.requests[0]?.body as { globalContext: Record<string, unknown> }).globalContext;
    expect(JSON.stringify(globalContext)).toBe('{"__proto__":"gp","constructor":"gc","prototype":"gt"}');
  });

  it('treats a top-level __proto__ key of the event as an unknown field', async () => {
    const answer = await postRaw(`{"__proto__":{"type":"identify","userId":"inherited"},"type":"track","userId":"u1","event":"Clicked"}`);

    expect(answer.status).toBe(200);
    expect(px.customEvents[0]).toMatchObject({ identifyId: 'u1', eventName: 'Clicked' });
  });
});

describe('resource abuse (issue 4 item 5)', () => {
  it('refuses properties nested 10 000 deep with a clear 400 naming the property, not a 500', async () => {
    const answer = await postRaw(`{"type":"track","userId":"u1","event":"Deep","properties":{"deep":${nestedJson(10_000)}}}`);

    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalid_event');
    expect(answer.body.error.message).toBe('properties.deep cannot be encoded as JSON');
    expect(px.requests).toEqual([]);
  });

  it('refuses a mapped trait nested 10 000 deep with a clear 400', async () => {
    const answer = await postRaw(`{"type":"identify","userId":"u1","traits":{"constructor":${nestedJson(10_000)}}}`, protoHandler);

    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toBe('traits cannot be encoded as JSON');
    expect(px.requests).toEqual([]);
  });

  it('delivers an event whose unmapped context field is nested 10 000 deep (the relay never encodes it)', async () => {
    const answer = await postRaw(`{"type":"identify","userId":"u1","traits":{"email":"e@example.test"},"context":{"deep":${nestedJson(10_000)}}}`);

    expect(answer.status).toBe(200);
    expect(px.calls()).toEqual(['PUT /users/u1', 'POST /users']);
  });

  it('delivers an event whose unmapped trait is nested 10 000 deep', async () => {
    const answer = await postRaw(`{"type":"identify","userId":"u1","traits":{"email":"e@example.test","junk":${nestedJson(10_000)}}}`);

    expect(answer.status).toBe(200);
  });

  it('answers a body that is only nesting (an array 10 000 deep) with a 400', async () => {
    const answer = await postRaw(`${'['.repeat(10_000)}1${']'.repeat(10_000)}`);

    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalid_event');
  });

  it('delivers a single 400 KiB string value with bounded memory', async () => {
    const before = process.memoryUsage().rss;
    const blob = 'x'.repeat(400 * KIB);

    const answer = await post(makeTrack({ properties: { blob } }));

    expect(answer.status).toBe(200);
    expect((px.customEvents[0] as { attributes: { blob: string } }).attributes.blob).toBe(blob);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });

  it('answers 100 events of near-maximum total size (just under 512 KiB) with 100 results, bounded memory', async () => {
    const events = Array.from({ length: 100 }, (_, i) => makeTrack({ messageId: `big-${i}`, userId: `user-${i}`, properties: { blob: '' } }));
    const overhead = Buffer.byteLength(JSON.stringify(events));
    const padding = Math.floor((MAX_BODY_BYTES - 100 - overhead) / 100);
    for (const event of events) event.properties = { blob: 'y'.repeat(padding) };
    const body = JSON.stringify(events);
    expect(Buffer.byteLength(body)).toBeGreaterThan(MAX_BODY_BYTES - 300);
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_BODY_BYTES);
    const before = process.memoryUsage().rss;

    const answer = await postRaw(body);

    expect(answer.status).toBe(200);
    expect(answer.body.results).toHaveLength(100);
    expect(answer.body.results.every((result: { status: string }) => result.status === 'delivered')).toBe(true);
    expect(px.customEvents).toHaveLength(100);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });

  it('answers a body one byte over 512 KiB with 413, sending nothing', async () => {
    const event = makeTrack({ properties: { blob: '' } });
    const overhead = Buffer.byteLength(JSON.stringify(event));
    event.properties = { blob: 'z'.repeat(MAX_BODY_BYTES + 1 - overhead) };
    const body = JSON.stringify(event);
    expect(Buffer.byteLength(body)).toBe(MAX_BODY_BYTES + 1);

    const answer = await postRaw(body);

    expect(answer.status).toBe(413);
    expect(answer.body.error.code).toBe('payload_too_large');
    expect(px.requests).toEqual([]);
  });

  it('counts the size limit in bytes, not characters (multi-byte text)', async () => {
    // 200 000 three-byte characters: 600 000 bytes, under 512 Ki characters.
    const answer = await post(makeTrack({ properties: { text: '€'.repeat(200_000) } }));

    expect(answer.status).toBe(413);
    expect(px.requests).toEqual([]);
  });

  it('answers 101 small events with 413, sending nothing', async () => {
    const answer = await post(Array.from({ length: 101 }, (_, i) => makeTrack({ messageId: `m${i}` })));

    expect(answer.status).toBe(413);
    expect(answer.body.error.message).toContain('100');
    expect(px.requests).toEqual([]);
  });
});

describe('an event with a deeply nested context that cannot be delivered (parking must encode it)', () => {
  let sqs: FakeSqs;
  let parked: Handler;

  beforeAll(async () => {
    sqs = await startFakeSqs();
    const url = sqs.createQueue('hostile-parking');
    parked = await loadHandler(
      envFor({
        DELIVERY_BUDGET_MS: '1200',
        DEAD_LETTER_QUEUE_URL: url,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'AKIDUMMY',
        AWS_SECRET_ACCESS_KEY: 'dummy-secret',
        AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      }),
    );
  });
  afterAll(() => sqs.close());

  it('answers 503 (retry later), not 202 and not 500, when Gainsight is down and the event cannot be parked', async () => {
    px.script({ status: 503, times: 1000 });

    const answer = await postRaw(`{"type":"track","messageId":"deep","userId":"u1","event":"Clicked","context":{"deep":${nestedJson(10_000)}}}`, parked);

    expect(answer.status).toBe(503);
    expect(answer.body.error.details.results[0]).toMatchObject({ messageId: 'deep', status: 'failed' });
    expect(sqs.messages('hostile-parking')).toEqual([]);
  });
});

describe('routes (issue 4 item 8): only POST /events and GET /health exist', () => {
  const expectJsonError = (answer: HttpAnswer, status: number, code: string): void => {
    expect(answer.status).toBe(status);
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expect(answer.body).toEqual({ error: { code, message: expect.any(String) } });
    expect(px.requests).toEqual([]);
  };

  it.each(['/', '/admin', '/events/extra', '/Events', '/v2/events', '/events/..', '/%2e%2e/events', `/${'x'.repeat(5000)}`])(
    'answers POST %s with a JSON 404',
    async (path) => {
      const answer = await call(handler, httpApiEvent({ path, secret: SECRET, body: makeTrack() }));

      expectJsonError(answer, 404, 'not_found');
      expect(answer.text.length).toBeLessThan(300);
    },
  );

  it.each(['GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'])('answers %s /events with a JSON 405 allowing POST', async (method) => {
    const answer = await call(handler, httpApiEvent({ method, path: '/events', secret: SECRET }));

    expectJsonError(answer, 405, 'method_not_allowed');
    expect(answer.headers.allow).toBe('POST');
  });

  it.each(['POST', 'PUT', 'DELETE'])('answers %s /health with a JSON 405 allowing GET', async (method) => {
    const answer = await call(handler, httpApiEvent({ method, path: '/health', secret: null }));

    expectJsonError(answer, 405, 'method_not_allowed');
    expect(answer.headers.allow).toBe('GET');
  });

  it('answers REST API (v1 proxy) requests to unknown paths and wrong methods alike', async () => {
    const notFound = await call(handler, restApiEvent({ path: '/admin', secret: SECRET, body: makeTrack() }));
    const notAllowed = await call(handler, restApiEvent({ method: 'GET', path: '/events', secret: SECRET }));

    expectJsonError(notFound, 404, 'not_found');
    expectJsonError(notAllowed, 405, 'method_not_allowed');
  });
});
