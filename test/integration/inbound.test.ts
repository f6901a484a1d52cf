import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { captureOutput } from '../support/capture.ts';
import { type FakeGainsight, startFakeGainsight } from '../support/fake-gainsight.ts';
import { type Handler, type HttpAnswer, call, httpApiEvent, lambdaContext, loadHandler, restApiEvent } from '../support/lambda.ts';

/**
 * What the relay accepts and how it answers bad input: routes, authentication, body shapes,
 * limits and validation. Every answer is JSON with a documented status; none is a 500.
 */

const SECRETS = 'current-secret, previous-secret';
let px: FakeGainsight;
let handler: Handler;

/**
 * An identify of u1 with its own message id on every use: the handler remembers the events it
 * delivered (docs/http-contract.md), so resending one event to this loaded handler would be answered as a
 * duplicate without a Gainsight call.
 */
let sequence = 0;
const identifyEvent = () => ({ type: 'identify', messageId: `m${++sequence}`, userId: 'u1', traits: { email: 'u1@example.test' } });

/** What every caller gets while the relay cannot serve its configuration to them (docs/security.md). */
const GENERIC_UNAVAILABLE = { error: { code: 'unavailable', message: 'The relay is temporarily unavailable; try again later' } };

beforeAll(async () => {
  px = await startFakeGainsight();
  handler = await loadHandler({
    PX_API_KEY: px.apiKey,
    PX_PRODUCT_KEY: 'AP-INBOUND-1',
    WEBHOOK_SECRET: SECRETS,
    GAINSIGHT_PX_BASE_URL: px.baseUrl,
  });
});
afterAll(() => px.close());
beforeEach(() => px.reset());

describe('routes', () => {
  it('answers GET /health with 200, the version, and no SSM or Gainsight call', async () => {
    const answer = await call(handler, httpApiEvent({ method: 'GET', path: '/health', secret: null }));

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ status: 'ok', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(px.requests).toEqual([]);
  });

  it('answers an unknown path with a JSON 404', async () => {
    const answer = await call(handler, httpApiEvent({ path: '/admin', secret: 'current-secret', body: identifyEvent() }));

    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('not_found');
  });

  it('answers a wrong method with a JSON 405 and an Allow header', async () => {
    const answer = await call(handler, httpApiEvent({ method: 'DELETE', path: '/events', secret: 'current-secret' }));

    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('POST');
  });

  it('serves REST API (v1 proxy) events with a stage prefix like HTTP API events', async () => {
    const answer = await call(handler, restApiEvent({ secret: 'current-secret', body: identifyEvent() }));

    expect(answer.status).toBe(200);
    expect(px.calls()).toEqual(['PUT /users/u1', 'POST /users']);
  });
});

describe('authentication', () => {
  it('answers 401 without an Authorization header and sends nothing', async () => {
    const answer = await call(handler, httpApiEvent({ secret: null, body: identifyEvent() }));

    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe('unauthorized');
    expect(px.requests).toEqual([]);
  });

  it('answers 401 to a wrong secret without echoing it', async () => {
    const answer = await call(handler, httpApiEvent({ secret: 'guess-secret', body: identifyEvent() }));

    expect(answer.status).toBe(401);
    expect(answer.text).not.toContain('guess-secret');
    expect(answer.text).not.toContain('current-secret');
  });

  it('answers 401 to a secret that is only a prefix of a real one', async () => {
    const answer = await call(handler, httpApiEvent({ secret: 'current', body: identifyEvent() }));

    expect(answer.status).toBe(401);
  });

  it('accepts every secret of a comma-separated list (rotation without downtime)', async () => {
    const first = await call(handler, httpApiEvent({ secret: 'current-secret', body: identifyEvent() }));
    const second = await call(handler, httpApiEvent({ secret: 'previous-secret', body: identifyEvent() }));

    expect([first.status, second.status]).toEqual([200, 200]);
  });

  it('accepts a lowercase bearer scheme and header name variants from REST APIs', async () => {
    const answer = await call(
      handler,
      restApiEvent({ secret: null, headers: { AUTHORIZATION: 'bearer current-secret' }, body: identifyEvent() }),
    );

    expect(answer.status).toBe(200);
  });
});

