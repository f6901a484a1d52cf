import { afterEach, describe, expect, it, vi } from 'vitest';
import { RateLimitedError, UnavailableError, UpstreamRejectedError } from '../../src/errors.ts';
import {
  GainsightClient,
  type GainsightResponse,
  classifyFailure,
  gainsightMessage,
  resourceOf,
} from '../../src/gainsight/client.ts';
import type { GainsightRequest } from '../../src/gainsight/types.ts';

const BASE_URL = 'https://api.aptrinsic.com/v1';
const API_KEY = 'px-api-key-VALUE-0001';
const USER_ID = 'alice@example.com';

const makeRequest = (overrides: Partial<GainsightRequest> = {}): GainsightRequest => ({
  method: 'PUT',
  path: `/users/${encodeURIComponent(USER_ID)}`,
  body: { email: USER_ID, propertyKeys: ['AP-TEST-1'] },
  ...overrides,
});

const makeResponse = (status: number, body: unknown = undefined, headers: Record<string, string> = {}): GainsightResponse => ({
  status,
  body,
  headers: new Headers(headers),
});

/** A fake fetch that records each call and answers with `answer()`. */
const makeFetch = (answer: () => Promise<Response> | Response = () => new Response(null, { status: 204 })) => {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetch = vi.fn(async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(input), init: init ?? {} });
    return answer();
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls };
};

const headersOf = (init: RequestInit): Record<string, string> => init.headers as Record<string, string>;

afterEach(() => {
  vi.useRealTimers();
});

