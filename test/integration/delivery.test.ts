import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeGainsight, startFakeGainsight } from '../support/fake-gainsight.ts';
import { type Handler, call, httpApiEvent, loadHandler } from '../support/lambda.ts';

/**
 * The real handler against the stateful fake Gainsight PX: which calls each event costs, and
 * what the sender is told when Gainsight fails.
 */

const SECRET = 'whsec-delivery';
const PRODUCT_KEY = 'AP-DELIVERY-1';
const TIME = '2024-05-06T07:08:09.010Z';
const TIME_MS = Date.parse(TIME);

let px: FakeGainsight;
let handler: Handler;

const post = (body: unknown) => call(handler, httpApiEvent({ secret: SECRET, body }));

/**
 * Each built event has its own message id: the handler remembers the events it delivered
 * (docs/http-contract.md), so two tests sending the same event to this one loaded handler would otherwise
 * see the second answered as a duplicate without a Gainsight call.
 */
let sequence = 0;
const nextId = (prefix: string) => `${prefix}-${++sequence}`;

const identify = (userId: string, traits: Record<string, unknown> = { email: `${userId}@example.test` }) => ({
  type: 'identify',
  messageId: nextId(`m-${userId}`),
  userId,
  traits,
  timestamp: TIME,
});
const group = (userId: string, groupId: string) => ({
  type: 'group',
  messageId: nextId(`g-${userId}-${groupId}`),
  userId,
  groupId,
  traits: { name: `Account ${groupId}`, plan: 'gold' },
  timestamp: TIME,
});
const track = (userId: string) => ({
  type: 'track',
  messageId: nextId(`t-${userId}`),
  userId,
  event: 'Report Exported',
  properties: { format: 'csv' },
  timestamp: TIME,
});

beforeAll(async () => {
  px = await startFakeGainsight();
  handler = await loadHandler({
    PX_API_KEY: px.apiKey,
    PX_PRODUCT_KEY: PRODUCT_KEY,
    WEBHOOK_SECRET: SECRET,
    GAINSIGHT_PX_BASE_URL: px.baseUrl,
    DELIVERY_BUDGET_MS: '1500',
  });
});
afterAll(() => px.close());
beforeEach(() => px.reset());

