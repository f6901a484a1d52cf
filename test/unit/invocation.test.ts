import { describe, expect, it } from 'vitest';
import { MethodNotAllowedError, RouteNotFoundError } from '../../src/errors.ts';
import { UnknownInvocationError, classifyInvocation } from '../../src/http/invocation.ts';
import { DEEP_HEALTH, HEALTH, ROUTES, isEventsRoute } from '../../src/http/routes.ts';

type Overrides = Record<string, unknown>;

/** An API Gateway HTTP API (payload 2.0) event for `method path`. */
const makeHttpApiEvent = (
  method: string,
  path: string,
  overrides: Overrides = {},
  stage = '$default',
): Record<string, unknown> => ({
  version: '2.0',
  routeKey: '$default',
  rawPath: path,
  rawQueryString: '',
  headers: { 'Content-Type': 'application/json', Authorization: 'Bearer token-1' },
  requestContext: {
    accountId: '123456789012',
    apiId: 'api-1',
    stage,
    http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.1', userAgent: 'test' },
  },
  body: '{"type":"identify","userId":"user-1"}',
  isBase64Encoded: false,
  ...overrides,
});

/** An API Gateway REST API (v1 proxy) event for `method path`. */
const makeRestApiEvent = (method: string, path: string, overrides: Overrides = {}, stage = 'prod'): Record<string, unknown> => ({
  resource: '/{proxy+}',
  path,
  httpMethod: method,
  headers: { 'Content-Type': 'application/json', Authorization: 'Bearer token-1' },
  multiValueHeaders: {},
  queryStringParameters: null,
  requestContext: { accountId: '123456789012', stage, httpMethod: method, path: `/${stage}${path}` },
  body: '{"type":"identify","userId":"user-1"}',
  isBase64Encoded: false,
  ...overrides,
});

const makeScheduledEvent = (overrides: Overrides = {}): Record<string, unknown> => ({
  version: '0',
  id: 'schedule-1',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: '2024-01-02T03:04:05Z',
  region: 'eu-west-1',
  resources: ['arn:aws:events:eu-west-1:123456789012:rule/housekeeping'],
  detail: {},
  ...overrides,
});

/** Runs classifyInvocation and returns the error it must throw. */
const errorOf = (event: unknown): unknown => {
  try {
    classifyInvocation(event);
  } catch (error) {
    return error;
  }
  throw new Error('expected classifyInvocation to throw');
};

describe('classifyInvocation: HTTP API payload 2.0', () => {
  it('routes POST /events with its body and lowercased headers', () => {
    // Act
    const invocation = classifyInvocation(makeHttpApiEvent('POST', '/events'));
    // Assess
    expect(invocation).toEqual({
      kind: 'http',
      route: ROUTES.get('/events'),
      http: {
        method: 'POST',
        path: '/events',
        headers: { 'content-type': 'application/json', authorization: 'Bearer token-1' },
        body: '{"type":"identify","userId":"user-1"}',
        isBase64Encoded: false,
        query: {},
      },
    });
  });

  it('routes GET /health', () => {
    // Act
    const invocation = classifyInvocation(makeHttpApiEvent('GET', '/health', { body: undefined }));
    // Assess
    expect(invocation).toMatchObject({ kind: 'http', route: { name: 'health' }, http: { method: 'GET', body: undefined } });
  });

  it('passes the base64 flag on', () => {
    // Act
    const invocation = classifyInvocation(makeHttpApiEvent('POST', '/events', { isBase64Encoded: true, body: 'e30=' }));
    // Assess
    expect(invocation).toMatchObject({ kind: 'http', http: { isBase64Encoded: true, body: 'e30=' } });
  });

  it('uses requestContext.http.path when rawPath is absent', () => {
    // Act
    const invocation = classifyInvocation(makeHttpApiEvent('POST', '/events', { rawPath: undefined }));
    // Assess
    expect(invocation).toMatchObject({ kind: 'http', route: { name: 'events' } });
  });

  it('strips a named stage prefix', () => {
    // Act
    const invocation = classifyInvocation(makeHttpApiEvent('POST', '/prod/events', {}, 'prod'));
    // Assess
    expect(invocation).toMatchObject({ kind: 'http', route: { name: 'events' }, http: { path: '/events' } });
  });

  it('matches the method whatever its case', () => {
    // Act
    const invocation = classifyInvocation(makeHttpApiEvent('post', '/events'));
    // Assess
    expect(invocation).toMatchObject({ kind: 'http', http: { method: 'POST' } });
  });
});

