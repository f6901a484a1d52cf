import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { Collector, TIME, parkedRecord, useQueueFakes } from '../support/cli.ts';
import type { FakeGainsight } from '../support/fake-gainsight.ts';
import type { FakeSqs } from '../support/fake-sqs.ts';

/**
 * `gainsight-px-relay failed list | replay | purge` against a loopback fake SQS (with the real
 * @aws-sdk/client-sqs) and the fake Gainsight PX, run in-process through `main()`.
 */

let px: FakeGainsight;
let sqs: FakeSqs;
let queues = 0;

const DAY = 86_400_000;
const FAILED = 'gainsight-px-relay.failed-event';
const rejected422 = { code: 'gainsight_rejected', message: 'Gainsight PX rejected PUT /users/{id} with 422: email: invalid', status: 400 };

const failedBody = (
  event: Record<string, unknown>,
  options: { failedAt?: string; reason?: Record<string, unknown>; resumeAtStep?: number } = {},
): string =>
  JSON.stringify({
    kind: FAILED,
    version: 1,
    failedAt: options.failedAt ?? TIME,
    reason: options.reason ?? rejected422,
    parked: parkedRecord(event, options.resumeAtStep),
  });

const identify = (userId: string, email = `${userId}@example.test`) => ({
  type: 'identify',
  messageId: `i-${userId}`,
  userId,
  traits: { email, plan: 'secret-plan-trait' },
  timestamp: TIME,
});
const track = (userId: string, name: string) => ({ type: 'track', messageId: `t-${userId}-${name}`, userId, event: name, timestamp: TIME });

/** A queue of its own for each test (FIFO when asked). */
const newQueue = (fifo = false): string => {
  queues += 1;
  return sqs.createQueue(`cli-failed-${queues}${fifo ? '.fifo' : ''}`, { visibilityTimeoutSeconds: 30 });
};

async function failed(args: string[], env: Record<string, string | undefined> = {}) {
  const stdout = new Collector();
  const stderr = new Collector({ isTTY: false });
  const code = await main(['failed', ...args], {
    stdout,
    stderr,
    env: { PX_API_KEY: px.apiKey, PX_PRODUCT_KEY: 'AP-FAILED-1', GAINSIGHT_PX_BASE_URL: px.baseUrl, ...env },
  });
  return { code, stdout: stdout.text, stderr: stderr.text, lines: stdout.text.split('\n').filter((line) => line !== '') };
}

useQueueFakes((fakes) => ({ px, sqs } = fakes));

