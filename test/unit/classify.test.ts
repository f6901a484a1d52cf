import { afterEach, describe, expect, it, vi } from 'vitest';
import { KeyRefusedError, RateLimitedError, UnavailableError, UpstreamRejectedError } from '../../src/errors.ts';
import {
  type GainsightResponse,
  type Verdict,
  classify,
  gainsightMessage,
  resourceOf,
  retryAfterSeconds,
} from '../../src/gainsight/classify.ts';
import type { GainsightRequest } from '../../src/gainsight/types.ts';

const USER_ID = 'alice@example.com';
const NOW = Date.parse('2024-01-02T03:04:05.000Z');

const makeRequest = (overrides: Partial<GainsightRequest> = {}): GainsightRequest => ({
  method: 'PUT',
  path: `/users/${encodeURIComponent(USER_ID)}`,
  body: { email: USER_ID, propertyKeys: ['AP-TEST-1'] },
  ...overrides,
});

const makeResponse = (status: number, body: unknown = undefined, headers: Record<string, string> = {}): GainsightResponse => ({
  status,
  body,
  headers,
});

/** The error of a verdict that must not be a success. */
const errorOf = (verdict: Verdict) => {
  if (verdict.next === 'success') throw new Error('expected a failed verdict');
  return verdict.error;
};

afterEach(() => {
  vi.useRealTimers();
});

describe('classify: answers', () => {
  it.each([200, 201, 202, 204, 299])('calls %i a success', (status) => {
    // Act
    const verdict = classify(makeRequest(), makeResponse(status));
    // Assess
    expect(verdict).toEqual({ next: 'success' });
  });

  it.each([
    ...[301, 302, 303, 307, 308].map((status) => [status, 'retry-later', 'gainsight_redirect', 503, true, UnavailableError] as const),
    ...[401, 403].map((status) => [status, 'retry-later', 'gainsight_auth', 503, true, KeyRefusedError] as const),
    [429, 'retry-now', 'gainsight_rate_limited', 429, true, RateLimitedError] as const,
    ...[408, 500, 502, 503, 504].map((status) => [status, 'retry-now', 'upstream_unavailable', 503, true, UnavailableError] as const),
    ...[400, 404, 405, 409, 410, 422].map((status) => [status, 'rejected', 'gainsight_rejected', 400, false, UpstreamRejectedError] as const),
  ])('calls %i %s (code %s, status %i to the sender, retryable %s)', (status, next, code, statusCode, retryable, type) => {
    // Act
    const verdict = classify(makeRequest(), makeResponse(status));
    // Assess
    expect(verdict.next).toBe(next);
    expect(verdict).not.toHaveProperty('retryAfterMs');
    const error = errorOf(verdict);
    expect(error).toBeInstanceOf(type);
    expect(error.code).toBe(code);
    expect(error.statusCode).toBe(statusCode);
    expect(error.retryable).toBe(retryable);
    expect(error.details).toEqual({ gainsightStatus: status });
  });

  it('never names the host a redirect points to', () => {
    // Act
    const error = errorOf(classify(makeRequest(), makeResponse(302, undefined, { Location: 'https://elsewhere.example/v1' })));
    // Assess
    expect(error.message).not.toContain('elsewhere.example');
  });

  it('calls 429 throttling to retry now, waiting what Retry-After asks', () => {
    // Act
    const verdict = classify(makeRequest(), makeResponse(429, undefined, { 'retry-after': '7' }));
    // Assess
    expect(verdict).toMatchObject({ next: 'retry-now', retryAfterMs: 7000 });
    expect((errorOf(verdict) as RateLimitedError).retryAfterSeconds).toBe(7);
  });

  it('reads a Retry-After HTTP date of a 429 against the clock', () => {
    // Prepare
    vi.useFakeTimers();
    vi.setSystemTime(NOW);
    // Act
    const verdict = classify(makeRequest(), makeResponse(429, undefined, { 'retry-after': 'Tue, 02 Jan 2024 03:04:35 GMT' }));
    // Assess
    expect(verdict).toMatchObject({ next: 'retry-now', retryAfterMs: 30_000 });
    expect((errorOf(verdict) as RateLimitedError).retryAfterSeconds).toBe(30);
  });

  it('leaves the wait of a 429 without Retry-After to the retry policy', () => {
    // Act
    const verdict = classify(makeRequest(), makeResponse(429));
    // Assess
    expect(verdict.next).toBe('retry-now');
    expect(verdict).not.toHaveProperty('retryAfterMs');
    expect((errorOf(verdict) as RateLimitedError).retryAfterSeconds).toBeUndefined();
  });

  it.each([408, 503])('honours Retry-After on %i', (status) => {
    // Act
    const verdict = classify(makeRequest(), makeResponse(status, undefined, { 'retry-after': '2' }));
    // Assess
    expect(verdict).toMatchObject({ next: 'retry-now', retryAfterMs: 2000 });
  });

  it("passes Gainsight's message on to the sender in a rejection, but not to the logs", () => {
    // Prepare
    const body = { externalapierror: { status: 'BAD_REQUEST', subErrors: [{ message: 'Invalid email alice@example.com' }] } };
    // Act
    const error = errorOf(classify(makeRequest({ method: 'POST', path: '/users' }), makeResponse(400, body)));
    // Assess
    expect(error.details).toEqual({ gainsightStatus: 400, gainsightMessage: 'Invalid email alice@example.com' });
    expect(error.message).toBe('Gainsight PX rejected POST /users with 400: Invalid email alice@example.com');
    expect(error.logReason).toBe('Gainsight PX rejected POST /users with 400');
  });

  it.each([301, 400, 401, 429, 503])('names the call but not the user id for %i', (status) => {
    // Act
    const error = errorOf(classify(makeRequest(), makeResponse(status)));
    // Assess
    expect(error.message).toContain('PUT /users/{id}');
    expect(error.message).not.toContain('alice');
  });
});

