import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeGainsight, startFakeGainsight } from '../support/fake-gainsight.ts';
import { type FakeSqs, startFakeSqs } from '../support/fake-sqs.ts';
import { type InFlightProbe, startInFlightProbe } from '../support/in-flight-probe.ts';
import { type Handler, type HttpAnswer, call, httpApiEvent, lambdaContext, loadHandler, scheduledEvent } from '../support/lambda.ts';
import { drainQueue, pollOnce, sqsClientFor } from '../support/sqs-event.ts';

/**
 * Issue 13, delivery at fleet scale, on the request path (the consumer has its own file,
 * fleet-consumer.test.ts), through the real handler against the loopback fakes of Gainsight PX
 * and SQS (real @aws-sdk/client-sqs, FIFO queues as serverless.yml creates them):
 * 1. per-user order in direct mode (docs/http-contract.md "Per-user order"): POST /events never parks an
 *    identify or group, /v1/* parks every type;
 * 2. queued mode (DELIVERY_MODE=queued, docs/configuration.md, docs/http-contract.md): every valid event on the FIFO parking
 *    queue, grouped by user, deduplicated by message id and content, drained by the consumer in
 *    each user's order;
 * 4. fleet limits (docs/http-contract.md "Fleet limits"): GAINSIGHT_MAX_IN_FLIGHT caps the Gainsight calls one
 *    process has in flight.
 */

const SECRET = 'whsec-fleet';
const WRITE_KEY = 'wk-fleet';
const PRODUCT_KEY = 'AP-FLEET-1';
const TIME = '2024-05-06T07:08:09.010Z';
const BUDGET_MS = 2000;
const ANSWER_BOUND_MS = BUDGET_MS + 1000;
const PARKED_KIND = 'gainsight-px-relay.parked-event';
/** On a failing Gainsight answer: a wait longer than any budget, so the failure is final at once. */
const NO_RETRY = { 'retry-after': '30' };
/** What every authenticated caller gets while the environment is invalid (docs/http-contract.md). */
const UNAVAILABLE = { error: { code: 'unavailable', message: 'The relay is temporarily unavailable; try again later' } };

let px: FakeGainsight;
let sqs: FakeSqs;
let esm: SQSClient;
let parkingUrl: string;
let failedUrl: string;

type Json = Record<string, any>;

const track = (messageId: string, userId: string, event = 'Report Exported') => ({ type: 'track', messageId, userId, event, properties: { format: 'csv' }, timestamp: TIME });
const identify = (messageId: string, userId: string, traits: Json = { email: `${userId}@example.test` }) => ({ type: 'identify', messageId, userId, traits, timestamp: TIME });
const group = (messageId: string, userId: string, groupId: string) => ({ type: 'group', messageId, userId, groupId, traits: { name: `Account ${groupId}` }, timestamp: TIME });

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
/** The deduplication id of an event (docs/http-contract.md: message id and content as sent). */
const dedupIdOf = (event: Json): string =>
  createHash('sha256').update(String(event.messageId), 'utf8').update('\0').update(JSON.stringify(event), 'utf8').digest('base64');

/** The handler with FIFO parking and failed queues; `env` adds or (with undefined) removes variables. */
function relay(env: Record<string, string | undefined> = {}): Promise<Handler> {
  return loadHandler({
    PX_API_KEY: px.apiKey,
    PX_PRODUCT_KEY: PRODUCT_KEY,
    WEBHOOK_SECRET: SECRET,
    WRITE_KEYS: WRITE_KEY,
    GAINSIGHT_PX_BASE_URL: px.baseUrl,
    DELIVERY_BUDGET_MS: String(BUDGET_MS),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDUMMY',
    AWS_SECRET_ACCESS_KEY: 'dummy-secret',
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    DEAD_LETTER_QUEUE_URL: parkingUrl,
    FAILED_QUEUE_URL: failedUrl,
    ...env,
  });
}
const queuedRelay = (env: Record<string, string | undefined> = {}): Promise<Handler> => relay({ DELIVERY_MODE: 'queued', ...env });