describe('bodies', () => {
  const post = (options: Parameters<typeof httpApiEvent>[0]) =>
    call(handler, httpApiEvent({ secret: 'current-secret', ...options }));

  it('accepts a JSON array of events', async () => {
    const answer = await post({ body: [identifyEvent(), { ...identifyEvent(), userId: 'u2' }] });

    expect(answer.status).toBe(200);
    expect(answer.body.results).toHaveLength(2);
  });

  it('accepts the RudderStack batch shape {"batch": [...]}', async () => {
    const event = identifyEvent();

    const answer = await post({ body: { batch: [event], sentAt: '2024-01-01T00:00:00Z' } });

    expect(answer.status).toBe(200);
    expect(answer.body.results[0]).toMatchObject({ messageId: event.messageId, status: 'delivered' });
  });

  it('decodes base64-encoded bodies', async () => {
    const answer = await post({ body: identifyEvent(), base64: true });

    expect(answer.status).toBe(200);
    expect(px.requests[0]?.body).toMatchObject({ email: 'u1@example.test' });
  });

  it('accepts a type in upper case, as RudderStack\'s destination does', async () => {
    const answer = await post({ body: { ...identifyEvent(), type: 'IDENTIFY' } });

    expect(answer.status).toBe(200);
  });

  it('turns numeric ids into strings', async () => {
    const answer = await post({ body: { ...identifyEvent(), userId: 12345 } });

    expect(answer.status).toBe(200);
    expect(px.calls()[0]).toBe('PUT /users/12345');
  });

  it.each([
    ['malformed JSON', { rawBody: '{"type": "identify",' }, 'malformed_json'],
    ['an empty body', { rawBody: '' }, 'empty_body'],
    ['a JSON string', { rawBody: '"identify"' }, 'invalid_body'],
    ['an empty array', { body: [] }, 'empty_batch'],
    ['an event that is not an object', { body: [42] }, 'invalid_event'],
  ])('answers 400 to %s', async (_name, options, code) => {
    const answer = await post(options);

    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe(code);
    expect(px.requests).toEqual([]);
  });

  it('answers 413 to a body over 512 KiB', async () => {
    const answer = await post({ body: { ...identifyEvent(), traits: { blob: 'x'.repeat(512 * 1024) } } });

    expect(answer.status).toBe(413);
    expect(answer.body.error.code).toBe('payload_too_large');
  });

  it('answers 413 to a base64 body whose decoded size is over 512 KiB', async () => {
    const answer = await post({ body: { ...identifyEvent(), traits: { blob: 'y'.repeat(520 * 1024) } }, base64: true });

    expect(answer.status).toBe(413);
  });

  it('answers 413 to more than 100 events', async () => {
    const events = Array.from({ length: 101 }, (_, index) => ({ ...identifyEvent(), messageId: `m${index}` }));

    const answer = await post({ body: events });

    expect(answer.status).toBe(413);
    expect(answer.body.error.message).toContain('100');
    expect(px.requests).toEqual([]);
  });

  it('accepts exactly 100 events', async () => {
    const events = Array.from({ length: 100 }, (_, index) => ({ type: 'alias', messageId: `a${index}`, userId: 'u' }));

    const answer = await post({ body: events });

    expect(answer.status).toBe(200);
    expect(answer.body.results).toHaveLength(100);
  });
});

describe('validation', () => {
  const post = (body: unknown) => call(handler, httpApiEvent({ secret: 'current-secret', body }));

  it.each([
    ['a missing type', { userId: 'u1' }, 'type', 'missing_type'],
    ['an unknown type', { type: 'merge', userId: 'u1' }, 'type', 'unsupported_type'],
    ['identify without any user id', { type: 'identify', traits: { email: 'a@b.c' } }, 'userId', 'invalid_event'],
    ['track without any user id', { type: 'track', event: 'E' }, 'userId', 'invalid_event'],
    ['track without an event name', { type: 'track', userId: 'u1' }, 'event', 'invalid_event'],
    ['group without groupId', { type: 'group', userId: 'u1', traits: { name: 'Acme' } }, 'groupId', 'invalid_event'],
    ['group without traits.name', { type: 'group', userId: 'u1', groupId: 'g1', traits: { plan: 'x' } }, 'traits.name', 'invalid_event'],
    ['traits that are not an object', { type: 'identify', userId: 'u1', traits: 'vip' }, 'traits', 'invalid_event'],
    ['a userId that is an object', { type: 'identify', userId: { id: 1 } }, 'userId', 'invalid_event'],
  ])('answers 400 naming the field for %s', async (_name, event, field, code) => {
    const answer = await post(event);

    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe(code);
    expect(JSON.stringify(answer.body.error)).toContain(field);
    expect(px.requests).toEqual([]);
  });

  it('rejects a batch with one invalid event as a whole, naming its index, and sends nothing', async () => {
    const answer = await post([identifyEvent(), { type: 'track', userId: 'u1' }]);

    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalid_events');
    expect(answer.body.error.details.events).toEqual([
      expect.objectContaining({ index: 1, details: { issues: [expect.objectContaining({ field: 'event' })] } }),
    ]);
    expect(px.requests).toEqual([]);
  });

  it('does not echo event values in validation errors', async () => {
    const answer = await post({ type: 'group', userId: 'u1', groupId: 'g1', traits: { plan: 'private-plan-name' } });

    expect(answer.status).toBe(400);
    expect(answer.text).not.toContain('private-plan-name');
  });
});

