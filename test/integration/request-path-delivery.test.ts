import { Buffer } from 'node:buffer';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Capture, captureOutput, emittedMetrics, saveEnv } from '../support/capture.ts';
import { type FakeGainsight, startFakeGainsight } from '../support/fake-gainsight.ts';
import { type FakeSqs, startFakeSqs } from '../support/fake-sqs.ts';
import { type Handler, type HttpAnswer, call, httpApiEvent, lambdaContext, loadHandler } from '../support/lambda.ts';

/**
 * Issue 12, delivery defects of the request path, each proved fixed through the real handler
 * (handler.ts, re-imported per environment) against the loopback fakes of Gainsight PX and SQS
 * (real @aws-sdk/client-sqs): docs/http-contract.md: no redirects, mixed batches, resends, message ids,
 * the generic 500, middy's timeout, request-time rejections copied to the failed queue.
 */

const SECRET = 'rpd-webhook-secret';
const WRITE_KEY = 'rpd-write-key';
const PRODUCT_KEY = 'AP-REQUEST-PATH-2';
const TIME = '2024-05-06T07:08:09.010Z';
const FAILED_KIND = 'gainsight-px-relay.failed-event';
const PARKED_KIND = 'gainsight-px-relay.parked-event';
/** Scripted on failing Gainsight answers: longer than any budget, so a failure is final at once. */
const NO_RETRY = { 'retry-after': '30' };

const OUTPUT_ENV = { POWERTOOLS_DEV: 'false', POWERTOOLS_LOG_LEVEL: 'INFO' };
const restoreOutputEnv = saveEnv(Object.keys(OUTPUT_ENV));

let px: FakeGainsight;
let sqs: FakeSqs;
let parkingUrl: string;
let failedUrl: string;
let capture: Capture;

type Json = Record<string, any>;

const basic = (key: string): string => `Basic ${Buffer.from(`${key}:`, 'utf8').toString('base64')}`;
const track = (messageId: string, userId: string, event = 'Report Exported', properties: Json = { format: 'csv' }) => ({
  type: 'track',
  messageId,
  userId,
  event,
  properties,
  timestamp: TIME,
});
const identify = (messageId: string, userId: string) => ({ type: 'identify', messageId, userId, traits: { email: `${userId}@example.test` }, timestamp: TIME });

/** The handler configured from the environment; `parking`/`failed` add those queues (`failed` may name another URL). */
function relay(options: { parking?: boolean; failed?: boolean | string; budgetMs?: number } = {}): Promise<Handler> {
  return loadHandler({
    PX_API_KEY: px.apiKey,
    PX_PRODUCT_KEY: PRODUCT_KEY,
    WEBHOOK_SECRET: SECRET,
    WRITE_KEYS: WRITE_KEY,
    GAINSIGHT_PX_BASE_URL: px.baseUrl,
    DELIVERY_BUDGET_MS: String(options.budgetMs ?? 2000),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDUMMY',
    AWS_SECRET_ACCESS_KEY: 'dummy-secret',
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    ...(options.parking ? { DEAD_LETTER_QUEUE_URL: parkingUrl } : {}),
    ...(options.failed ? { FAILED_QUEUE_URL: typeof options.failed === 'string' ? options.failed : failedUrl } : {}),
  });
}

const postEvents = (handler: Handler, body: unknown, context = lambdaContext()): Promise<HttpAnswer> =>
  call(handler, httpApiEvent({ secret: SECRET, body }), context);
const postTracking = (handler: Handler, path: string, body: unknown): Promise<HttpAnswer> =>
  call(handler, httpApiEvent({ path, secret: null, body, headers: { authorization: basic(WRITE_KEY) } }));

const queueBodies = (url: string): Json[] => sqs.messages(url).map((message) => JSON.parse(message.body) as Json);
const sendMessageCalls = (): number => sqs.calls.filter((c) => c.operation === 'SendMessage').length;
const logLines = (): Json[] => capture.entries().filter((entry) => typeof entry.message === 'string' && typeof entry.level === 'string');

