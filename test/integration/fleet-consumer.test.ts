import { createHash } from 'node:crypto';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeGainsight, startFakeGainsight } from '../support/fake-gainsight.ts';
import { type FakeSqs, startFakeSqs } from '../support/fake-sqs.ts';
import { type FakeSsm, startFakeSsm } from '../support/fake-ssm.ts';
import { type Handler, call, httpApiEvent, lambdaContext, loadHandler, scheduledEvent } from '../support/lambda.ts';
import { type SqsEvent, pollOnce, receiveMessages, sqsClientFor, sqsEventOf } from '../support/sqs-event.ts';

/**
 * Issue 13, the consumer (docs/http-contract.md, "The consumer"): the handler invoked with SQS
 * events built the way the event source mapping builds them, from messages received from the
 * loopback SQS fake (FIFO queues, real @aws-sdk/client-sqs), against the loopback Gainsight fake.
 * 3. what it delivers, retries (batchItemFailures, visibility backoff, a FIFO group held back),
 *    moves to the failed queue (rejections, malformed or forged bodies, expired messages), and
 *    that it never throws;
 * 5. queue bodies are checked like inbound events by the scheduled redrive too.
 */

const SECRET = 'whsec-consumer';
const PRODUCT_KEY = 'AP-CONSUMER-1';
const TIME = '2024-05-06T07:08:09.010Z';
const PARKED_KIND = 'gainsight-px-relay.parked-event';
const FAILED_KIND = 'gainsight-px-relay.failed-event';
/** On a failing Gainsight answer: a wait longer than any budget, so the failure is final at once. */
const NO_RETRY = { 'retry-after': '30' };
/** The parking queue's own visibility timeout (serverless.yml parkingVisibilitySeconds). */
const VISIBILITY_S = 120;
const DAY_MS = 24 * 60 * 60 * 1000;

let px: FakeGainsight;
let sqs: FakeSqs;
let esm: SQSClient;
let parkingUrl: string;
let failedUrl: string;

type Json = Record<string, any>;

const track = (messageId: string, userId: string, event = 'Report Exported') => ({ type: 'track', messageId, userId, event, properties: { format: 'csv' }, timestamp: TIME });
const identify = (messageId: string, userId: string) => ({ type: 'identify', messageId, userId, traits: { email: `${userId}@example.test` }, timestamp: TIME });
const group = (messageId: string, userId: string, groupId: string) => ({ type: 'group', messageId, userId, groupId, traits: { name: `Account ${groupId}` }, timestamp: TIME });

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** A parking-queue body as the relay writes one, for a test to seed (or forge) by hand. */
const parkedBody = (event: Json, overrides: Json = {}): string =>
  JSON.stringify({
    kind: PARKED_KIND,
    version: 1,
    event,
    reason: { code: 'queued', message: 'Queued for delivery by the consumer', status: 202 },
    firstFailureAt: TIME,
    parkedAt: TIME,
    attempts: 0,
    resumeAtStep: 0,
    ...overrides,
  });

let seeded = 0;
/** Seeds a message into the FIFO parking queue as another sender could (no call recorded). */
const seed = (body: string, groupId = 'seeded'): string => sqs.send(parkingUrl, body, { messageGroupId: groupId, messageDeduplicationId: `seed-${(seeded += 1)}` });

/** The handler in queued mode with FIFO parking and failed queues; `env` adds or (undefined) removes variables. */
function relay(env: Record<string, string | undefined> = {}): Promise<Handler> {
  return loadHandler({
    PX_API_KEY: px.apiKey,
    PX_PRODUCT_KEY: PRODUCT_KEY,
    WEBHOOK_SECRET: SECRET,
    GAINSIGHT_PX_BASE_URL: px.baseUrl,
    DELIVERY_MODE: 'queued',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDUMMY',
    AWS_SECRET_ACCESS_KEY: 'dummy-secret',
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    DEAD_LETTER_QUEUE_URL: parkingUrl,
    FAILED_QUEUE_URL: failedUrl,
    ...env,
  });
}

/** Queues events through POST /events (queued mode: 202, nothing sent to Gainsight). */
async function enqueue(handler: Handler, events: Json[]): Promise<void> {
  const answer = await call(handler, httpApiEvent({ secret: SECRET, body: events }));
  expect(answer.status).toBe(202);
}

/** The event the mapping would hand over now: up to ten messages received from the parking queue. */
async function receivedEvent(): Promise<SqsEvent> {
  return sqsEventOf(await receiveMessages(esm, parkingUrl), parkingUrl);
}