describe('call counts', () => {
  it('updates an existing user with one PUT', async () => {
    px.users.set('u1', { identifyId: 'u1', propertyKeys: [PRODUCT_KEY] });

    const event = identify('u1');

    const answer = await post(event);

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ results: [{ messageId: event.messageId, type: 'identify', status: 'delivered', calls: 1, attempts: 1 }] });
    expect(px.calls()).toEqual(['PUT /users/u1']);
    expect(px.requests[0]?.body).not.toHaveProperty('identifyId');
    expect(px.requests[0]?.body).not.toHaveProperty('signUpDate');
  });

  it('creates a new user with PUT 404 then POST carrying identifyId and default dates', async () => {
    const answer = await post(identify('new-user'));

    expect(answer.status).toBe(200);
    expect(px.calls()).toEqual(['PUT /users/new-user', 'POST /users']);
    expect(px.requests[1]?.body).toMatchObject({
      identifyId: 'new-user',
      type: 'USER',
      email: 'new-user@example.test',
      signUpDate: TIME_MS,
      createDate: TIME_MS,
      propertyKeys: [PRODUCT_KEY],
      customAttributes: {},
    });
    expect(px.users.get('new-user')).toMatchObject({ email: 'new-user@example.test' });
  });

  it('links an existing user to an existing account with two PUTs', async () => {
    px.users.set('u1', { identifyId: 'u1' });
    px.accounts.set('acme', { id: 'acme', name: 'Acme' });

    const answer = await post(group('u1', 'acme'));

    expect(answer.status).toBe(200);
    expect(px.calls()).toEqual(['PUT /accounts/acme', 'PUT /users/u1']);
    expect(px.requests[0]?.body).toEqual({ name: 'Account acme', plan: 'gold', propertyKeys: [PRODUCT_KEY] });
    expect(px.requests[1]?.body).toEqual({ accountId: 'acme' });
    expect(px.users.get('u1')).toMatchObject({ accountId: 'acme' });
  });

  it('creates a missing account, then links the user', async () => {
    px.users.set('u1', { identifyId: 'u1' });

    const answer = await post(group('u1', 'acme'));

    expect(answer.status).toBe(200);
    expect(px.calls()).toEqual(['PUT /accounts/acme', 'POST /accounts', 'PUT /users/u1']);
    expect(px.requests[1]?.body).toMatchObject({ id: 'acme', name: 'Account acme', createDate: TIME_MS });
  });

  it('creates the user of a group call when that user does not exist yet, instead of failing', async () => {
    px.accounts.set('acme', { id: 'acme', name: 'Acme' });

    const answer = await post(group('ghost', 'acme'));

    expect(answer.status).toBe(200);
    expect(px.calls()).toEqual(['PUT /accounts/acme', 'PUT /users/ghost', 'POST /users']);
    expect(px.requests[2]?.body).toMatchObject({
      identifyId: 'ghost',
      accountId: 'acme',
      type: 'USER',
      propertyKeys: [PRODUCT_KEY],
    });
    expect(px.users.get('ghost')).toMatchObject({ accountId: 'acme' });
  });

  it('sends a track call as exactly one custom event', async () => {
    const answer = await post(track('u1'));

    expect(answer.status).toBe(200);
    expect(px.calls()).toEqual(['POST /events/custom']);
    expect(px.customEvents).toEqual([
      {
        eventName: 'Report Exported',
        identifyId: 'u1',
        propertyKey: PRODUCT_KEY,
        userType: 'USER',
        date: TIME_MS,
        attributes: { format: 'csv' },
      },
    ]);
  });

  it('skips page, screen and alias calls without calling Gainsight (pageEvents off)', async () => {
    const answer = await post([
      { type: 'page', userId: 'u1', name: 'Home' },
      { type: 'screen', userId: 'u1', name: 'Main' },
      { type: 'alias', userId: 'u1', previousId: 'anon' },
    ]);

    expect(answer.status).toBe(200);
    expect(answer.body.results.map((result: { status: string }) => result.status)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(px.requests).toEqual([]);
  });

  it('URL-encodes ids in paths so that / ? # % + and unicode reach Gainsight intact', async () => {
    const id = 'a/b?c#d%e+f g-ü';

    const answer = await post(identify(id, { email: 'x@example.test' }));

    expect(answer.status).toBe(200);
    expect(px.requests[0]?.path).toBe(`/v1/users/${encodeURIComponent(id)}`);
    expect(px.requests[0]?.resource).toEqual({ kind: 'users', id });
    expect(px.users.has(id)).toBe(true);
  });

  it('finishes with the update when the create answers "possible duplicate" (a concurrent create won)', async () => {
    px.script({ method: 'PUT', path: '/users/racer', status: 404 });
    px.script({ method: 'POST', path: '/users', status: 400, body: { externalapierror: { status: 'BAD_REQUEST', message: 'Bad request, possible duplicate' } } });
    px.users.set('racer', { identifyId: 'racer' });

    const answer = await post(identify('racer'));

    expect(answer.status).toBe(200);
    expect(px.calls()).toEqual(['PUT /users/racer', 'POST /users', 'PUT /users/racer']);
    expect(px.users.get('racer')).toMatchObject({ email: 'racer@example.test' });
  });

  it('answers a new user\'s "possible duplicate" create with the same update it first tried, and 200', async () => {
    // The user is not stored, so the first PUT answers 404. The create reaches Gainsight (a
    // concurrent create of the same user, or an earlier answer that was lost) and is answered
    // 400 "possible duplicate"; from then on the user exists and the final PUT succeeds.
    px.script({
      method: 'POST',
      path: '/users',
      apply: true,
      status: 400,
      body: { externalapierror: { status: 'BAD_REQUEST', message: 'Bad request, possible duplicate', debugMessage: null, subErrors: null } },
    });
    const event = identify('newcomer', { email: 'newcomer@example.test', firstName: 'Nia' });

    const answer = await post(event);

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ results: [{ messageId: event.messageId, type: 'identify', status: 'delivered', calls: 3, attempts: 3 }] });
    expect(px.calls()).toEqual(['PUT /users/newcomer', 'POST /users', 'PUT /users/newcomer']);
    expect(px.requests.map((request) => request.status)).toEqual([404, 400, 204]);
    const update = {
      type: 'USER',
      email: 'newcomer@example.test',
      firstName: 'Nia',
      propertyKeys: [PRODUCT_KEY],
      customAttributes: {},
    };
    expect(px.requests[0]?.body).toEqual(update);
    expect(px.requests[2]?.body).toEqual(update);
    expect(px.requests[2]?.body).toEqual(px.requests[0]?.body);
  });

  it('keeps the order of one user\'s events in a batch and delivers each', async () => {
    const answer = await post({ batch: [identify('u9'), group('u9', 'acme'), track('u9')] });

    expect(answer.status).toBe(200);
    expect(px.calls()).toEqual([
      'PUT /users/u9',
      'POST /users',
      'PUT /accounts/acme',
      'POST /accounts',
      'PUT /users/u9',
      'POST /events/custom',
    ]);
    expect(answer.body.results).toHaveLength(3);
  });
});