describe('failed list', () => {
  it('prints each message with its reason, without traits or secrets, and leaves every message visible', async () => {
    const url = newQueue();
    sqs.send(url, failedBody(identify('u1', 'private@example.test')));
    // A forged reason quoting the API key: the list must not repeat it.
    sqs.send(url, failedBody(track('u2', 'Bought'), { failedAt: '2024-05-07T00:00:00.000Z', reason: { code: 'gainsight_rejected', status: 400, message: `echo ${px.apiKey} \u001b[31mred` } }));

    const result = await failed(['list', '--queue-url', url]);

    expect(result.code).toBe(0);
    expect(result.lines).toEqual([
      `${TIME}  identify  i-u1  u1  gainsight_rejected 400  Gainsight PX rejected PUT /users/{id} with 422: email: invalid`,
      '2024-05-07T00:00:00.000Z  track  t-u2-Bought  u2  gainsight_rejected 400  echo [redacted]  [31mred',
    ]);
    expect(result.stdout).not.toContain('private@example.test');
    expect(result.stdout).not.toContain('secret-plan-trait');
    expect(result.stderr).toContain('listed 2 messages (2 rejected by Gainsight or unreadable); all are in the queue as before');
    expect(sqs.messages(url).map((message) => message.state)).toEqual(['visible', 'visible']);
    expect(sqs.calls.filter((call) => call.operation === 'DeleteMessage' || call.operation === 'DeleteMessageBatch')).toEqual([]);
    expect(px.requests).toEqual([]);
  });

  it('shows unreadable, moved and foreign messages for what they are', async () => {
    const url = newQueue();
    sqs.send(url, JSON.stringify({ kind: FAILED, version: 1, failedAt: TIME, reason: { code: 'unreadable_message', message: 'Parked message is not JSON', status: 400 }, parked: 'not json {' }));
    sqs.send(url, JSON.stringify(parkedRecord(track('u3', 'Moved'))));
    sqs.send(url, 'hello from someone else');

    const result = await failed(['list', '--queue-url', url]);

    expect(result.code).toBe(0);
    expect(result.lines[0]).toBe(`${TIME}  unreadable  -  -  unreadable_message 400  Parked message is not JSON  [unreadable parked message]`);
    expect(result.lines[1]).toBe(`${TIME}  track  t-u3-Moved  u3  upstream_unavailable 503  Gainsight PX answered 503  [parked; moved here by SQS after too many receives]`);
    expect(result.lines[2]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z {2}- {2}- {2}- {2}- {2}not a gainsight-px-relay failed event \(23 bytes; SQS message [0-9a-f-]{36}\)$/);
    expect(result.stderr).toContain('listed 3 messages (1 rejected by Gainsight or unreadable, 1 moved here by SQS, 1 not from the relay)');
  });

  it('stops at --limit and says how many it did not show', async () => {
    const url = newQueue();
    for (let i = 0; i < 5; i += 1) sqs.send(url, failedBody(track(`u${i}`, 'E')));

    const result = await failed(['list', '--queue-url', url, '--limit', '2']);

    expect(result.code).toBe(0);
    expect(result.lines.map((line) => line.split('  ')[2])).toEqual(['t-u0-E', 't-u1-E']);
    expect(result.stderr).toContain('about 3 more messages not shown (--limit)');
    expect(sqs.messages(url).every((message) => message.state === 'visible')).toBe(true);
  });

  it('prints JSON lines, with the whole event only when asked', async () => {
    const url = newQueue();
    const event = identify('u1');
    sqs.send(url, failedBody(event, { resumeAtStep: 0 }));
    const [message] = sqs.messages(url);

    const plainJson = await failed(['list', '--json'], { FAILED_QUEUE_URL: url });
    const withEvents = await failed(['list', '--json', '--show-events'], { FAILED_QUEUE_URL: url });

    const expected = {
      record: 'failed',
      sqsMessageId: message!.messageId,
      sentAt: new Date(message!.sentTimestamp).toISOString(),
      bytes: Buffer.byteLength(message!.body),
      failedAt: TIME,
      type: 'identify',
      messageId: 'i-u1',
      userId: 'u1',
      reason: rejected422,
      resumeAtStep: 0,
      attempts: 3,
    };
    expect(plainJson.lines.map((line) => JSON.parse(line))).toEqual([expected]);
    expect(withEvents.lines.map((line) => JSON.parse(line))).toEqual([{ ...expected, event }]);
  });

  it('says when a FIFO queue holds back a user\'s later messages', async () => {
    const url = newQueue(true);
    for (let i = 0; i < 12; i += 1) {
      sqs.send(url, failedBody(track('u1', `E${i}`)), { messageGroupId: 'g-u1', messageDeduplicationId: `d${i}` });
    }

    const result = await failed(['list', '--queue-url', url]);

    expect(result.lines).toHaveLength(10);
    expect(result.stderr).toContain("about 2 more messages not shown: a FIFO queue hands out none of a user's later messages while earlier ones are held");
    expect(sqs.messages(url).every((message) => message.state === 'visible')).toBe(true);
  });
});