const ids = (event: SqsEvent | undefined, ...indexes: number[]): string[] => indexes.map((index) => event!.Records[index]!.messageId);
const operations = (name: string): Json[] => sqs.calls.filter((c) => c.operation === name).map((c) => c.body as Json);
const failedCopies = (): Json[] => sqs.messages(failedUrl).map((message) => JSON.parse(message.body) as Json);
/** How long from now (fake clock) a message stays hidden, in whole seconds. */
const hiddenForSeconds = (messageId: string): number => {
  const message = sqs.messages(parkingUrl).find((candidate) => candidate.messageId === messageId)!;
  return Math.round((message.visibleAt - sqs.now()) / 1000);
};

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
  parkingUrl = sqs.createQueue('relay-parking.fifo', { visibilityTimeoutSeconds: VISIBILITY_S, deadLetterQueueName: 'relay-failed.fifo', maxReceiveCount: 100 });
});
afterEach(async () => {
  esm.destroy();
  await sqs.close();
});

describe('issue 13 item 3: the consumer', () => {
  it('delivers every message of a batch and lists none in batchItemFailures', async () => {
    const handler = await relay();
    px.users.set('u1', { identifyId: 'u1', propertyKeys: [PRODUCT_KEY] });
    px.accounts.set('acme', { id: 'acme', name: 'Acme', propertyKeys: [PRODUCT_KEY] });
    await enqueue(handler, [identify('i-u1', 'u1'), track('t-u1', 'u1'), group('g-u2', 'u2', 'acme')]);

    const poll = await pollOnce(handler, esm, parkingUrl);

    expect(poll?.response).toEqual({ batchItemFailures: [] });
    expect(poll?.deleted).toHaveLength(3);
    expect([...px.calls()].sort()).toEqual(['POST /events/custom', 'POST /users', 'PUT /accounts/acme', 'PUT /users/u1', 'PUT /users/u2'].sort());
    expect(px.calls().filter((c) => c.startsWith('PUT /users/u1') || c === 'POST /events/custom')).toEqual(['PUT /users/u1', 'POST /events/custom']);
    expect(operations('ChangeMessageVisibility')).toEqual([]);
    expect(operations('DeleteMessage')).toEqual([]); // the event source mapping deletes, not the relay
    expect(sqs.messages(parkingUrl)).toEqual([]);
    expect(sqs.messages(failedUrl)).toEqual([]);
  });

  it('retries a message Gainsight answers 503 (visibility 60 s), holds back its user\'s later message unsent, and delivers another user\'s', async () => {
    const handler = await relay();
    px.users.set('u1', { identifyId: 'u1', propertyKeys: [PRODUCT_KEY] });
    await enqueue(handler, [identify('i-u1', 'u1'), track('t-u1', 'u1'), track('t-u2', 'u2')]);
    px.script({ method: 'PUT', path: '/users/u1', status: 503, headers: NO_RETRY, times: 10 });

    const first = await pollOnce(handler, esm, parkingUrl);

    const [failing, heldBack, other] = ids(first?.event, 0, 1, 2);
    expect(first?.event.Records.map((record) => record.attributes.ApproximateReceiveCount)).toEqual(['1', '1', '1']);
    expect(first?.response).toEqual({ batchItemFailures: [{ itemIdentifier: failing }, { itemIdentifier: heldBack }] });
    expect(px.calls()).toEqual(['PUT /users/u1', 'POST /events/custom']);
    expect(px.customEvents).toEqual([expect.objectContaining({ identifyId: 'u2' })]);
    expect(operations('ChangeMessageVisibility')).toEqual([
      { QueueUrl: parkingUrl, ReceiptHandle: first!.event.Records[0]!.receiptHandle, VisibilityTimeout: 60 },
    ]);
    expect(hiddenForSeconds(failing!)).toBe(60);
    expect(hiddenForSeconds(heldBack!)).toBe(VISIBILITY_S); // untouched: the queue's own timeout
    expect(first?.deleted).toEqual([other]);
    expect(sqs.messages(parkingUrl).map((message) => message.messageId)).toEqual([failing, heldBack]);

    // Received a second time and failing again: hidden for 120 s.
    sqs.advance(VISIBILITY_S * 1000 + 1000);
    const second = await pollOnce(handler, esm, parkingUrl);

    expect(second?.event.Records.map((record) => [record.messageId, record.attributes.ApproximateReceiveCount])).toEqual([
      [failing, '2'],
      [heldBack, '2'],
    ]);
    expect(second?.retried).toEqual([failing, heldBack]);
    expect(operations('ChangeMessageVisibility').at(-1)).toMatchObject({ VisibilityTimeout: 120 });
    expect(px.calls()).toEqual(['PUT /users/u1', 'POST /events/custom', 'PUT /users/u1']);
  });

  it.each([
    [3, 240],
    [6, 1920],
    [7, 3600],
    [40, 3600],
  ])('backs off a message received %i times for %i s', async (receiveCount, seconds) => {
    const handler = await relay();
    await enqueue(handler, [track('t-u1', 'u1')]);
    px.script({ method: 'POST', path: '/events/custom', status: 503, headers: NO_RETRY });
    const event = await receivedEvent();
    event.Records[0]!.attributes.ApproximateReceiveCount = String(receiveCount);

    const response = await handler(event, lambdaContext());

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: event.Records[0]!.messageId }] });
    expect(operations('ChangeMessageVisibility')).toEqual([expect.objectContaining({ VisibilityTimeout: seconds })]);
  });

  it.each([
    ['429', { status: 429, headers: NO_RETRY }],
    ['401 (our key refused)', { status: 401 }],
  ])('retries a message Gainsight answers %s, hidden for 60 s', async (_name, answer) => {
    const handler = await relay();
    await enqueue(handler, [track('t-u1', 'u1')]);
    px.script({ method: 'POST', path: '/events/custom', ...answer });

    const poll = await pollOnce(handler, esm, parkingUrl);

    expect(poll?.retried).toEqual(ids(poll?.event, 0));
    expect(operations('ChangeMessageVisibility')).toEqual([expect.objectContaining({ VisibilityTimeout: 60 })]);
    expect(px.requests).toHaveLength(1);
    expect(sqs.messages(failedUrl)).toEqual([]);
  });

  it('copies a message Gainsight rejects (400) to the failed queue with the reason, in its user\'s group, and does not retry it', async () => {
    const handler = await relay();
    await enqueue(handler, [track('t-u1', 'u1')]);
    px.script({ method: 'POST', path: '/events/custom', status: 400, body: { externalapierror: { status: 'BAD_REQUEST', message: 'eventName is invalid' } } });

    const poll = await pollOnce(handler, esm, parkingUrl);

    expect(poll?.response).toEqual({ batchItemFailures: [] });
    expect(px.requests).toHaveLength(1);
    const copies = failedCopies();
    expect(copies).toEqual([
      {
        kind: FAILED_KIND,
        version: 1,
        failedAt: expect.any(String),
        reason: { code: 'gainsight_rejected', status: 400, message: expect.stringContaining('eventName is invalid') },
        parked: expect.objectContaining({ kind: PARKED_KIND, event: expect.objectContaining({ messageId: 't-u1', userId: 'u1' }), resumeAtStep: 0 }),
      },
    ]);
    expect(sqs.messages(failedUrl)[0]?.messageGroupId).toBe(sha256Hex('u1'));
    expect(operations('ChangeMessageVisibility')).toEqual([]);
    expect(sqs.messages(parkingUrl)).toEqual([]);
  });

  it('keeps how far a group got when its link is rejected: the failed copy resumes at step 1', async () => {
    const handler = await relay();
    px.users.set('u1', { identifyId: 'u1', propertyKeys: [PRODUCT_KEY] });
    await enqueue(handler, [group('g-u1', 'u1', 'acme')]);
    px.script({ method: 'PUT', path: '/users/u1', status: 400, body: { externalapierror: { status: 'BAD_REQUEST', message: 'accountId is invalid' } } });

    const poll = await pollOnce(handler, esm, parkingUrl);

    expect(poll?.retried).toEqual([]);
    expect(px.calls()).toEqual(['PUT /accounts/acme', 'POST /accounts', 'PUT /users/u1']);
    expect(failedCopies()).toMatchObject([{ reason: { code: 'gainsight_rejected', status: 400 }, parked: { event: { type: 'group', groupId: 'acme' }, resumeAtStep: 1 } }]);
  });

  it.each([
    ['a body that is not JSON', () => 'this is not json', 'unreadable_message'],
    ['JSON of another kind', () => JSON.stringify({ kind: 'someone-else.event', version: 1, event: track('t-x', 'x') }), 'unreadable_message'],
    ['a parked message of an unknown version', () => parkedBody(track('t-x', 'x'), { version: 2 }), 'unreadable_message'],
    ['an identify without a user', () => parkedBody({ type: 'identify', messageId: 'i-nobody', traits: { email: 'x@example.test' } }), 'invalid_event'],
    ['an event of an unknown type', () => parkedBody({ type: 'nonsense', messageId: 'n-1', userId: 'x' }), 'unsupported_type'],
    ['a track resuming at step 5', () => parkedBody(track('t-x', 'x'), { resumeAtStep: 5 }), 'step_out_of_range'],
    ['a track resuming at step 1 (it has one step)', () => parkedBody(track('t-x', 'x'), { resumeAtStep: 1 }), 'step_out_of_range'],
    ['a group resuming at step 2 (it has two)', () => parkedBody(group('g-x', 'x', 'acme'), { resumeAtStep: 2 }), 'step_out_of_range'],
    ['a negative step', () => parkedBody(track('t-x', 'x'), { resumeAtStep: -1 }), 'step_out_of_range'],
    ['a fractional step', () => parkedBody(track('t-x', 'x'), { resumeAtStep: 0.5 }), 'step_out_of_range'],
    ['a step given as text', () => parkedBody(track('t-x', 'x'), { resumeAtStep: '0' }), 'step_out_of_range'],
  ])('moves %s to the failed queue without calling Gainsight', async (_name, body, code) => {
    const handler = await relay();
    const text = body();
    seed(text);

    const poll = await pollOnce(handler, esm, parkingUrl);

    expect(poll?.response).toEqual({ batchItemFailures: [] });
    expect(px.requests).toEqual([]);
    expect(failedCopies()).toEqual([{ kind: FAILED_KIND, version: 1, failedAt: expect.any(String), reason: { code, status: 400, message: expect.any(String) }, parked: text }]);
    expect(sqs.messages(parkingUrl)).toEqual([]);
  });

  it('moves a message sent 14 days ago to the failed queue (expired) without calling Gainsight, and delivers one sent 12 days ago', async () => {
    const handler = await relay();
    await enqueue(handler, [track('t-old', 'u-old'), track('t-recent', 'u-recent')]);
    const ages: Record<string, number> = { 't-old': 14 * DAY_MS, 't-recent': 12 * DAY_MS };

    const poll = await pollOnce(handler, esm, parkingUrl, {
      edit: (event) => {
        for (const record of event.Records) {
          const messageId = (JSON.parse(record.body) as Json).event.messageId as string;
          record.attributes.SentTimestamp = String(Date.now() - ages[messageId]!);
        }
      },
    });

    expect(poll?.response).toEqual({ batchItemFailures: [] });
    expect(px.customEvents).toEqual([expect.objectContaining({ identifyId: 'u-recent' })]);
    expect(failedCopies()).toMatchObject([{ kind: FAILED_KIND, reason: { code: 'expired', status: 400 } }]);
    expect(failedCopies()[0]?.parked).toContain('"t-old"');
    expect(sqs.messages(parkingUrl)).toEqual([]);
  });

  it('retries a rejected message whose copy cannot reach the failed queue', async () => {
    const handler = await relay();
    seed('this is not json');
    sqs.script({ operation: 'SendMessage', status: 500, times: 10 });

    const poll = await pollOnce(handler, esm, parkingUrl);

    expect(poll?.retried).toEqual(ids(poll?.event, 0));
    expect(poll?.deleted).toEqual([]);
    expect(operations('SendMessage').length).toBeGreaterThanOrEqual(1);
    expect(sqs.messages(failedUrl)).toEqual([]);
    expect(sqs.messages(parkingUrl)).toHaveLength(1);
  });

  it('retries a rejected message when FAILED_QUEUE_URL is not set', async () => {
    const handler = await relay({ FAILED_QUEUE_URL: undefined });
    await enqueue(handler, [track('t-u1', 'u1')]);
    px.script({ method: 'POST', path: '/events/custom', status: 400 });

    const poll = await pollOnce(handler, esm, parkingUrl);

    expect(poll?.retried).toEqual(ids(poll?.event, 0));
    expect(sqs.messages(parkingUrl)).toHaveLength(1);
  });

  describe('never throws', () => {
    let ssm: FakeSsm | undefined;
    afterEach(async () => {
      await ssm?.close();
      ssm = undefined;
    });

    it.each([
      ['SSM fails (the configuration cannot be loaded)', 'ssm'],
      ['the environment is invalid', 'env'],
    ] as const)('lists every record in batchItemFailures when %s', async (_name, cause) => {
      ssm = await startFakeSsm();
      ssm.script({ status: 500, times: 100 });
      const handler = await relay(
        cause === 'ssm'
          ? { SSM_PREFIX: '/relay/consumer', AWS_ENDPOINT_URL_SSM: ssm.endpoint, PX_API_KEY: undefined, PX_PRODUCT_KEY: undefined, WEBHOOK_SECRET: undefined }
          : { GAINSIGHT_MAX_IN_FLIGHT: '0' },
      );
      seed(parkedBody(track('t-u1', 'u1')), sha256Hex('u1'));
      seed(parkedBody(track('t-u2', 'u2')), sha256Hex('u2'));
      const event = await receivedEvent();

      const outcome = handler(event, lambdaContext());

      await expect(outcome).resolves.toEqual({ batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })) });
      expect(event.Records).toHaveLength(2);
      expect(ssm.calls.length > 0).toBe(cause === 'ssm');
      expect(px.requests).toEqual([]);
      expect(operations('ChangeMessageVisibility')).toEqual([]);
    });
  });

  it('starts nothing with 3 s left before the Lambda\'s end: every record in batchItemFailures, untouched', async () => {
    const handler = await relay();
    await enqueue(handler, [track('t-u1', 'u1'), track('t-u2', 'u2')]);

    const poll = await pollOnce(handler, esm, parkingUrl, { context: lambdaContext(3000) });

    expect(poll?.retried).toEqual(ids(poll?.event, 0, 1));
    expect(px.requests).toEqual([]);
    expect(operations('ChangeMessageVisibility')).toEqual([]);
    expect(sqs.messages(parkingUrl)).toHaveLength(2);
  });

  it('does not start a user\'s next message when too little time is left after a slow one', async () => {
    const handler = await relay();
    await enqueue(handler, [track('t-1', 'u1', 'First'), track('t-2', 'u1', 'Second')]);
    // 6 s left: the first message starts (5 s before the 1 s margin), takes 1.5 s; the second
    // would need 4 s and 3.5 s are left.
    px.script({ method: 'POST', path: '/events/custom', delayMs: 1500 });

    const poll = await pollOnce(handler, esm, parkingUrl, { context: lambdaContext(6000) });

    expect(poll?.retried).toEqual(ids(poll?.event, 1));
    expect(px.customEvents).toEqual([expect.objectContaining({ eventName: 'First' })]);
    expect(operations('ChangeMessageVisibility')).toEqual([]);
    expect(sqs.messages(parkingUrl).map((message) => (JSON.parse(message.body) as Json).event.event)).toEqual(['Second']);
  });
});