describe('resends (docs/http-contract.md: a container remembers the events it delivered)', () => {
  it('answers a resent event (same messageId and content) delivered as a duplicate, without a second write', async () => {
    const event = track('u-resend');
    const first = await post(event);
    px.reset();

    const again = await post(event);

    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ results: [{ messageId: event.messageId, type: 'track', status: 'delivered', calls: 0, attempts: 0, duplicate: true }] });
    expect(px.requests).toEqual([]);
  });

  it('sends an event that reuses a delivered messageId with other content', async () => {
    const event = track('u-reuse');
    await post(event);
    px.reset();

    const answer = await post({ ...event, properties: { format: 'pdf' } });

    expect(answer.status).toBe(200);
    expect(answer.body.results).toEqual([{ messageId: event.messageId, type: 'track', status: 'delivered', calls: 1, attempts: 1 }]);
    expect(px.calls()).toEqual(['POST /events/custom']);
    expect(px.customEvents).toEqual([expect.objectContaining({ identifyId: 'u-reuse', attributes: { format: 'pdf' } })]);
  });
});

describe('when Gainsight fails', () => {
  it('answers 400 with Gainsight\'s reason when it rejects the event as invalid', async () => {
    px.script({ method: 'POST', path: '/events/custom', status: 422, body: { externalapierror: { status: 'UNPROCESSABLE_ENTITY', message: 'eventName too long' } } });

    const answer = await post(track('u1'));

    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('gainsight_rejected');
    expect(answer.body.error.message).toContain('eventName too long');
    expect(answer.body.error.details.results[0]).toMatchObject({ status: 'failed', type: 'track' });
  });

  it.each([401, 403])('answers 503 (retry, do not lose the event) when Gainsight refuses our key with %i', async (status) => {
    px.script({ status, body: '<html><title>403</title>Forbidden</html>', headers: { 'content-type': 'text/html' } });

    const answer = await post(track('u1'));

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('gainsight_auth');
    expect(answer.text).not.toContain('<html>');
    expect(answer.text).not.toContain(px.apiKey);
  });

  it('answers 429 with Retry-After when Gainsight throttles', async () => {
    px.script({ status: 429, headers: { 'retry-after': '7' }, body: { externalapierror: { status: 'TOO_MANY_REQUESTS', message: 'Rate limit exceeded' } } });

    const answer = await post(track('u1'));

    expect(answer.status).toBe(429);
    expect(px.requests).toHaveLength(1); // a 7 s Retry-After does not fit in the 1.5 s budget
    expect(answer.headers['retry-after']).toBe('7');
    expect(answer.body.error.code).toBe('gainsight_rate_limited');
  });

  it.each([500, 502, 503, 504, 408])('retries, then answers 503 when Gainsight keeps answering %i', async (status) => {
    px.script({ status, times: 1000 });

    const answer = await post(track('u1'));

    expect(answer.status).toBe(503);
    expect(px.requests.length).toBeGreaterThan(1);
    expect(px.requests.every((request) => request.method === 'POST')).toBe(true);
  });

  it('answers 503 when the connection keeps being reset', async () => {
    px.script({ reset: true, times: 1000 });

    const answer = await post(track('u1'));

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('gainsight_unreachable');
  });

  it('answers 503 within the delivery budget when Gainsight hangs', async () => {
    px.script({ hang: true });
    const started = Date.now();

    const answer = await post(track('u1'));

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('gainsight_timeout');
    expect(Date.now() - started).toBeLessThan(1500 + 1000);
  });

  it('answers 503 for a batch where one event fails retryably and reports each event', async () => {
    px.users.set('ok', { identifyId: 'ok' });
    px.script({ method: 'POST', path: '/events/custom', status: 503, times: 1000 });

    const answer = await post([identify('ok'), track('bad')]);

    expect(answer.status).toBe(503);
    expect(answer.body.error.details.results.map((result: { status: string }) => result.status)).toEqual(['delivered', 'failed']);
  });

  it('fails a group when the account write is rejected, without linking the user', async () => {
    px.script({ method: 'PUT', path: '/accounts/acme', status: 400, body: { externalapierror: { status: 'BAD_REQUEST', message: 'invalid website' } } });

    const answer = await post(group('u1', 'acme'));

    expect(answer.status).toBe(400);
    expect(px.calls()).toEqual(['PUT /accounts/acme']);
  });
});