describe('classifyInvocation: REST API v1 proxy', () => {
  it('routes POST /events', () => {
    // Act
    const invocation = classifyInvocation(makeRestApiEvent('POST', '/events'));
    // Assess
    expect(invocation).toEqual({
      kind: 'http',
      route: ROUTES.get('/events'),
      http: {
        method: 'POST',
        path: '/events',
        headers: { 'content-type': 'application/json', authorization: 'Bearer token-1' },
        body: '{"type":"identify","userId":"user-1"}',
        isBase64Encoded: false,
        query: {},
      },
    });
  });

  it('reads the query string of HTTP API and REST events, and routes GET /health?deep=1 to the deep health policy', () => {
    // Act
    const httpApi = classifyInvocation({ ...makeHttpApiEvent('GET', '/health', { body: undefined }), rawQueryString: 'deep=1&x=y' });
    const rest = classifyInvocation({ ...makeRestApiEvent('GET', '/health'), queryStringParameters: { deep: 'true' } });
    const shallow = classifyInvocation(makeHttpApiEvent('GET', '/health', { body: undefined }));
    const notDeep = classifyInvocation({ ...makeHttpApiEvent('GET', '/health', { body: undefined }), rawQueryString: 'deep=0' });
    // Assess
    const deepHealth = { name: 'deep-health', methods: ['GET'], credentials: 'webhook-secret' };
    const health = { name: 'health', methods: ['GET'], credentials: 'none' };
    expect(httpApi).toMatchObject({ kind: 'http', http: { query: { deep: '1', x: 'y' } } });
    expect(httpApi).toHaveProperty('route', deepHealth);
    expect(rest).toHaveProperty('route', deepHealth);
    expect(shallow).toHaveProperty('route', health);
    expect(notDeep).toHaveProperty('route', health);
    for (const invocation of [httpApi, rest, shallow, notDeep]) expect(invocation).not.toHaveProperty('deep');
  });

  it('strips the stage prefix from the path', () => {
    // Act
    const invocation = classifyInvocation(makeRestApiEvent('GET', '/dev/health', {}, 'dev'));
    // Assess
    expect(invocation).toMatchObject({ kind: 'http', route: { name: 'health' }, http: { path: '/health' } });
  });

  it('reads a null body as no body', () => {
    // Act
    const invocation = classifyInvocation(makeRestApiEvent('GET', '/health', { body: null }));
    // Assess
    expect(invocation).toMatchObject({ kind: 'http', http: { body: undefined } });
  });

  it('keeps only text headers', () => {
    // Act
    const invocation = classifyInvocation(makeRestApiEvent('POST', '/events', { headers: { 'X-Count': 3, 'X-Name': 'a' } }));
    // Assess
    expect(invocation).toMatchObject({ kind: 'http', http: { headers: { 'x-name': 'a' } } });
    expect(invocation.kind === 'http' && Object.keys(invocation.http.headers)).toEqual(['x-name']);
  });
});

describe('classifyInvocation: paths', () => {
  it.each(['/events/', '/events//'])('ignores the trailing slashes of %s', (path) => {
    // Act
    const invocation = classifyInvocation(makeHttpApiEvent('POST', path));
    // Assess
    expect(invocation).toMatchObject({ kind: 'http', route: { name: 'events' }, http: { path: '/events' } });
  });

  it('ignores a trailing slash after a stage prefix', () => {
    // Act
    const invocation = classifyInvocation(makeRestApiEvent('GET', '/prod/health/', {}, 'prod'));
    // Assess
    expect(invocation).toMatchObject({ kind: 'http', route: { name: 'health' } });
  });

  it.each([
    ['an unknown path', '/nope'],
    ['the root', '/'],
    ['a sub-path of a route', '/events/extra'],
    ['a route in another case', '/Events'],
  ])('answers 404 for %s', (_label, path) => {
    // Act
    const error = errorOf(makeHttpApiEvent('POST', path));
    // Assess
    expect(error).toBeInstanceOf(RouteNotFoundError);
    expect(error).not.toBeInstanceOf(UnknownInvocationError);
    expect((error as RouteNotFoundError).statusCode).toBe(404);
  });

  it('does not strip a prefix that is not the stage', () => {
    // Act
    const error = errorOf(makeRestApiEvent('POST', '/staging/events', {}, 'prod'));
    // Assess
    expect(error).toBeInstanceOf(RouteNotFoundError);
  });
});