async function postEvents(handler: Handler, body: unknown): Promise<HttpAnswer & { ms: number }> {
  const started = Date.now();
  const answer = await call(handler, httpApiEvent({ secret: SECRET, body }));
  return { ...answer, ms: Date.now() - started };
}
async function postTracking(handler: Handler, path: string, body: unknown): Promise<HttpAnswer & { ms: number }> {
  const started = Date.now();
  const basic = `Basic ${Buffer.from(`${WRITE_KEY}:`, 'utf8').toString('base64')}`;
  const answer = await call(handler, httpApiEvent({ path, secret: null, body, headers: { authorization: basic } }));
  return { ...answer, ms: Date.now() - started };
}

const parked = (): Json[] => sqs.messages(parkingUrl).map((message) => JSON.parse(message.body) as Json);
const operations = (name: string): Json[] => sqs.calls.filter((c) => c.operation === name).map((c) => c.body as Json);
const queuedLine = (event: Json) => ({ messageId: event.messageId, type: event.type, status: 'queued', reason: 'queued' });

beforeAll(async () => {
  px = await startFakeGainsight();
});
afterAll(async () => {
  await px.close();
});
beforeEach(async () => {
  px.reset();
  sqs = await startFakeSqs();
  esm = sqsClientFor(sqs);
  failedUrl = sqs.createQueue('relay-failed.fifo');
  parkingUrl = sqs.createQueue('relay-parking.fifo', { visibilityTimeoutSeconds: 120, deadLetterQueueName: 'relay-failed.fifo', maxReceiveCount: 100 });
});
afterEach(async () => {
  esm.destroy();
  await sqs.close();
});