describe('issue 13 item 5: queue bodies are checked like inbound events, by the scheduled redrive too', () => {
  const REDRIVES: [string, () => unknown, string][] = [
    ['the EventBridge schedule', scheduledEvent, 'scheduled'],
    ['the manual {"action":"redrive"}', () => ({ action: 'redrive' }), 'redrive'],
  ];
  const OUT_OF_RANGE: [string, Json, number][] = [
    ['a track at step 5', track('t-x', 'x'), 5],
    ['a track at step 1', track('t-x', 'x'), 1],
    ['a group at step 2', group('g-x', 'x', 'acme'), 2],
  ];

  it.each(REDRIVES.flatMap(([name, event, action]) => OUT_OF_RANGE.map(([what, parked, step]) => [name, what, event, action, parked, step] as const)))(
    '%s moves %s (out of range) to the failed queue without calling Gainsight',
    async (_name, _what, event, action, parkedEvent, step) => {
      const handler = await relay({ DELIVERY_MODE: undefined });
      const text = parkedBody(parkedEvent, { resumeAtStep: step });
      seed(text, sha256Hex('x'));

      const result = (await handler(event(), lambdaContext())) as Json;

      expect(result).toMatchObject({ ok: true, action, redrive: { received: 1, delivered: 0, requeued: 0, rejected: 1, stoppedBy: 'empty' } });
      expect(px.requests).toEqual([]);
      expect(failedCopies()).toEqual([{ kind: FAILED_KIND, version: 1, failedAt: expect.any(String), reason: { code: 'step_out_of_range', status: 400, message: expect.any(String) }, parked: text }]);
      expect(sqs.messages(parkingUrl)).toEqual([]);
    },
  );
});
