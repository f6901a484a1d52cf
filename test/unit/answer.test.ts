import { describe, expect, it } from 'vitest';
import { type Settled, failedEntry } from '../../src/delivery/settle.ts';
import {
  AuthError,
  ConfigurationError,
  KeyRefusedError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  RateLimitedError,
  type RelayError,
  RouteNotFoundError,
  UnavailableError,
  UpstreamRejectedError,
  ValidationError,
} from '../../src/errors.ts';
import { type HttpResponse, answerError, answerEvents } from '../../src/http/answer.ts';
import { type EventsRoute, ROUTES, isEventsRoute } from '../../src/http/routes.ts';

const routeOf = (path: string): EventsRoute => {
  const route = ROUTES.get(path);
  if (route === undefined || !isEventsRoute(route)) throw new Error(`no events route ${path}`);
  return route;
};

/** `POST /events`: parked events answer 202. */
const EVENTS = routeOf('/events');
/** The tracking API: parked events answer 200 (the SDKs treat 202 like any 2xx, but expect 200). */
const TRACKING = routeOf('/v1/batch');

// Outcomes of single events, as the settle step hands them to the answer policy.
const delivered = (messageId: string): Settled => ({ entry: { messageId, type: 'identify', status: 'delivered', calls: 1, attempts: 1 } });
const duplicate = (messageId: string): Settled => ({
  entry: { messageId, type: 'track', status: 'delivered', calls: 0, attempts: 0, duplicate: true },
});
const skipped = (messageId: string): Settled => ({ entry: { messageId, type: 'page', status: 'skipped', reason: 'page events are off' } });
const parked = (messageId: string): Settled => ({ entry: { messageId, type: 'track', status: 'queued', reason: 'upstream_unavailable' } });
const failed = (messageId: string, error: RelayError): Settled => failedEntry(messageId, 'track', error);

const INVALID = new ValidationError('track needs an event name');
const REJECTED = new UpstreamRejectedError('Gainsight PX rejected POST /events/custom with 400', { details: { gainsightStatus: 400 } });
const THROTTLED = new RateLimitedError('Gainsight PX throttled POST /events/custom', { retryAfterSeconds: 7 });
const THROTTLED_NO_WAIT = new RateLimitedError('Gainsight PX throttled PUT /users/{id}');
const THROTTLED_FRACTION = new RateLimitedError('Gainsight PX throttled PUT /accounts/{id}', { retryAfterSeconds: 1.5 });
const DOWN = new UnavailableError('Gainsight PX answered 503 to POST /events/custom', { details: { gainsightStatus: 503 } });
const KEY_REFUSED = new KeyRefusedError("Gainsight PX refused the relay's API key (401 on PUT /users/{id})");
const REDIRECTED = new UnavailableError('Gainsight PX answered 302 (a redirect, not followed) to PUT /users/{id}', { code: 'gainsight_redirect' });
const PARKING_FAILED = new UnavailableError('SQS send failed', { code: 'queue_unavailable' });

/** The settled events, the status, the error that names the body (none for a 2xx), Retry-After, the route (POST /events). */
type Row = [label: string, settled: Settled[], status: number, decidedBy?: RelayError, retryAfter?: string, route?: EventsRoute];