/** The smallest loopback server that records what reaches it: where a redirect would lead. */
async function startRecorder(): Promise<{ origin: string; received: { method: string; url: string; headers: IncomingMessage['headers'] }[]; close(): Promise<void> }> {
  const received: { method: string; url: string; headers: IncomingMessage['headers'] }[] = [];
  const server: Server = createServer((req, res) => {
    received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

beforeAll(async () => {
  Object.assign(process.env, OUTPUT_ENV);
  px = await startFakeGainsight();
});
afterAll(async () => {
  restoreOutputEnv();
  await px.close();
});
beforeEach(async () => {
  px.reset();
  sqs = await startFakeSqs();
  failedUrl = sqs.createQueue('rpd-failed');
  parkingUrl = sqs.createQueue('rpd-parking');
  capture = captureOutput();
});
afterEach(async () => {
  capture.restore();
  vi.restoreAllMocks();
  await sqs.close();
});

describe('Defect "redirects followed with the key": a 3xx from Gainsight is not followed', () => {
  let elsewhere: Awaited<ReturnType<typeof startRecorder>>;
  beforeEach(async () => {
    elsewhere = await startRecorder();
  });
  afterEach(() => elsewhere.close());

  const redirect = () => ({ method: 'POST', path: '/events/custom', status: 302, headers: { location: `${elsewhere.origin}/v1/events/custom` }, body: '' });

  it('answers 503 gainsight_redirect without a parking queue, and the Location host receives nothing', async () => {
    const handler = await relay();
    px.script(redirect());

    const answer = await postEvents(handler, track('redir-1', 'u-redir'));

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('gainsight_redirect');
    expect(answer.body.error.details.results).toEqual([
      { messageId: 'redir-1', type: 'track', status: 'failed', error: expect.objectContaining({ code: 'gainsight_redirect' }) },
    ]);
    expect(px.calls()).toEqual(['POST /events/custom']); // one call: a redirect is not retried either
    expect(elsewhere.received).toEqual([]);
    expect(answer.text).not.toContain(px.apiKey);
  });

  it('parks the event (202 queued) with a parking queue, and the Location host receives nothing', async () => {
    const handler = await relay({ parking: true });
    px.script(redirect());

    const answer = await postEvents(handler, track('redir-2', 'u-redir'));

    expect(answer.status).toBe(202);
    expect(answer.body.results).toEqual([{ messageId: 'redir-2', type: 'track', status: 'queued', reason: 'gainsight_redirect' }]);
    expect(queueBodies(parkingUrl)).toEqual([
      expect.objectContaining({ kind: PARKED_KIND, event: expect.objectContaining({ messageId: 'redir-2' }), reason: expect.objectContaining({ code: 'gainsight_redirect', status: 503 }) }),
    ]);
    expect(elsewhere.received).toEqual([]);
    expect(px.calls()).toEqual(['POST /events/custom']);
  });
});

describe('Defect "a resend after a partial 503 rewrites delivered events on POST /events"', () => {
  it('answers the delivered track of a resent batch as a duplicate without a second call, and delivers the failed one once', async () => {
    const handler = await relay();
    // Same user: delivered in order. The first call passes, the second fails (Retry-After beyond the budget: no retry).
    px.script({ method: 'POST', path: '/events/custom' }, { method: 'POST', path: '/events/custom', status: 500, headers: NO_RETRY });
    const batch = [track('resend-a', 'u-resend', 'Report Exported'), track('resend-b', 'u-resend', 'Report Shared')];

    const partial = await postEvents(handler, batch);

    expect(partial.status).toBe(503);
    expect(partial.body.error.details.results).toEqual([
      { messageId: 'resend-a', type: 'track', status: 'delivered', calls: 1, attempts: 1 },
      { messageId: 'resend-b', type: 'track', status: 'failed', error: expect.objectContaining({ code: 'upstream_unavailable' }) },
    ]);
    expect(px.customEvents).toEqual([expect.objectContaining({ eventName: 'Report Exported' })]);

    const resent = await postEvents(handler, batch);

    expect(resent.status).toBe(200);
    expect(resent.body.results).toEqual([
      { messageId: 'resend-a', type: 'track', status: 'delivered', calls: 0, attempts: 0, duplicate: true },
      { messageId: 'resend-b', type: 'track', status: 'delivered', calls: 1, attempts: 1 },
    ]);
    expect(px.calls()).toEqual(['POST /events/custom', 'POST /events/custom', 'POST /events/custom']);
    expect(px.customEvents).toEqual([expect.objectContaining({ eventName: 'Report Exported' }), expect.objectContaining({ eventName: 'Report Shared' })]);
  });

  it('does not PUT a delivered identify again when its batch is resent', async () => {
    const handler = await relay();
    px.users.set('u-resend-id', { identifyId: 'u-resend-id' });
    px.script({ method: 'POST', path: '/events/custom', status: 500, headers: NO_RETRY });
    const batch = [identify('resend-i', 'u-resend-id'), track('resend-t', 'u-resend-id')];

    const partial = await postEvents(handler, batch);
    const resent = await postEvents(handler, batch);

    expect(partial.status).toBe(503);
    expect(resent.status).toBe(200);
    expect(resent.body.results).toEqual([
      { messageId: 'resend-i', type: 'identify', status: 'delivered', calls: 0, attempts: 0, duplicate: true },
      { messageId: 'resend-t', type: 'track', status: 'delivered', calls: 1, attempts: 1 },
    ]);
    expect(px.calls()).toEqual(['PUT /users/u-resend-id', 'POST /events/custom', 'POST /events/custom']);
  });

  it('sends a changed event that reuses a delivered message id', async () => {
    const handler = await relay();

    const first = await postEvents(handler, track('reused-id', 'u-reuse', 'Report Exported', { format: 'csv' }));
    const same = await postEvents(handler, track('reused-id', 'u-reuse', 'Report Exported', { format: 'csv' }));
    const changed = await postEvents(handler, track('reused-id', 'u-reuse', 'Report Exported', { format: 'pdf' }));

    expect(first.body.results).toEqual([{ messageId: 'reused-id', type: 'track', status: 'delivered', calls: 1, attempts: 1 }]);
    expect(same.body.results).toEqual([{ messageId: 'reused-id', type: 'track', status: 'delivered', calls: 0, attempts: 0, duplicate: true }]);
    expect(changed.status).toBe(200);
    expect(changed.body.results).toEqual([{ messageId: 'reused-id', type: 'track', status: 'delivered', calls: 1, attempts: 1 }]);
    expect(px.customEvents).toEqual([
      expect.objectContaining({ attributes: { format: 'csv' } }),
      expect.objectContaining({ attributes: { format: 'pdf' } }),
    ]);
  });
});

describe('A resend of a parked event is not parked twice', () => {
  it('answers the parked event of a resent batch queued as a duplicate, and the parking queue keeps one message for it', async () => {
    // The failed queue does not exist: the rejected event's copy cannot be stored, so the batch is answered 503.
    const missingQueue = `${sqs.endpoint}/${sqs.accountId}/rpd-missing-failed`;
    const handler = await relay({ parking: true, failed: missingQueue });
    px.users.set('u-rejected', { identifyId: 'u-rejected' });
    px.script(
      { method: 'POST', path: '/events/custom', status: 503, headers: NO_RETRY }, // A: retrying cannot fit the budget → parked
      { method: 'PUT', path: '/users/u-rejected', status: 400 }, // B: rejected for good
    );
    const batch = [track('parked-a', 'u-parked'), identify('rejected-b', 'u-rejected')];

    const first = await postEvents(handler, batch);

    expect(first.status).toBe(503);
    expect(first.body.error.code).toBe('queue_unavailable');
    expect(first.body.error.details.results).toEqual([
      { messageId: 'parked-a', type: 'track', status: 'queued', reason: 'upstream_unavailable' },
      { messageId: 'rejected-b', type: 'identify', status: 'failed', error: expect.objectContaining({ code: 'queue_unavailable' }) },
    ]);
    expect(queueBodies(parkingUrl).map((message) => message.event.messageId)).toEqual(['parked-a']);
    expect(px.calls()).toEqual(['POST /events/custom', 'PUT /users/u-rejected']);

    // The sender retries the whole batch; Gainsight now accepts B.
    px.reset();
    px.users.set('u-rejected', { identifyId: 'u-rejected' });
    sqs.calls.length = 0;
    capture.clear();
    const resent = await postEvents(handler, batch);

    expect(resent.status).toBe(202);
    expect(resent.body.results).toEqual([
      { messageId: 'parked-a', type: 'track', status: 'queued', reason: 'already parked', duplicate: true },
      { messageId: 'rejected-b', type: 'identify', status: 'delivered', calls: 1, attempts: 1 },
    ]);
    expect(px.calls()).toEqual(['PUT /users/u-rejected']);
    expect(sendMessageCalls()).toBe(0);
    const parked = queueBodies(parkingUrl);
    expect(parked).toHaveLength(1);
    expect(parked[0]).toMatchObject({ kind: PARKED_KIND, event: { type: 'track', messageId: 'parked-a', userId: 'u-parked' } });
    const lines = logLines().filter((line) => line.messageId === 'parked-a');
    expect(lines).toEqual([expect.objectContaining({ level: 'INFO', message: 'event queued', type: 'track', outcome: 'duplicate', duplicate: true })]);
    // Nothing was sent for it this time: no calls, attempts or latency to report.
    for (const field of ['calls', 'attempts', 'latencyMs']) expect(lines[0]).not.toHaveProperty(field);
    // Nor was it parked again: the EventsParked metric does not count the resend.
    const metrics = emittedMetrics(capture.entries(), 'GainsightPxRelay');
    expect(metrics).toContainEqual(expect.objectContaining({ name: 'Events', dimensions: expect.objectContaining({ type: 'track', outcome: 'duplicate' }), value: 1 }));
    expect(metrics.filter((metric) => metric.name === 'EventsParked')).toEqual([]);
  });
});

describe('Defect "a 400 KB messageId is kept whole": message ids are capped and remembered as digests', () => {
  const HUGE = 'm'.repeat(400 * 1024);

  it('refuses a 400 KB messageId with 400 naming the field, without echoing it', async () => {
    const handler = await relay();

    const answer = await postEvents(handler, track(`huge-${HUGE}`, 'u-huge'));

    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      error: {
        code: 'invalid_event',
        message: 'Invalid track event: messageId at most 256 characters',
        details: { issues: [{ field: 'messageId', message: 'at most 256 characters' }] },
      },
    });
    expect(px.requests).toEqual([]);
  });

  it('reports an oversized id in an SDK batch without echoing it and delivers the rest', async () => {
    const handler = await relay();

    const answer = await postTracking(handler, '/v1/batch', { batch: [track(`huge-${HUGE}`, 'u-huge'), track('fine-id', 'u-huge')] });

    expect(answer.status).toBe(400);
    expect(answer.body.error.details.results).toEqual([
      { type: 'track', status: 'failed', error: expect.objectContaining({ code: 'invalid_event' }) },
      { messageId: 'fine-id', type: 'track', status: 'delivered', calls: 1, attempts: 1 },
    ]);
    expect(answer.text.length).toBeLessThan(2000);
  });

  it('does not grow the heap over 300 requests carrying 400 KB message ids', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const handler = await relay();
    for (let index = 0; index < 5; index += 1) await postEvents(handler, track(`warm-${index}-${HUGE}`, 'u-heap'));
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;

    const statuses = new Set<number>();
    for (let index = 0; index < 300; index += 1) statuses.add((await postEvents(handler, track(`${index}-${HUGE}`, 'u-heap'))).status);
    capture.clear();
    gc();
    gc();
    const grownBytes = process.memoryUsage().heapUsed - before;

    expect([...statuses]).toEqual([400]);
    expect(grownBytes).toBeLessThan(8 * 1024 * 1024); // the defect kept ~120 MB
  });

  it('remembers 300 delivered events by digests that do not contain their 200-character ids', async () => {
    const handler = await relay();
    const { AcknowledgedEvents } = await import('../../src/delivery/dedupe.ts');
    const remembered = vi.spyOn(AcknowledgedEvents.prototype, 'remember');
    const ids = Array.from({ length: 300 }, (_, index) => `${String(index).padStart(3, '0')}-${'i'.repeat(196)}`);

    for (const id of ids) expect((await postEvents(handler, track(id, 'u-digest'))).status).toBe(200);
    const resent = await postEvents(handler, track(ids[0] as string, 'u-digest'));

    expect(px.customEvents).toHaveLength(300);
    expect(resent.body.results).toEqual([{ messageId: ids[0], type: 'track', status: 'delivered', calls: 0, attempts: 0, duplicate: true }]);
    const keys = remembered.mock.calls.map(([key]) => key);
    expect(keys).toHaveLength(300);
    expect(new Set(keys).size).toBe(300);
    for (const key of keys) {
      expect(key).toMatch(/^[A-Za-z0-9+/]{43}=$/); // a SHA-256 digest, base64
      expect(key).not.toContain('iiiiiiii');
    }
  });
});