describe('failed replay', () => {
  it('delivers each event with the relay pipeline from its resume step, then deletes it', async () => {
    const url = newQueue();
    px.users.set('u-g', { identifyId: 'u-g' });
    sqs.send(url, failedBody(identify('u1')));
    sqs.send(url, failedBody(track('u1', 'Signed Up')));
    // Its account was written before it failed: only the user link is left.
    sqs.send(url, failedBody({ type: 'group', messageId: 'g-1', userId: 'u-g', groupId: 'acc-1', traits: { name: 'Acme' }, timestamp: TIME }, { resumeAtStep: 1 }));

    const result = await failed(['replay', '--queue-url', url, '--rate', '200']);

    expect(result.code).toBe(0);
    // Users in parallel, each user's calls in order.
    expect(px.calls().filter((call) => call !== 'PUT /users/u-g')).toEqual(['PUT /users/u1', 'POST /users', 'POST /events/custom']);
    expect(px.calls().filter((call) => call === 'PUT /users/u-g')).toHaveLength(1);
    expect(px.requests.find((request) => request.path === '/v1/users/u-g')?.body).toEqual({ accountId: 'acc-1' });
    expect(px.requests.every((request) => request.headers['x-aptrinsic-api-key'] === px.apiKey)).toBe(true);
    expect(px.users.get('u1')).toMatchObject({ identifyId: 'u1', email: 'u1@example.test' });
    expect(px.customEvents).toEqual([expect.objectContaining({ eventName: 'Signed Up', identifyId: 'u1' })]);
    expect(sqs.messages(url)).toEqual([]);
    expect(result.stderr).toMatch(/failed replay finished in [\d.]+s: went through the whole failed queue\n {2}received: +3\n {2}delivered: +3 {2}\(deleted from the failed queue\)\n/);
  });

  it('keeps an event Gainsight rejects again in the queue, once, with the new reason', async () => {
    const url = newQueue(true);
    sqs.send(url, failedBody(identify('bad-user'), { reason: { code: 'gainsight_rejected', status: 400, message: 'old reason' } }), {
      messageGroupId: 'group-bad',
      messageDeduplicationId: 'first',
    });
    px.script({ method: 'PUT', path: '/users/bad-user', status: 422, body: { externalapierror: { message: 'email: still invalid' } } });
    const before = Date.now();

    const result = await failed(['replay', '--queue-url', url]);

    expect(result.code).toBe(1);
    expect(px.calls()).toEqual(['PUT /users/bad-user']);
    const left = sqs.messages(url);
    expect(left).toHaveLength(1);
    expect(left[0]!.state).toBe('visible');
    expect(left[0]!.messageGroupId).toBe('group-bad');
    const record = JSON.parse(left[0]!.body);
    expect(record).toEqual({
      kind: FAILED,
      version: 1,
      failedAt: expect.any(String),
      reason: { code: 'gainsight_rejected', status: 400, message: 'Gainsight PX rejected PUT /users/{id} with 422: email: still invalid' },
      parked: parkedRecord(identify('bad-user')),
    });
    expect(Date.parse(record.failedAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(result.stderr).toContain('rejected again: ');
    expect(result.stderr).toMatch(/ {2}rejected: +1 {2}\(refused again; in the failed queue with the new reason\)/);
  });

  it('keeps the old record when the new reason cannot be stored (the queue policy refuses the sender)', async () => {
    const url = newQueue();
    const body = failedBody(identify('bad-user'), { reason: { code: 'gainsight_rejected', status: 400, message: 'old reason' } });
    sqs.send(url, body);
    px.script({ method: 'PUT', path: '/users/bad-user', status: 422, body: { externalapierror: { message: 'email: still invalid' } } });
    sqs.script({ operation: 'SendMessage', status: 403 });

    const result = await failed(['replay', '--queue-url', url]);

    expect(result.code).toBe(1);
    expect(sqs.messages(url).map((message) => [message.body, message.state])).toEqual([[body, 'visible']]);
    expect(result.stderr).toContain('the new reason could not be stored (AccessDenied: Access to the resource is denied.); the message keeps its old one');
    expect(result.stderr).toMatch(/ {2}kept: +1 {2}\(refused again; the new reason could not be stored, left with the old one\)/);
  });

  it('leaves an event that still fails where it was, and holds back that user\'s later events', async () => {
    const url = newQueue();
    sqs.send(url, failedBody(identify('down-user')));
    sqs.send(url, failedBody(track('down-user', 'After')));
    sqs.send(url, failedBody(identify('ok-user')));
    px.script({ method: 'PUT', path: '/users/down-user', status: 503, times: 50 });
    const bodiesBefore = sqs.messages(url).map((message) => message.body);

    const result = await failed(['replay', '--queue-url', url, '--budget-ms', '1000']);

    expect(result.code).toBe(1);
    expect(px.calls().filter((call) => call === 'PUT /users/down-user').length).toBeGreaterThanOrEqual(1);
    expect(px.customEvents).toEqual([]); // the user's later track waited
    expect(px.users.has('ok-user')).toBe(true);
    expect(sqs.messages(url).map((message) => message.body)).toEqual(bodiesBefore.slice(0, 2));
    expect(sqs.messages(url).every((message) => message.state === 'visible')).toBe(true);
    expect(result.stderr).toMatch(/ {2}failing: +1 {2}\(still failing after retries; left in the failed queue\)\n {2}waiting: +1 /);
  });

  it('replays one user\'s events of a FIFO queue in their order', async () => {
    const url = newQueue(true);
    const names = ['First', 'Second', 'Third', 'Fourth'];
    for (const [i, name] of names.entries()) {
      sqs.send(url, failedBody(track('u-order', name)), { messageGroupId: 'g-order', messageDeduplicationId: `o${i}` });
    }

    const result = await failed(['replay', '--queue-url', url, '--concurrency', '2']);

    expect(result.code).toBe(0);
    expect(px.customEvents.map((event) => (event as { eventName: string }).eventName)).toEqual(names);
    expect(sqs.messages(url)).toEqual([]);
  });

  /** Resolves once Gainsight has received `count` requests (the replay is in the middle of a delivery). */
  const gainsightReceived = async (count: number): Promise<void> => {
    while (px.requests.length < count) await new Promise((resolve) => setTimeout(resolve, 10));
  };

  it('keeps a message hidden while it is handled, longer than 10 minutes when the budget asks for it', async () => {
    const url = newQueue();
    sqs.send(url, failedBody(track('slow-user', 'Slow')));
    px.script({ method: 'POST', path: '/events/custom', delayMs: 1500 });

    const replay = failed(['replay', '--queue-url', url, '--budget-ms', '600000']);
    await gainsightReceived(1);
    // Ten minutes pass while Gainsight answers, and someone lists the queue meanwhile.
    sqs.advance(601_000);
    const list = await failed(['list', '--queue-url', url]);
    const result = await replay;

    expect(list.lines).toEqual([]);
    expect(result.code).toBe(0);
    expect(px.customEvents).toEqual([expect.objectContaining({ eventName: 'Slow', identifyId: 'slow-user' })]);
    expect(sqs.messages(url)).toEqual([]);
    expect(result.stderr).toMatch(/: went through the whole failed queue\n {2}received: +1\n {2}delivered: +1 {2}\(deleted from the failed queue\)\n/);
  });

  it('does not report a message deleted when someone else received it meanwhile (the delete would remove nothing)', async () => {
    const url = newQueue();
    sqs.send(url, failedBody(track('slow-user', 'Slow')));
    px.script({ method: 'POST', path: '/events/custom', delayMs: 3000 });

    const replay = failed(['replay', '--queue-url', url]);
    await gainsightReceived(1);
    // Longer than the replay hides a message with the default budget: `failed list` receives it.
    sqs.advance(11 * 60_000);
    const list = await failed(['list', '--queue-url', url]);
    const result = await replay;

    expect(list.lines.map((line) => line.split('  ')[2])).toEqual(['t-slow-user-Slow']);
    expect(result.code).toBe(1);
    expect(px.customEvents).toHaveLength(1);
    expect(sqs.messages(url).map((message) => [JSON.parse(message.body).parked.event.messageId, message.state])).toEqual([['t-slow-user-Slow', 'visible']]);
    expect(result.stderr).toContain('received by someone else meanwhile (failed list, purge, another replay), not deleted: ');
    expect(result.stderr).toMatch(/ {2}delivered: +0\n {2}lost: +1 {2}\(handled, but received by someone else meanwhile \(failed list, purge, another replay\): not deleted, still in the failed queue; a later replay sends it again\)/);
    expect(result.stderr).not.toContain('deleted from the failed queue');
  });

  it('goes through the whole queue when the messages it keeps become visible again during the pass', async () => {
    const url = newQueue();
    for (let i = 0; i < 250; i += 1) sqs.send(url, `not the relay's ${i}`);
    sqs.send(url, failedBody(track('slow-user', 'Slow')));
    for (let i = 0; i < 5; i += 1) sqs.send(url, failedBody(track(`u${i}`, 'Later')));
    px.script({ method: 'POST', path: '/events/custom', delayMs: 1500 });

    const replay = failed(['replay', '--queue-url', url, '--rate', '200']);
    await gainsightReceived(1);
    // The 250 foreign messages the run keeps become visible again while the slow event is sent.
    sqs.advance(601_000);
    const result = await replay;

    expect(result.code).toBe(1); // the foreign messages stay
    expect(px.customEvents.map((event) => (event as { identifyId: string }).identifyId)).toEqual(['slow-user', 'u0', 'u1', 'u2', 'u3', 'u4']);
    expect(sqs.messages(url)).toHaveLength(250);
    expect(sqs.messages(url).every((message) => message.body.startsWith("not the relay's") && message.state === 'visible')).toBe(true);
    expect(result.stderr).toMatch(/: went through the whole failed queue\n {2}received: +256\n {2}delivered: +6 {2}\(deleted from the failed queue\)\n {2}foreign: +250 /);
  });

  it('prints the planned requests in a dry run and changes nothing', async () => {
    const url = newQueue();
    sqs.send(url, failedBody(track('u1', 'Planned')));

    const result = await failed(['replay', '--queue-url', url, '--dry-run'], { PX_API_KEY: undefined });

    expect(result.code).toBe(0);
    expect(px.requests).toEqual([]);
    const [line] = result.lines.map((text) => JSON.parse(text));
    expect(line).toMatchObject({ type: 'track', status: 'dry-run', requests: [{ method: 'POST', url: `${px.baseUrl}/events/custom`, headers: { 'X-APTRINSIC-API-KEY': '[redacted]' } }] });
    expect(sqs.messages(url)).toHaveLength(1);
    expect(sqs.messages(url)[0]!.state).toBe('visible');
  });
});

describe('failed purge', () => {
  const seedAges = (url: string) => {
    const now = Date.now();
    sqs.send(url, failedBody(track('old1', 'E'), { failedAt: new Date(now - 10 * DAY).toISOString() }));
    sqs.send(url, failedBody(track('young', 'E'), { failedAt: new Date(now - DAY).toISOString() }));
    sqs.send(url, failedBody(track('old2', 'E'), { failedAt: new Date(now - 8 * DAY).toISOString() }));
    sqs.send(url, 'not the relay');
  };

  it('deletes only the messages that failed before the cutoff', async () => {
    const url = newQueue();
    seedAges(url);

    const result = await failed(['purge', '--queue-url', url, '--older-than', '7d']);

    expect(result.code).toBe(0);
    expect(result.lines.map((line) => line.split('  ')[3])).toEqual(['old1', 'old2']);
    expect(sqs.messages(url).map((message) => message.body.startsWith('{') ? JSON.parse(message.body).parked.event.userId : message.body)).toEqual(['young', 'not the relay']);
    expect(sqs.messages(url).every((message) => message.state === 'visible')).toBe(true);
    expect(result.stderr).toMatch(/purge: deleted 2 messages that failed before \S+; kept 1 younger, 1 without a failure time\n/);
  });

  it('deletes nothing in a dry run, listing what it would delete', async () => {
    const url = newQueue();
    seedAges(url);

    const result = await failed(['purge', '--queue-url', url, '--older-than', new Date(Date.now() - 9 * DAY).toISOString().slice(0, 10), '--dry-run', '--json']);

    expect(result.code).toBe(0);
    expect(result.lines.map((line) => JSON.parse(line).userId)).toEqual(['old1']);
    expect(sqs.messages(url)).toHaveLength(4);
    expect(sqs.messages(url).every((message) => message.state === 'visible')).toBe(true);
    expect(result.stderr).toContain('purge --dry-run: would delete 1 message that failed before');
  });
});

describe('failed: usage and queue errors', () => {
  it.each([
    [['list'], 'failed list needs --queue-url (or FAILED_QUEUE_URL)'],
    [['purge', '--queue-url', 'http://127.0.0.1:1/000000000000/q', '--older-than', '7 days'], '--older-than must be an age such as 30m, 12h, 7d, 2w, or an ISO date'],
    [['purge', '--queue-url', 'http://127.0.0.1:1/000000000000/q'], 'purge needs --older-than <age|date>'],
    [['purge', '--queue-url', 'http://127.0.0.1:1/000000000000/q', '--older-than', '2999-01-01'], 'is in the future'],
    [['list', '--queue-url', 'http://127.0.0.1:1/000000000000/q', '--show-events'], '--show-events goes with --json'],
    [['list', '--queue-url', 'not a url'], '--queue-url must be an SQS queue URL'],
    [['drop', '--queue-url', 'http://127.0.0.1:1/000000000000/q'], 'unknown failed command "drop"'],
    [['replay', '--queue-url', 'http://127.0.0.1:1/000000000000/q', '--rate', '500'], 'above Gainsight PX\'s limit'],
  ])('%j exits 2: %s', async (args, message) => {
    const result = await failed(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain('Run "gainsight-px-relay failed --help" for the options.');
  });

  it('replay without an API key is a configuration error (exit 2), before touching the queue', async () => {
    const url = newQueue();
    sqs.send(url, failedBody(track('u1', 'E')));
    const receivesBefore = sqs.calls.filter((call) => call.operation === 'ReceiveMessage').length;

    const result = await failed(['replay', '--queue-url', url], { PX_API_KEY: undefined });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('PX_API_KEY is not set');
    expect(sqs.calls.filter((call) => call.operation === 'ReceiveMessage').length).toBe(receivesBefore);
  });

  it('reports a queue that does not exist (exit 1)', async () => {
    const result = await failed(['list', '--queue-url', `${sqs.endpoint}/${sqs.accountId}/no-such-queue`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: SQS ReceiveMessage failed: QueueDoesNotExist: /);
  });

  it('prints its help', async () => {
    const result = await failed(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('gainsight-px-relay failed purge  --older-than <age|date>');
  });
});