describe('classifyInvocation: route policies', () => {
  it('opens POST /events with the webhook secret, refusing a request with an invalid event and parking with 202', () => {
    // Act
    const invocation = classifyInvocation(makeHttpApiEvent('POST', '/events'));
    // Assess
    expect(invocation).toMatchObject({
      kind: 'http',
      route: {
        name: 'events',
        credentials: 'webhook-secret',
        body: { kind: 'events' },
        invalidEvents: 'reject-request',
        parkedStatus: 202,
        skewCorrected: false,
      },
    });
  });

  it('opens GET /health to anyone, with no body to read', () => {
    // Act
    const invocation = classifyInvocation(makeHttpApiEvent('GET', '/health', { body: undefined }));
    // Assess
    expect(invocation).toMatchObject({ kind: 'http' });
    expect(invocation).toHaveProperty('route', { name: 'health', methods: ['GET'], credentials: 'none' });
    expect(invocation.kind === 'http' && invocation.route).toBe(HEALTH);
  });

  it('opens GET /health?deep=1 with the webhook secret only, with no body to read', () => {
    // Act
    const invocation = classifyInvocation({ ...makeHttpApiEvent('GET', '/health', { body: undefined }), rawQueryString: 'deep=1' });
    // Assess
    expect(invocation).toHaveProperty('route', { name: 'deep-health', methods: ['GET'], credentials: 'webhook-secret' });
    expect(invocation.kind === 'http' && invocation.route).toBe(DEEP_HEALTH);
  });

  it('tells the routes that take events from the health routes', () => {
    // Act
    const takesEvents = [...ROUTES.entries()].map(([path, route]) => [path, isEventsRoute(route)]);
    // Assess
    expect(takesEvents).toEqual([
      ['/events', true],
      ['/health', false],
      ['/v1/batch', true],
      ['/v1/identify', true],
      ['/v1/track', true],
      ['/v1/group', true],
      ['/v1/page', true],
      ['/v1/screen', true],
      ['/v1/alias', true],
    ]);
    expect(isEventsRoute(DEEP_HEALTH)).toBe(false);
  });

  it.each(['batch', 'identify', 'track', 'group', 'page', 'screen', 'alias'])(
    'opens POST /v1/%s with a write key, rejecting invalid events one by one and parking with 200',
    (call) => {
      // Act
      const invocation = classifyInvocation(makeHttpApiEvent('POST', `/v1/${call}`));
      // Assess
      expect(invocation).toMatchObject({
        kind: 'http',
        http: { path: `/v1/${call}` },
        route: {
          name: 'tracking',
          credentials: 'write-key',
          body: { kind: 'tracking', call },
          invalidEvents: 'reject-event',
          parkedStatus: 200,
          skewCorrected: true,
        },
      });
    },
  );

  it('answers 405 to GET on a tracking-API path', () => {
    // Act
    const error = errorOf(makeHttpApiEvent('GET', '/v1/batch'));
    // Assess
    expect(error).toBeInstanceOf(MethodNotAllowedError);
    expect((error as MethodNotAllowedError).allow).toEqual(['POST']);
  });
});

describe('classifyInvocation: methods', () => {
  it.each([
    ['GET', '/events', ['POST']],
    ['PUT', '/events', ['POST']],
    ['POST', '/health', ['GET']],
    ['DELETE', '/health', ['GET']],
  ])('answers 405 to %s %s, allowing %j', (method, path, allow) => {
    // Act
    const error = errorOf(makeHttpApiEvent(method, path));
    // Assess
    expect(error).toBeInstanceOf(MethodNotAllowedError);
    expect((error as MethodNotAllowedError).statusCode).toBe(405);
    expect((error as MethodNotAllowedError).allow).toEqual(allow);
  });

  it('answers 405 on the REST API too', () => {
    // Act
    const error = errorOf(makeRestApiEvent('GET', '/prod/events', {}, 'prod'));
    // Assess
    expect((error as MethodNotAllowedError).allow).toEqual(['POST']);
  });
});

describe('classifyInvocation: other invocations', () => {
  it('recognises an EventBridge schedule', () => {
    // Act
    const invocation = classifyInvocation(makeScheduledEvent());
    // Assess
    expect(invocation).toEqual({ kind: 'scheduled' });
  });

  it('does not take another EventBridge event for a schedule', () => {
    // Act
    const error = errorOf(makeScheduledEvent({ 'detail-type': 'EC2 Instance State-change Notification' }));
    // Assess
    expect(error).toBeInstanceOf(UnknownInvocationError);
  });

  it('does not take a schedule from another source', () => {
    // Act
    const error = errorOf(makeScheduledEvent({ source: 'my.app' }));
    // Assess
    expect(error).toBeInstanceOf(UnknownInvocationError);
  });

  it('recognises the manual {"action":"refresh"}', () => {
    // Act
    const invocation = classifyInvocation({ action: 'refresh' });
    // Assess
    expect(invocation).toEqual({ kind: 'action', action: 'refresh' });
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a string', 'refresh'],
    ['a number', 42],
    ['an empty object', {}],
    ['an array', [{ action: 'refresh' }]],
    ['another action', { action: 'drop-tables' }],
  ])('refuses %s as an unknown invocation', (_label, event) => {
    // Act
    const error = errorOf(event);
    // Assess
    expect(error).toBeInstanceOf(UnknownInvocationError);
    expect((error as UnknownInvocationError).statusCode).toBe(404);
  });
});