describe('issue 13 item 1: per-user order in direct mode', () => {
  it.each([
    ['an identify', identify('i-u1', 'u1'), ['PUT /users/u1']],
    ['a group', group('g-u1', 'u1', 'acme'), ['PUT /accounts/acme']],
  ])('answers 503 to %s on POST /events that cannot be delivered in the budget, and parks nothing', async (_name, event, calls) => {
    const handler = await relay();
    px.script({ status: 503, headers: NO_RETRY, times: 10 });

    const answer = await postEvents(handler, event);

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('upstream_unavailable');
    expect(answer.body.error.details.results).toEqual([
      { messageId: event.messageId, type: event.type, status: 'failed', error: expect.objectContaining({ code: 'upstream_unavailable' }) },
    ]);
    expect(answer.ms).toBeLessThan(ANSWER_BOUND_MS);
    expect(px.calls()).toEqual(calls);
    expect(sqs.calls).toEqual([]);
    expect(sqs.messages(parkingUrl)).toEqual([]);
    expect(sqs.messages(failedUrl)).toEqual([]);
  });

  it('parks (202) a track on POST /events that cannot be delivered in the budget, in its user\'s FIFO group', async () => {
    const handler = await relay();
    px.script({ method: 'POST', path: '/events/custom', status: 503, headers: NO_RETRY });

    const answer = await postEvents(handler, track('t-u1', 'u1'));

    expect(answer.status).toBe(202);
    expect(answer.body.results).toEqual([{ messageId: 't-u1', type: 'track', status: 'queued', reason: 'upstream_unavailable' }]);
    expect(px.calls()).toEqual(['POST /events/custom']);
    const messages = sqs.messages(parkingUrl);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.messageGroupId).toBe(sha256Hex('u1'));
    expect(JSON.parse(messages[0]!.body)).toMatchObject({ kind: PARKED_KIND, event: { type: 'track', messageId: 't-u1', userId: 'u1' }, resumeAtStep: 0 });
  });

  it('parks an identify and a track on /v1/batch that cannot be delivered (every type), answering 200, in order in the user\'s group', async () => {
    const handler = await relay();
    px.users.set('u1', { identifyId: 'u1', propertyKeys: [PRODUCT_KEY] });
    px.script({ status: 503, headers: NO_RETRY, times: 10 });

    const answer = await postTracking(handler, '/v1/batch', { batch: [identify('i-u1', 'u1'), track('t-u1', 'u1')] });

    expect(answer.status).toBe(200);
    expect(answer.body.results).toEqual([
      { messageId: 'i-u1', type: 'identify', status: 'queued', reason: 'upstream_unavailable' },
      { messageId: 't-u1', type: 'track', status: 'queued', reason: 'upstream_unavailable' },
    ]);
    expect(px.calls()).toEqual(['PUT /users/u1', 'POST /events/custom']);
    const messages = sqs.messages(parkingUrl);
    expect(messages.map((message) => message.messageGroupId)).toEqual([sha256Hex('u1'), sha256Hex('u1')]);
    expect(parked()).toMatchObject([
      { kind: PARKED_KIND, event: { type: 'identify', messageId: 'i-u1' }, reason: { code: 'upstream_unavailable' }, resumeAtStep: 0 },
      { kind: PARKED_KIND, event: { type: 'track', messageId: 't-u1' }, reason: { code: 'upstream_unavailable' }, resumeAtStep: 0 },
    ]);
  });

  it('never lets an old identify overwrite a newer one: "Old" fails (503, not parked), is resent and delivered, then "New" lands last', async () => {
    const handler = await relay();
    px.users.set('u1', { identifyId: 'u1', propertyKeys: [PRODUCT_KEY], title: 'Intern' });
    px.script({ method: 'PUT', path: '/users/u1', status: 503, headers: NO_RETRY });
    const old = identify('i-old', 'u1', { title: 'Old' });
    const newer = identify('i-new', 'u1', { title: 'New' });

    // Gainsight is slow: RudderStack gets a 503 and keeps the user's later events back.
    const failed = await postEvents(handler, old);
    expect(failed.status).toBe(503);
    expect(sqs.messages(parkingUrl)).toEqual([]);
    expect(px.users.get('u1')?.title).toBe('Intern');

    // It resends "Old" (delivered), and only then sends "New".
    const resent = await postEvents(handler, old);
    const next = await postEvents(handler, newer);
    // The scheduled run finds nothing that could land late.
    const run = (await handler(scheduledEvent(), lambdaContext())) as Json;

    expect(resent.status).toBe(200);
    expect(resent.body.results).toEqual([{ messageId: 'i-old', type: 'identify', status: 'delivered', calls: 1, attempts: 1 }]);
    expect(next.status).toBe(200);
    expect(run).toMatchObject({ ok: true, redrive: { received: 0, delivered: 0 } });
    expect(px.calls()).toEqual(['PUT /users/u1', 'PUT /users/u1', 'PUT /users/u1']);
    expect(px.requests.map((request) => (request.body as Json).title)).toEqual(['Old', 'Old', 'New']);
    expect(px.users.get('u1')?.title).toBe('New');
  });
});