describe('Defect "rejected events vanish for SDK senders": request-time rejections are copied to FAILED_QUEUE_URL', () => {
  it('answers an SDK sender 400 and keeps the rejected event, with the reason, in the failed queue', async () => {
    const handler = await relay({ failed: true });
    px.script({ method: 'POST', path: '/events/custom', status: 400, body: { externalapierror: { status: 'BAD_REQUEST', message: 'eventName is too long' } } });

    const answer = await postTracking(handler, '/v1/track', { messageId: 'rej-sdk', userId: 'u-rej', event: 'Exported', timestamp: TIME });

    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('gainsight_rejected');
    const messages = queueBodies(failedUrl);
    expect(messages).toEqual([
      {
        kind: FAILED_KIND,
        version: 1,
        failedAt: expect.any(String),
        reason: { code: 'gainsight_rejected', status: 400, message: 'Gainsight PX rejected POST /events/custom with 400: eventName is too long' },
        parked: expect.objectContaining({
          event: expect.objectContaining({ type: 'track', messageId: 'rej-sdk', userId: 'u-rej', event: 'Exported' }),
          reason: { code: 'gainsight_rejected', status: 400, message: 'Gainsight PX rejected POST /events/custom with 400: eventName is too long' },
          attempts: 1,
        }),
      },
    ]);
    expect(queueBodies(parkingUrl)).toEqual([]);
  });

  it('copies a rejection on POST /events too', async () => {
    const handler = await relay({ failed: true });
    px.script({ method: 'POST', path: '/events/custom', status: 422 });

    const answer = await postEvents(handler, track('rej-events', 'u-rej'));

    expect(answer.status).toBe(400);
    expect(queueBodies(failedUrl)).toEqual([
      expect.objectContaining({ kind: FAILED_KIND, reason: expect.objectContaining({ code: 'gainsight_rejected', status: 400 }), parked: expect.objectContaining({ event: expect.objectContaining({ messageId: 'rej-events' }) }) }),
    ]);
  });

  it('answers 503 when the copy cannot be stored, so the sender retries and nothing is lost', async () => {
    const handler = await relay({ failed: true });
    px.script({ method: 'POST', path: '/events/custom', status: 400 });
    sqs.script({ operation: 'SendMessage', status: 500, times: 10 });

    const answer = await postTracking(handler, '/v1/track', { messageId: 'rej-lost', userId: 'u-rej', event: 'Exported', timestamp: TIME });

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('queue_unavailable');
    expect(answer.body.error.details.results).toEqual([
      { messageId: 'rej-lost', type: 'track', status: 'failed', error: expect.objectContaining({ code: 'queue_unavailable' }) },
    ]);
    expect(sendMessageCalls()).toBe(2); // the SQS client's two attempts
    expect(queueBodies(failedUrl)).toEqual([]);
    expect(px.calls()).toEqual(['POST /events/custom']);
  });
});

