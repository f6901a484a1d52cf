import { describe, expect, it, vi } from 'vitest';
import { UnavailableError } from '../../src/errors.ts';
import { GainsightClient } from '../../src/gainsight/client.ts';
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

  it('asks fetch never to follow a redirect', async () => {
    // Prepare
    const { fetch, calls } = makeFetch();
    const client = new GainsightClient({ baseUrl: BASE_URL, apiKey: API_KEY, fetch });
    // Act
    await client.send(makeRequest(), new AbortController().signal);
    // Assess
    expect(calls[0]?.init.redirect).toBe('manual');
  });

  it('returns a redirect as it came, with one call and no request to the Location', async () => {
    // Prepare
    const location = 'https://attacker.example/v1/users/alice';
    const { fetch, calls } = makeFetch(() => new Response(null, { status: 307, headers: { Location: location } }));
    const client = new GainsightClient({ baseUrl: BASE_URL, apiKey: API_KEY, fetch });
    // Act
    const response = await client.send(makeRequest(), new AbortController().signal);
    // Assess
    expect(response.status).toBe(307);
    expect(response.headers.get('location')).toBe(location);
    expect(calls.map((call) => call.url)).toEqual([`${BASE_URL}/users/alice%40example.com`]);
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