const rows: Row[] = [
  // Nothing failed
  ['one delivered event → 200', [delivered('m-1')], 200],
  ['every event delivered → 200', [delivered('m-1'), delivered('m-2'), delivered('m-3')], 200],
  ['delivered and skipped → 200', [delivered('m-1'), skipped('m-2')], 200],
  ['one skipped event → 200', [skipped('m-1')], 200],
  ['a resend already delivered → 200', [duplicate('m-1')], 200],
  ['delivered and parked → 202', [delivered('m-1'), parked('m-2')], 202],
  ['delivered and parked on a route that parks with 200 → 200', [delivered('m-1'), parked('m-2')], 200, undefined, undefined, TRACKING],
  ['one parked event → 202', [parked('m-1')], 202],
  ['skipped, duplicate and parked → 202', [skipped('m-1'), duplicate('m-2'), parked('m-3')], 202],
  // One failure of each kind, alone
  ['one invalid event → 400', [failed('m-1', INVALID)], 400, INVALID],
  ['one event Gainsight rejected → 400', [failed('m-1', REJECTED)], 400, REJECTED],
  ['one throttled event → 429 with Retry-After', [failed('m-1', THROTTLED)], 429, THROTTLED, '7'],
  ['one throttled event without a known wait → 429 without Retry-After', [failed('m-1', THROTTLED_NO_WAIT)], 429, THROTTLED_NO_WAIT],
  ['one throttled event with a fractional wait → 429, Retry-After rounded up', [failed('m-1', THROTTLED_FRACTION)], 429, THROTTLED_FRACTION, '2'],
  ['one event Gainsight could not take → 503', [failed('m-1', DOWN)], 503, DOWN],
  ['one event refused for our API key → 503', [failed('m-1', KEY_REFUSED)], 503, KEY_REFUSED],
  ['one event answered with a redirect → 503', [failed('m-1', REDIRECTED)], 503, REDIRECTED],
  ['one event whose parking failed → 503', [failed('m-1', PARKING_FAILED)], 503, PARKING_FAILED],
  // Mixes: the most urgent outcome decides
  ['throttled and unavailable → 503, named by the unavailable one', [failed('m-1', THROTTLED), failed('m-2', DOWN)], 503, DOWN],
  ['unavailable and throttled → 503, whatever the order', [failed('m-1', DOWN), failed('m-2', THROTTLED)], 503, DOWN],
  ['invalid and unavailable → 503', [failed('m-1', INVALID), failed('m-2', DOWN)], 503, DOWN],
  ['rejected and refused for our key → 503', [failed('m-1', REJECTED), failed('m-2', KEY_REFUSED)], 503, KEY_REFUSED],
  ['invalid and throttled → 429 with Retry-After', [failed('m-1', INVALID), failed('m-2', THROTTLED)], 429, THROTTLED, '7'],
  ['invalid and parked → 400', [failed('m-1', INVALID), parked('m-2')], 400, INVALID],
  ['parked and throttled without parking → 429', [parked('m-1'), failed('m-2', THROTTLED)], 429, THROTTLED, '7'],
  ['parked and unavailable without parking → 503', [parked('m-1'), failed('m-2', DOWN)], 503, DOWN],
  ['delivered, rejected and parked → 400', [delivered('m-1'), failed('m-2', REJECTED), parked('m-3')], 400, REJECTED],
  ['invalid and rejected → 400, named by the first', [failed('m-1', INVALID), failed('m-2', REJECTED)], 400, INVALID],
  ['a resend already delivered and an unavailable event → 503', [duplicate('m-1'), failed('m-2', DOWN)], 503, DOWN],
  ['a resend already delivered and an invalid event → 400', [duplicate('m-1'), failed('m-2', INVALID)], 400, INVALID],
  ['several throttled events → 429, asking for the longest Retry-After', [failed('m-1', THROTTLED_FRACTION), failed('m-2', THROTTLED), failed('m-3', THROTTLED_NO_WAIT)], 429, THROTTLED, '7'],
  ['delivered, skipped and throttled on a route that parks with 200 → 429', [delivered('m-1'), skipped('m-2'), failed('m-3', THROTTLED_NO_WAIT)], 429, THROTTLED_NO_WAIT, undefined, TRACKING],
];

/** The body's message: the deciding error's, prefixed with the count of failures in a batch. */
const messageOf = (settled: readonly Settled[], decidedBy: RelayError): string => {
  const failures = settled.filter((item) => item.failure !== undefined).length;
  return settled.length === 1 ? decidedBy.message : `${failures} of ${settled.length} events failed: ${decidedBy.message}`;
};

const bodyOf = (response: HttpResponse): unknown => JSON.parse(response.body);