describe('issue 13 item 2: queued mode (DELIVERY_MODE=queued, FIFO parking queue)', () => {
  it('answers 202 queued for every valid event, sends nothing to Gainsight, and queues each in order with its user\'s group and a dedup id', async () => {
    const handler = await queuedRelay();
    const events = [identify('i-u1', 'u1'), track('t-u1', 'u1'), group('g-u2', 'u2', 'acme')];

    const answer = await postEvents(handler, events);

    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ results: events.map(queuedLine) });
    expect(px.requests).toEqual([]);
    expect(operations('SendMessageBatch')).toHaveLength(1);
    expect(operations('SendMessage')).toEqual([]);
    const messages = sqs.messages(parkingUrl);
    expect(messages.map((message) => message.messageGroupId)).toEqual([sha256Hex('u1'), sha256Hex('u1'), sha256Hex('u2')]);
    expect(messages.map((message) => message.messageDeduplicationId)).toEqual(events.map(dedupIdOf));
    expect(messages.map((message) => JSON.parse(message.body) as Json)).toEqual(
      events.map((event) => ({
        kind: PARKED_KIND,
        version: 1,
        event: expect.objectContaining({ type: event.type, messageId: event.messageId, userId: event.userId }),
        reason: { code: 'queued', message: expect.any(String), status: 202 },
        firstFailureAt: expect.any(String),
        parkedAt: expect.any(String),
        attempts: 0,
        resumeAtStep: 0,
      })),
    );
    // The queue's metadata names no user.
    expect(JSON.stringify(operations('SendMessageBatch')[0]?.Entries.map((entry: Json) => [entry.MessageGroupId, entry.MessageDeduplicationId]))).not.toContain('u1');
  });

  it('answers 200 queued on /v1/batch', async () => {
    const handler = await queuedRelay();
    const events = [identify('i-u1', 'u1'), track('t-u2', 'u2')];

    const answer = await postTracking(handler, '/v1/batch', { batch: events });

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ results: events.map(queuedLine) });
    expect(px.requests).toEqual([]);
    expect(sqs.messages(parkingUrl)).toHaveLength(2);
  });

  it('refuses a POST /events request with an invalid event (400), queuing none of it', async () => {
    const handler = await queuedRelay();

    const answer = await postEvents(handler, [track('t-u1', 'u1'), { type: 'identify', messageId: 'i-nobody', traits: {} }]);

    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalid_events');
    expect(sqs.calls).toEqual([]);
    expect(px.requests).toEqual([]);
  });

  it('answers 400 on /v1/batch to an invalid event, and still queues the valid ones', async () => {
    const handler = await queuedRelay();

    const answer = await postTracking(handler, '/v1/batch', { batch: [track('t-u1', 'u1'), { type: 'identify', messageId: 'i-nobody', traits: {} }] });

    expect(answer.status).toBe(400);
    expect(answer.body.error.details.results).toEqual([
      queuedLine(track('t-u1', 'u1')),
      { messageId: 'i-nobody', type: 'identify', status: 'failed', error: expect.objectContaining({ code: 'invalid_event' }) },
    ]);
    expect(sqs.messages(parkingUrl).map((message) => (JSON.parse(message.body) as Json).event.messageId)).toEqual(['t-u1']);
    expect(px.requests).toEqual([]);
  });

  it('stores nothing new when another container gets the same request within the window (SQS deduplication)', async () => {
    const events = [identify('i-u1', 'u1'), track('t-u1', 'u1')];
    const first = await postEvents(await queuedRelay(), events);
    const stored = sqs.messages(parkingUrl).map((message) => message.messageId);

    const resend = await postEvents(await queuedRelay(), events);

    expect(first.status).toBe(202);
    expect(resend.status).toBe(202);
    expect(resend.body).toEqual({ results: events.map(queuedLine) });
    expect(operations('SendMessageBatch')).toHaveLength(2);
    expect(sqs.messages(parkingUrl).map((message) => message.messageId)).toEqual(stored);
  });

  it('answers a resend to the same container from its memory (duplicate), without calling SQS again', async () => {
    const handler = await queuedRelay();
    await postEvents(handler, track('t-u1', 'u1'));

    const resend = await postEvents(handler, track('t-u1', 'u1'));

    expect(resend.status).toBe(202);
    expect(resend.body.results).toEqual([{ messageId: 't-u1', type: 'track', status: 'queued', reason: 'already parked', duplicate: true }]);
    expect(operations('SendMessageBatch')).toHaveLength(1);
    expect(sqs.messages(parkingUrl)).toHaveLength(1);
  });

  it('stores a changed event that reuses a message id', async () => {
    await postEvents(await queuedRelay(), track('t-u1', 'u1', 'Report Exported'));

    const changed = await postEvents(await queuedRelay(), track('t-u1', 'u1', 'Report Shared'));

    expect(changed.status).toBe(202);
    const messages = sqs.messages(parkingUrl);
    expect(messages.map((message) => (JSON.parse(message.body) as Json).event.event)).toEqual(['Report Exported', 'Report Shared']);
    expect(new Set(messages.map((message) => message.messageDeduplicationId)).size).toBe(2);
  });

  it('answers 503 unavailable to every caller when DELIVERY_MODE=queued has no DEAD_LETTER_QUEUE_URL', async () => {
    const handler = await queuedRelay({ DEAD_LETTER_QUEUE_URL: undefined });

    const answer = await postEvents(handler, track('t-u1', 'u1'));

    expect(answer.status).toBe(503);
    expect(answer.body).toEqual(UNAVAILABLE);
    expect(px.requests).toEqual([]);
    expect(sqs.calls).toEqual([]);
  });

  it('answers 503 queue_unavailable, delivering nothing, when SendMessageBatch fails', async () => {
    const handler = await queuedRelay();
    sqs.script({ operation: 'SendMessageBatch', status: 500, times: 10 });
    const events = [identify('i-u1', 'u1'), track('t-u2', 'u2')];

    const answer = await postEvents(handler, events);

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('queue_unavailable');
    expect(answer.body.error.details.results).toEqual(
      events.map((event) => ({ messageId: event.messageId, type: event.type, status: 'failed', error: expect.objectContaining({ code: 'queue_unavailable' }) })),
    );
    expect(answer.ms).toBeLessThan(ANSWER_BOUND_MS);
    expect(px.requests).toEqual([]);
    expect(sqs.messages(parkingUrl)).toEqual([]);
  });

  it('answers 503 with the stored events queued and the rest failed when the second SendMessageBatch of a request fails', async () => {
    const handler = await queuedRelay();
    sqs.script({ operation: 'SendMessageBatch' }, { operation: 'SendMessageBatch', status: 500, times: 10 });
    const events = Array.from({ length: 12 }, (_, index) => track(`t-${index}`, `u${index % 3}`));

    const answer = await postEvents(handler, events);

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('queue_unavailable');
    expect(answer.body.error.details.results.map((line: Json) => line.status)).toEqual([...Array(10).fill('queued'), 'failed', 'failed']);
    expect(sqs.messages(parkingUrl).map((message) => (JSON.parse(message.body) as Json).event.messageId)).toEqual(events.slice(0, 10).map((event) => event.messageId));
    expect(px.requests).toEqual([]);
  });

  it('drains through the consumer: Gainsight gets every event exactly once, in each user\'s order', async () => {
    const handler = await queuedRelay();
    const users = ['u1', 'u2', 'u3'];
    const events: Json[] = users.map((user) => identify(`i-${user}-0`, user, { title: 'v0' }));
    for (let step = 1; step <= 4; step += 1) {
      for (const user of users) events.push(track(`t-${user}-${step}`, user, `Step ${step}`));
      events.push(identify(`i-u1-${step}`, 'u1', { title: `v${step}` }));
    }
    const accepted = await postEvents(handler, events);
    expect(accepted.status).toBe(202);
    expect(px.requests).toEqual([]);

    const polls = await drainQueue(handler, esm, parkingUrl);

    expect(polls.length).toBeGreaterThan(1);
    expect(polls.every((poll) => poll.retried.length === 0)).toBe(true);
    // Per user, the Gainsight writes follow the order the events were sent in, each exactly once.
    const userOf = (request: (typeof px.requests)[number]): unknown => (request.body as Json).identifyId ?? request.resource.id;
    for (const user of users) {
      const written = px.requests.filter((request) => userOf(request) === user && request.status !== 404).map((request) => (request.body as Json).eventName ?? (request.body as Json).title);
      const expected = events.filter((event) => event.userId === user).map((event) => event.event ?? event.traits.title);
      expect(written, user).toEqual(expected);
    }
    expect(px.customEvents).toHaveLength(12);
    expect(px.users.get('u1')?.title).toBe('v4');
    expect(sqs.messages(parkingUrl)).toEqual([]);
    expect(sqs.messages(failedUrl)).toEqual([]);
  });

  it.each([
    ['the consumer', 'consumer'],
    ['the scheduled sweep', 'sweep'],
  ] as const)('%s delivers one user\'s two group changes in the order sent, however long the first one takes', async (_name, drain) => {
    const handler = await queuedRelay();
    px.users.set('u1', { identifyId: 'u1', propertyKeys: [PRODUCT_KEY] });
    px.accounts.set('acme', { id: 'acme', name: 'Acme', propertyKeys: [PRODUCT_KEY] });
    px.accounts.set('globex', { id: 'globex', name: 'Globex', propertyKeys: [PRODUCT_KEY] });
    await postEvents(handler, [group('g-1', 'u1', 'acme'), group('g-2', 'u1', 'globex')]);
    // The first change's account write is slow: run side by side, the second change would link first.
    px.script({ method: 'PUT', path: '/accounts/acme', delayMs: 300 });

    if (drain === 'consumer') await drainQueue(handler, esm, parkingUrl);
    else expect(await handler(scheduledEvent(), lambdaContext())).toMatchObject({ ok: true, redrive: { received: 2, delivered: 2 } });

    expect(px.requests.filter((request) => request.method === 'PUT' && request.resource.kind === 'users').map((request) => (request.body as Json).accountId)).toEqual(['acme', 'globex']);
    expect(px.users.get('u1')?.accountId).toBe('globex');
    expect(sqs.messages(parkingUrl)).toEqual([]);
  });

  it.each([
    ['the consumer', 'consumer'],
    ['the scheduled sweep', 'sweep'],
  ] as const)('%s holds back a user\'s later group change while the earlier one fails, so the later one lands last', async (_name, drain) => {
    const handler = await queuedRelay();
    px.users.set('u1', { identifyId: 'u1', propertyKeys: [PRODUCT_KEY] });
    px.accounts.set('acme', { id: 'acme', name: 'Acme', propertyKeys: [PRODUCT_KEY] });
    px.accounts.set('globex', { id: 'globex', name: 'Globex', propertyKeys: [PRODUCT_KEY] });
    await postEvents(handler, [group('g-1', 'u1', 'acme'), group('g-2', 'u1', 'globex')]);
    px.script({ method: 'PUT', path: '/accounts/acme', status: 503, headers: NO_RETRY });
    const run = async (): Promise<void> => {
      if (drain === 'consumer') await drainQueue(handler, esm, parkingUrl);
      else expect(await handler(scheduledEvent(), lambdaContext())).toMatchObject({ ok: true });
    };

    await run();
    expect(px.users.get('u1')?.accountId).toBeUndefined();
    sqs.advance(121_000); // past the failed message's backoff and the queue's visibility timeout
    await run();

    expect(px.requests.filter((request) => request.method === 'PUT' && request.resource.kind === 'users').map((request) => (request.body as Json).accountId)).toEqual(['acme', 'globex']);
    expect(px.users.get('u1')?.accountId).toBe('globex');
    expect(sqs.messages(parkingUrl)).toEqual([]);
  });

  it('keeps a user\'s order through a failure: "Old" fails in the consumer, "New" is held back, and Gainsight ends with "New"', async () => {
    const handler = await queuedRelay();
    px.users.set('u1', { identifyId: 'u1', propertyKeys: [PRODUCT_KEY], title: 'Intern' });
    await postEvents(handler, identify('i-old', 'u1', { title: 'Old' }));
    await postEvents(handler, identify('i-new', 'u1', { title: 'New' }));
    px.script({ method: 'PUT', path: '/users/u1', status: 503, headers: NO_RETRY });

    const first = await pollOnce(handler, esm, parkingUrl);
    expect(first?.retried).toHaveLength(2);
    expect(px.users.get('u1')?.title).toBe('Intern');
    expect(await pollOnce(handler, esm, parkingUrl)).toBeUndefined(); // the whole group waits
    sqs.advance(121_000);
    const second = await pollOnce(handler, esm, parkingUrl);

    expect(second?.retried).toEqual([]);
    expect(second?.deleted).toHaveLength(2);
    expect(px.requests.map((request) => [request.status, (request.body as Json).title])).toEqual([
      [503, 'Old'],
      [204, 'Old'],
      [204, 'New'],
    ]);
    expect(px.users.get('u1')?.title).toBe('New');
    expect(sqs.messages(parkingUrl)).toEqual([]);
  });
});