describe('Missing test "the 500 path for an unexpected error"', () => {
  it('answers exactly 500 internal with no detail and logs one error line', async () => {
    const handler = await relay();
    const plan = await import('../../src/delivery/plan.ts');
    vi.spyOn(plan, 'planEvent').mockImplementation(() => {
      throw new TypeError('planning bug SENTINEL-5c1d');
    });

    const answer = await postEvents(handler, track('bug-1', 'u-bug'));

    expect(answer.status).toBe(500);
    expect(answer.text).toBe('{"error":{"code":"internal","message":"Unexpected error"}}');
    const errors = logLines().filter((line) => line.level === 'ERROR');
    expect(errors).toEqual([expect.objectContaining({ message: 'unexpected error' })]);
    expect(px.requests).toEqual([]);
  });
});

describe('Missing test "the 503 for a middy timeout"', () => {
  it('answers exactly 503 timeout when the handler outlives the Lambda (a Gainsight call that never returns)', async () => {
    const handler = await relay();
    const { GainsightClient } = await import('../../src/gainsight/client.ts');
    const hung = vi.spyOn(GainsightClient.prototype, 'send').mockImplementation(() => new Promise(() => undefined));
    const started = Date.now();

    const answer = await postEvents(handler, track('slow-1', 'u-slow'), lambdaContext(1500));
    const elapsed = Date.now() - started;

    expect(hung).toHaveBeenCalledTimes(1);
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({ error: { code: 'timeout', message: 'The relay ran out of time' } });
    expect(elapsed).toBeGreaterThanOrEqual(900); // middy answers 500 ms before the Lambda's end
    expect(elapsed).toBeLessThan(1400);
  });

  it('answers a hanging Gainsight itself, 503 gainsight_timeout, before middy would', async () => {
    const handler = await relay();
    px.script({ method: 'POST', path: '/events/custom', hang: true });
    const started = Date.now();

    const answer = await postEvents(handler, track('slow-2', 'u-slow'), lambdaContext(1500));
    const elapsed = Date.now() - started;

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('gainsight_timeout');
    expect(answer.body.error.details.results).toEqual([
      { messageId: 'slow-2', type: 'track', status: 'failed', error: expect.objectContaining({ code: 'gainsight_timeout' }) },
    ]);
    expect(elapsed).toBeLessThan(1000);
  });
});