describe('classifyFailure', () => {
  it.each([400, 404, 409, 422])('treats %s as a final rejection (400, not retryable)', (status) => {
    // Act
    const error = classifyFailure(makeRequest(), makeResponse(status));
    // Assess
    expect(error).toBeInstanceOf(UpstreamRejectedError);
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('gainsight_rejected');
    expect(error.retryable).toBe(false);
    expect(error.details).toEqual({ gainsightStatus: status });
  });

  it.each([401, 403])('treats %s as our key being refused (503, retryable)', (status) => {
    // Act
    const error = classifyFailure(makeRequest(), makeResponse(status));
    // Assess
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.statusCode).toBe(503);
    expect(error.code).toBe('gainsight_auth');
    expect(error.retryable).toBe(true);
  });

  it('treats 429 as throttling, reading Retry-After in seconds', () => {
    // Act
    const error = classifyFailure(makeRequest(), makeResponse(429, undefined, { 'Retry-After': '7' }));
    // Assess
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error.statusCode).toBe(429);
    expect(error.retryable).toBe(true);
    expect((error as RateLimitedError).retryAfterSeconds).toBe(7);
  });

  it('reads Retry-After given as an HTTP date', () => {
    // Prepare
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2024-01-02T03:04:05.000Z'));
    const headers = { 'Retry-After': 'Tue, 02 Jan 2024 03:04:35 GMT' };
    // Act
    const error = classifyFailure(makeRequest(), makeResponse(429, undefined, headers));
    // Assess
    expect((error as RateLimitedError).retryAfterSeconds).toBe(30);
  });

  it.each(['-5', 'soon', '   '])('leaves retryAfterSeconds unset for Retry-After %j', (value) => {
    // Act
    const error = classifyFailure(makeRequest(), makeResponse(429, undefined, { 'Retry-After': value }));
    // Assess
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterSeconds).toBeUndefined();
  });

  it('reads a Retry-After date in the past as 0 seconds', () => {
    // Prepare
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2024-01-02T03:04:05.000Z'));
    // Act
    const error = classifyFailure(makeRequest(), makeResponse(429, undefined, { 'Retry-After': 'Mon, 01 Jan 2024 00:00:00 GMT' }));
    // Assess
    expect((error as RateLimitedError).retryAfterSeconds).toBe(0);
  });

  it('leaves retryAfterSeconds unset without a Retry-After header', () => {
    // Act
    const error = classifyFailure(makeRequest(), makeResponse(429));
    // Assess
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterSeconds).toBeUndefined();
  });

  it.each([408, 500, 502, 503, 504])('treats %s as Gainsight unavailable (503, retryable)', (status) => {
    // Act
    const error = classifyFailure(makeRequest(), makeResponse(status));
    // Assess
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.statusCode).toBe(503);
    expect(error.retryable).toBe(true);
    expect(error.code).not.toBe('gainsight_auth');
  });

  it("passes Gainsight's message on in the details and the message of a rejection", () => {
    // Prepare
    const body = { externalapierror: { status: 'BAD_REQUEST', subErrors: [{ message: 'Invalid email format' }] } };
    // Act
    const error = classifyFailure(makeRequest({ method: 'POST', path: '/users' }), makeResponse(400, body));
    // Assess
    expect(error.details).toEqual({ gainsightStatus: 400, gainsightMessage: 'Invalid email format' });
    expect(error.message).toContain('Invalid email format');
    expect(error.message).toContain('POST /users');
  });

  it.each([400, 401, 429, 503])('names the call but not the user id for %s', (status) => {
    // Act
    const error = classifyFailure(makeRequest(), makeResponse(status));
    // Assess
    expect(error.message).toContain('PUT /users/{id}');
    expect(error.message).not.toContain('alice');
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

describe('GainsightClient.send', () => {
  it('sends the API key, JSON content type and the encoded body to the base URL + path', async () => {
    // Prepare
    const { fetch, calls } = makeFetch(() => new Response('{"identifyId":"alice"}', { status: 200 }));
    const client = new GainsightClient({ baseUrl: BASE_URL, apiKey: API_KEY, fetch });
    const request = makeRequest();
    // Act
    await client.send(request, new AbortController().signal);
    // Assess
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call?.url).toBe(`${BASE_URL}/users/alice%40example.com`);
    expect(call?.init.method).toBe('PUT');
    expect(headersOf(call!.init)['X-APTRINSIC-API-KEY']).toBe(API_KEY);
    expect(headersOf(call!.init)['Content-Type']).toBe('application/json');
    expect(call?.init.body).toBe(JSON.stringify(request.body));
  });

  it('sends request.json as the body when present', async () => {
    // Prepare
    const { fetch, calls } = makeFetch();
    const client = new GainsightClient({ baseUrl: BASE_URL, apiKey: API_KEY, fetch });
    const json = '{"eventName":"Pre-encoded","attributes":{}}';
    // Act
    await client.send(makeRequest({ method: 'POST', path: '/events/custom', body: { other: true }, json }), new AbortController().signal);
    // Assess
    expect(calls[0]?.init.body).toBe(json);
  });

  it('sends no body and no Content-Type for a request without a body', async () => {
    // Prepare
    const { fetch, calls } = makeFetch();
    const client = new GainsightClient({ baseUrl: BASE_URL, apiKey: API_KEY, fetch });
    // Act
    await client.send({ method: 'GET', path: '/users/u-1' }, new AbortController().signal);
    // Assess
    const init = calls[0]!.init;
    expect(init.method).toBe('GET');
    expect(init.body).toBeUndefined();
    expect(headersOf(init)['X-APTRINSIC-API-KEY']).toBe(API_KEY);
    expect(Object.keys(headersOf(init)).map((name) => name.toLowerCase())).not.toContain('content-type');
  });

  it('passes the abort signal on', async () => {
    // Prepare
    const { fetch, calls } = makeFetch();
    const client = new GainsightClient({ baseUrl: BASE_URL, apiKey: API_KEY, fetch });
    const signal = new AbortController().signal;
    // Act
    await client.send(makeRequest(), signal);
    // Assess
    expect(calls[0]?.init.signal).toBe(signal);
  });

  it('returns the status and the parsed JSON body', async () => {
    // Prepare
    const { fetch } = makeFetch(() => new Response('{"externalapierror":{"status":"NOT_FOUND"}}', { status: 404 }));
    const client = new GainsightClient({ baseUrl: BASE_URL, apiKey: API_KEY, fetch });
    // Act
    const response = await client.send(makeRequest(), new AbortController().signal);
    // Assess
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ externalapierror: { status: 'NOT_FOUND' } });
  });

  it('returns a body that is not JSON as text', async () => {
    // Prepare
    const { fetch } = makeFetch(() => new Response('<h1>Bad Gateway</h1>', { status: 502 }));
    const client = new GainsightClient({ baseUrl: BASE_URL, apiKey: API_KEY, fetch });
    // Act
    const response = await client.send(makeRequest(), new AbortController().signal);
    // Assess
    expect(response.status).toBe(502);
    expect(response.body).toBe('<h1>Bad Gateway</h1>');
  });

  it('returns an empty body as undefined', async () => {
    // Prepare
    const { fetch } = makeFetch(() => new Response(null, { status: 204 }));
    const client = new GainsightClient({ baseUrl: BASE_URL, apiKey: API_KEY, fetch });
    // Act
    const response = await client.send(makeRequest(), new AbortController().signal);
    // Assess
    expect(response.status).toBe(204);
    expect(response.body).toBeUndefined();
  });

  it('turns a failed connection into a retryable gainsight_unreachable', async () => {
    // Prepare
    const cause = new TypeError('fetch failed');
    const { fetch } = makeFetch(() => Promise.reject(cause));
    const client = new GainsightClient({ baseUrl: BASE_URL, apiKey: API_KEY, fetch });
    // Act
    const error = await client.send(makeRequest(), new AbortController().signal).catch((caught: unknown) => caught);
    // Assess
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as UnavailableError).code).toBe('gainsight_unreachable');
    expect((error as UnavailableError).statusCode).toBe(503);
    expect((error as UnavailableError).retryable).toBe(true);
    expect((error as UnavailableError).cause).toBe(cause);
    expect((error as UnavailableError).message).not.toContain('alice');
    expect((error as UnavailableError).message).not.toContain(API_KEY);
  });

  it('turns an AbortSignal timeout into a retryable gainsight_timeout', async () => {
    // Prepare: a fetch that never answers, rejecting as fetch does when its signal fires
    const calls: RequestInit[] = [];
    const fetch = ((_input: string | URL | Request, init?: RequestInit) => {
      calls.push(init ?? {});
      return new Promise<Response>((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });
    }) as typeof globalThis.fetch;
    const client = new GainsightClient({ baseUrl: BASE_URL, apiKey: API_KEY, fetch });
    // Act
    const error = await client.send(makeRequest(), AbortSignal.timeout(5)).catch((caught: unknown) => caught);
    // Assess
    expect(calls).toHaveLength(1);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as UnavailableError).code).toBe('gainsight_timeout');
    expect((error as UnavailableError).retryable).toBe(true);
    expect((error as UnavailableError).message).toContain('PUT /users/{id}');
  });

  it('does not expose the API key as a property', () => {
    // Prepare
    const client = new GainsightClient({ baseUrl: BASE_URL, apiKey: API_KEY, fetch: makeFetch().fetch });
    // Act
    const visible = JSON.stringify(client);
    // Assess
    expect(visible).not.toContain(API_KEY);
    expect(client.hasKey(API_KEY)).toBe(true);
    expect(client.hasKey('other')).toBe(false);
  });
});