describe('classify: no answer', () => {
  it('calls a relay error thrown by the transport (timeout, connection) retry-now, keeping the error', () => {
    // Prepare
    const thrown = new UnavailableError('Gainsight PX could not be reached', { code: 'gainsight_unreachable' });
    // Act
    const verdict = classify(makeRequest(), thrown);
    // Assess
    expect(verdict).toEqual({ next: 'retry-now', error: thrown });
  });

  it('rethrows anything else the transport threw: a bug is not a Gainsight answer', () => {
    // Prepare
    const bug = new TypeError('cannot read properties of undefined');
    // Act
    const act = () => classify(makeRequest(), bug);
    // Assess
    expect(act).toThrow(bug);
  });
});

describe('retryAfterSeconds', () => {
  it.each([
    ['seconds', '7', 7],
    ['zero seconds', '0', 0],
    ['an HTTP date in the future', 'Tue, 02 Jan 2024 03:04:35 GMT', 30],
    ['an HTTP date in the past, as 0 seconds', 'Mon, 01 Jan 2024 00:00:00 GMT', 0],
  ])('reads %s', (_label, value, expected) => {
    // Act
    const seconds = retryAfterSeconds({ 'retry-after': value }, NOW);
    // Assess
    expect(seconds).toBe(expected);
  });

  it.each(['-5', 'soon', '   '])('reads no wait from %j', (value) => {
    // Act
    const seconds = retryAfterSeconds({ 'retry-after': value }, NOW);
    // Assess
    expect(seconds).toBeUndefined();
  });

  it('reads no wait without the header', () => {
    // Act
    const seconds = retryAfterSeconds({}, NOW);
    // Assess
    expect(seconds).toBeUndefined();
  });
});

describe('gainsightMessage', () => {
  it.each([
    [
      'the first sub-error',
      { externalapierror: { status: 'BAD_REQUEST', message: 'outer', subErrors: [{ message: 'first' }, { message: 'second' }] } },
      'first',
    ],
    ['the externalapierror message', { externalapierror: { status: 'NOT_FOUND', message: 'User not found' } }, 'User not found'],
    ['the externalapierror status', { externalapierror: { status: 'BAD_REQUEST' } }, 'BAD_REQUEST'],
    ['an errorMessage', { errorMessage: 'Quota exceeded' }, 'Quota exceeded'],
    ['a message', { message: 'Something broke' }, 'Something broke'],
    ['plain text', 'Service Unavailable', 'Service Unavailable'],
  ])('reads %s', (_label, body, expected) => {
    // Act
    const message = gainsightMessage(body);
    // Assess
    expect(message).toBe(expected);
  });

  it('falls back to the outer message when there are no sub-errors', () => {
    // Act
    const message = gainsightMessage({ externalapierror: { status: 'BAD_REQUEST', message: 'outer', subErrors: [] } });
    // Assess
    expect(message).toBe('outer');
  });

  it('strips HTML tags, including script and style contents', () => {
    // Prepare
    const html =
      '<html><head><title>502</title><style>body { color: red; }</style>' +
      '<script type="text/javascript">var secret = "x";</script></head>' +
      '<body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>';
    // Act
    const message = gainsightMessage(html);
    // Assess
    expect(message).toBe('502 502 Bad Gateway nginx');
  });

  it('drops script contents whatever the tag case', () => {
    // Act
    const message = gainsightMessage('<SCRIPT>steal()</script><Style>p{}</STYLE><P>Gateway Timeout</P>');
    // Assess
    expect(message).toBe('Gateway Timeout');
  });

  it('collapses whitespace', () => {
    // Act
    const message = gainsightMessage({ message: '  Invalid\n\n   attribute\t name  ' });
    // Assess
    expect(message).toBe('Invalid attribute name');
  });

  it('truncates long text to 300 characters and marks the cut', () => {
    // Prepare
    const long = 'a'.repeat(1000);
    // Act
    const message = gainsightMessage(long);
    // Assess
    expect(message).toBe(`${'a'.repeat(300)}…`);
  });

  it('keeps text of exactly 300 characters whole', () => {
    // Act
    const message = gainsightMessage('b'.repeat(300));
    // Assess
    expect(message).toBe('b'.repeat(300));
  });

  it.each([
    ['no body', undefined],
    ['an empty text', ''],
    ['only tags', '<br/><hr>'],
    ['a number', 500],
    ['an object without a message', { code: 17 }],
    ['a non-text message', { message: { nested: true } }],
  ])('finds no message in %s', (_label, body) => {
    // Act
    const message = gainsightMessage(body);
    // Assess
    expect(message).toBeUndefined();
  });
});

describe('resourceOf', () => {
  it.each([
    ['/users/alice%40example.com', '/users/{id}'],
    ['/users/user-1', '/users/{id}'],
    ['/users/12345', '/users/{id}'],
    ['/users/a%2Fb', '/users/{id}'],
    ['/users/events', '/users/{id}'],
    ['/accounts/ECorp', '/accounts/{id}'],
    ['/users', '/users'],
    ['/accounts', '/accounts'],
    ['/events/custom', '/events/custom'],
  ])('describes %s as %s', (path, expected) => {
    // Act
    const resource = resourceOf(path);
    // Assess
    expect(resource).toBe(expected);
  });
});