describe('Missing test "mixed batches": one status from the most urgent outcome, through the handler', () => {
  const failing = (userId: string, status: number, method = 'PUT') => ({
    method,
    path: method === 'PUT' ? `/users/${userId}` : '/events/custom',
    status,
    ...(status === 429 || status >= 500 ? { headers: NO_RETRY } : {}),
  });

  it('429 + 500 → 503', async () => {
    const handler = await relay();
    px.script(failing('u-throttled', 429), failing('u-down', 500));

    const answer = await postEvents(handler, [identify('mix-429', 'u-throttled'), identify('mix-500', 'u-down')]);

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('upstream_unavailable');
    expect(answer.body.error.details.results.map((entry: Json) => entry.error.code)).toEqual(['gainsight_rate_limited', 'upstream_unavailable']);
  });

  it('400 + 500 → 503', async () => {
    const handler = await relay();
    px.script(failing('u-bad', 400), failing('u-down', 500));

    const answer = await postEvents(handler, [identify('mix-400', 'u-bad'), identify('mix-500b', 'u-down')]);

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('upstream_unavailable');
    expect(answer.body.error.details.results.map((entry: Json) => entry.error.code)).toEqual(['gainsight_rejected', 'upstream_unavailable']);
  });

  it('400 + 429 → 429', async () => {
    const handler = await relay();
    px.script(failing('u-bad', 400), failing('u-throttled', 429));

    const answer = await postEvents(handler, [identify('mix-400b', 'u-bad'), identify('mix-429b', 'u-throttled')]);

    expect(answer.status).toBe(429);
    expect(answer.headers['retry-after']).toBe('30');
    expect(answer.body.error.code).toBe('gainsight_rate_limited');
    expect(answer.body.error.details.results.map((entry: Json) => entry.error.code)).toEqual(['gainsight_rejected', 'gainsight_rate_limited']);
  });

  it('400 + parked → 400, the parked one queued', async () => {
    const handler = await relay({ parking: true });
    px.script(failing('u-bad', 400), failing('u-down', 500, 'POST'));

    const answer = await postEvents(handler, [identify('mix-400c', 'u-bad'), track('mix-parked', 'u-down')]);

    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('gainsight_rejected');
    expect(answer.body.error.details.results).toEqual([
      { messageId: 'mix-400c', type: 'identify', status: 'failed', error: expect.objectContaining({ code: 'gainsight_rejected' }) },
      { messageId: 'mix-parked', type: 'track', status: 'queued', reason: 'upstream_unavailable' },
    ]);
    expect(queueBodies(parkingUrl).map((message) => message.event.messageId)).toEqual(['mix-parked']);
  });

  it('delivered + parked → 202 on POST /events and 200 on /v1/batch', async () => {
    const handler = await relay({ parking: true });
    px.users.set('u-ok', { identifyId: 'u-ok' });
    px.script(failing('u-down', 500, 'POST'), failing('u-down', 500, 'POST'));

    const webhook = await postEvents(handler, [identify('mix-ok', 'u-ok'), track('mix-parked-1', 'u-down')]);
    const sdk = await postTracking(handler, '/v1/batch', { batch: [identify('mix-ok-2', 'u-ok'), track('mix-parked-2', 'u-down')] });

    expect(webhook.status).toBe(202);
    expect(webhook.body.results).toEqual([
      { messageId: 'mix-ok', type: 'identify', status: 'delivered', calls: 1, attempts: 1 },
      { messageId: 'mix-parked-1', type: 'track', status: 'queued', reason: 'upstream_unavailable' },
    ]);
    expect(sdk.status).toBe(200);
    expect(sdk.body.results).toEqual([
      { messageId: 'mix-ok-2', type: 'identify', status: 'delivered', calls: 1, attempts: 1 },
      { messageId: 'mix-parked-2', type: 'track', status: 'queued', reason: 'upstream_unavailable' },
    ]);
    expect(queueBodies(parkingUrl).map((message) => message.event.messageId)).toEqual(['mix-parked-1', 'mix-parked-2']);
  });
});