describe('answerEvents', () => {
  it.each(rows)('%s', (_label, settled, status, decidedBy, retryAfter, route = EVENTS) => {
    // Act
    const response = answerEvents(settled, route);
    // Assess
    const results = settled.map((item) => item.entry);
    expect(response.statusCode).toBe(status);
    expect(bodyOf(response)).toEqual(
      decidedBy === undefined ? { results } : { error: { code: decidedBy.code, message: messageOf(settled, decidedBy), details: { results } } },
    );
    if (retryAfter === undefined) expect(response.headers).not.toHaveProperty('retry-after');
    else expect(response.headers['retry-after']).toBe(retryAfter);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it("lists each failed event's own error in its result line", () => {
    // Act
    const response = answerEvents([delivered('m-1'), failed('m-2', REJECTED)], EVENTS);
    // Assess
    expect(bodyOf(response)).toMatchObject({
      error: {
        details: {
          results: [
            { messageId: 'm-1', status: 'delivered' },
            { messageId: 'm-2', type: 'track', status: 'failed', error: { code: 'gainsight_rejected', message: REJECTED.message, details: { gainsightStatus: 400 } } },
          ],
        },
      },
    });
  });
});

describe('answerError', () => {
  it.each([
    ['malformed JSON', new ValidationError('Request body is not valid JSON', { code: 'malformed_json' }), 400],
    ['a wrong secret', new AuthError('Wrong bearer secret'), 401],
    ['an unknown path', new RouteNotFoundError('No route for /nope'), 404],
    ['a body too large', new PayloadTooLargeError('Request body is larger than 512 KiB'), 413],
    ['a configuration error', new ConfigurationError('SSM parameter is missing or empty: /relay/prod/api-key'), 503],
    ['the relay unavailable', new UnavailableError('The relay is temporarily unavailable; try again later', { code: 'unavailable' }), 503],
  ])('answers %s with its status and error body', (_label, error, status) => {
    // Act
    const response = answerError(error);
    // Assess
    expect(response.statusCode).toBe(status);
    expect(bodyOf(response)).toEqual({ error: { code: error.code, message: error.message } });
    expect(response.headers).toEqual({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  });

  it('passes the details of a relay error on, never its cause', () => {
    // Prepare
    const cause = new Error('zod said: person@example.com is not a string');
    const error = new ValidationError('Invalid event', { details: { issues: [{ field: 'userId', message: 'required' }] }, cause });
    // Act
    const response = answerError(error);
    // Assess
    expect(bodyOf(response)).toEqual({ error: { code: 'invalid_event', message: 'Invalid event', details: { issues: [{ field: 'userId', message: 'required' }] } } });
    expect(response.body).not.toContain('person@example.com');
  });

  it('tells a throttled sender when to come back', () => {
    // Act
    const response = answerError(THROTTLED);
    // Assess
    expect(response.statusCode).toBe(429);
    expect(response.headers['retry-after']).toBe('7');
  });

  it.each([
    [['POST'], 'POST'],
    [['GET', 'POST'], 'GET, POST'],
  ])('answers a wrong method 405 with Allow: %j', (allow, header) => {
    // Act
    const response = answerError(new MethodNotAllowedError('/events accepts POST', allow));
    // Assess
    expect(response.statusCode).toBe(405);
    expect(response.headers.allow).toBe(header);
    expect(bodyOf(response)).toEqual({ error: { code: 'method_not_allowed', message: '/events accepts POST' } });
  });

  it("answers middy's timeout 503 timeout, a status the sender retries", () => {
    // Prepare
    const timeout = new Error('[AbortError]: The operation was aborted.');
    timeout.name = 'TimeoutError';
    // Act
    const response = answerError(timeout);
    // Assess
    expect(response.statusCode).toBe(503);
    expect(bodyOf(response)).toEqual({ error: { code: 'timeout', message: 'The relay ran out of time' } });
  });

  it.each([
    ['an Error', new TypeError("Cannot read properties of undefined (reading 'x')")],
    ['a thrown string', 'boom'],
    ['an object that looks like a relay error', { statusCode: 400, code: 'invalid_event', message: 'looks known' }],
    ['undefined', undefined],
  ])('answers %s with a generic 500 and no stack', (_label, error) => {
    // Act
    const response = answerError(error);
    // Assess
    expect(response.statusCode).toBe(500);
    expect(response.body).toBe('{"error":{"code":"internal","message":"Unexpected error"}}');
    expect(response.headers).toEqual({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  });
});