describe('issue 13 item 4: fleet limits (GAINSIGHT_MAX_IN_FLIGHT)', () => {
  let probe: InFlightProbe | undefined;
  afterEach(async () => {
    await probe?.close();
    probe = undefined;
  });

  const twentyUsers = () => Array.from({ length: 20 }, (_, index) => track(`t-cap-${index}`, `cap-${index}`));

  it.each([
    ['GAINSIGHT_MAX_IN_FLIGHT=2', { GAINSIGHT_MAX_IN_FLIGHT: '2' }, 2],
    ['the default', {}, 4],
  ])('keeps at most the cap in flight (%s) for a 20-user /v1/batch against a slow Gainsight, and delivers all', async (_name, env, cap) => {
    probe = await startInFlightProbe(px.baseUrl, 150);
    const handler = await relay({ GAINSIGHT_PX_BASE_URL: probe.baseUrl, DELIVERY_BUDGET_MS: '8000', ...env });

    const answer = await postTracking(handler, '/v1/batch', { batch: twentyUsers() });

    expect(answer.status).toBe(200);
    expect(answer.body.results.map((line: Json) => line.status)).toEqual(Array(20).fill('delivered'));
    expect(probe.total).toBe(20);
    expect(probe.maxInFlight).toBe(cap);
    expect(px.customEvents).toHaveLength(20);
    expect(sqs.calls).toEqual([]);
  });

  it('shares the cap between concurrent requests of one process', async () => {
    probe = await startInFlightProbe(px.baseUrl, 150);
    const handler = await relay({ GAINSIGHT_PX_BASE_URL: probe.baseUrl, DELIVERY_BUDGET_MS: '8000', GAINSIGHT_MAX_IN_FLIGHT: '2' });
    const [first, second] = [twentyUsers().slice(0, 10), twentyUsers().slice(10)];

    const answers = await Promise.all([postTracking(handler, '/v1/batch', { batch: first }), postTracking(handler, '/v1/batch', { batch: second })]);

    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    expect(probe.total).toBe(20);
    expect(probe.maxInFlight).toBe(2);
    expect(px.customEvents).toHaveLength(20);
  });

  it('caps the consumer too: ten queued users in one SQS batch, at most 2 calls in flight', async () => {
    probe = await startInFlightProbe(px.baseUrl, 150);
    const handler = await queuedRelay({ GAINSIGHT_PX_BASE_URL: probe.baseUrl, GAINSIGHT_MAX_IN_FLIGHT: '2' });
    await postEvents(handler, twentyUsers().slice(0, 10));

    const poll = await pollOnce(handler, esm, parkingUrl);

    expect(poll?.event.Records).toHaveLength(10);
    expect(poll?.retried).toEqual([]);
    expect(probe.total).toBe(10);
    expect(probe.maxInFlight).toBe(2);
    expect(px.customEvents).toHaveLength(10);
  });

  it('does not put a call on the wire after waiting for a slot until too little of the budget is left: those events are parked untried', async () => {
    const handler = await relay({ GAINSIGHT_MAX_IN_FLIGHT: '1' });
    // Budget 2000 ms, parking reserve 600 ms: calls may start until ~1400 ms. The first call holds
    // the only slot for 1250 ms; the others get it with ~150 ms left, under the 250 ms an attempt needs.
    px.script({ method: 'POST', path: '/events/custom', status: 503, headers: NO_RETRY, delayMs: 1250 });
    const events = [track('t-a', 'a'), track('t-b', 'b'), track('t-c', 'c')];

    const answer = await postTracking(handler, '/v1/batch', { batch: events });

    expect(answer.status).toBe(200);
    expect(answer.body.results).toEqual([
      { messageId: 't-a', type: 'track', status: 'queued', reason: 'upstream_unavailable' },
      { messageId: 't-b', type: 'track', status: 'queued', reason: 'gainsight_timeout' },
      { messageId: 't-c', type: 'track', status: 'queued', reason: 'gainsight_timeout' },
    ]);
    expect(answer.ms).toBeLessThan(ANSWER_BOUND_MS);
    // A call that would be aborted a moment later must not go out: Gainsight might apply it, and
    // the parked event would then be sent twice.
    expect(px.requests.map((request) => (request.body as Json).identifyId)).toEqual(['a']);
    expect(sqs.messages(parkingUrl)).toHaveLength(3);
  });
});