describe('dry run', () => {
  it('sends nothing and lists the planned requests with the API key redacted', async () => {
    const dry = await loadHandler({
      PX_API_KEY: px.apiKey,
      PX_PRODUCT_KEY: 'AP-DRY-1',
      GAINSIGHT_PX_BASE_URL: px.baseUrl,
      DRY_RUN: 'true',
    });

    const answer = await call(dry, httpApiEvent({ secret: null, body: identifyEvent() }), lambdaContext());

    expect(answer.status).toBe(200);
    expect(px.requests).toEqual([]);
    expect(answer.text).not.toContain(px.apiKey);
    expect(answer.body.results[0]).toMatchObject({ status: 'dry-run', type: 'identify' });
    expect(answer.body.results[0].requests).toEqual([
      {
        method: 'PUT',
        url: `${px.baseUrl}/users/u1`,
        headers: { 'X-APTRINSIC-API-KEY': '[redacted]', 'Content-Type': 'application/json' },
        body: expect.objectContaining({ email: 'u1@example.test', propertyKeys: ['AP-DRY-1'] }),
      },
      expect.objectContaining({ method: 'POST', url: `${px.baseUrl}/users`, onlyIf: 'update answered 404' }),
    ]);
  });

  it('runs dry when no PX_API_KEY is set (local development default)', async () => {
    const local = await loadHandler({ GAINSIGHT_PX_BASE_URL: px.baseUrl });

    const answer = await call(local, httpApiEvent({ secret: null, body: identifyEvent() }));

    expect(answer.status).toBe(200);
    expect(answer.body.results[0].status).toBe('dry-run');
    expect(px.requests).toEqual([]);
  });

  it('answers 503 when settings in PX_SETTINGS are invalid', async () => {
    const broken = await loadHandler({ PX_SETTINGS: '{"dataCenter": "MARS"}' });

    const answer = await call(broken, httpApiEvent({ secret: null, body: identifyEvent() }));

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('configuration_error');
    expect(answer.body.error.message).toContain('dataCenter');
  });

  it('answers the generic 503 when the environment itself is invalid, without crashing at import, and logs the cause', async () => {
    // An invalid environment leaves the relay without credentials to check, so the caller is
    // not authenticated: it learns nothing (docs/security.md); the log names the variable.
    const saved = { POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL, POWERTOOLS_DEV: process.env.POWERTOOLS_DEV };
    const capture = captureOutput();
    let answer: HttpAnswer;
    try {
      const broken = await loadHandler({ DELIVERY_BUDGET_MS: 'soon', POWERTOOLS_LOG_LEVEL: 'INFO', POWERTOOLS_DEV: 'false' });

      answer = await call(broken, httpApiEvent({ secret: null, body: identifyEvent() }));
    } finally {
      capture.restore();
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }

    expect(answer.status).toBe(503);
    expect(answer.body).toEqual(GENERIC_UNAVAILABLE);
    expect(answer.text).not.toContain('DELIVERY_BUDGET_MS');
    const failures = capture.entries().filter((entry) => entry.message === 'configuration could not be loaded');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ level: 'ERROR', code: 'configuration_error', consecutiveFailures: 1 });
    expect(String(failures[0]?.reason)).toContain('DELIVERY_BUDGET_MS');
    expect(px.requests).toEqual([]);
  });
});
