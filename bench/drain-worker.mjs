/**
 * One Lambda container of the drain scenario (bench/drain.mjs), in its own process: the
 * production bundle with its own module state — in particular its own GAINSIGHT_MAX_IN_FLIGHT
 * semaphore, as each Lambda container has. Driven over IPC:
 *
 *   { cmd: 'queue', total, users, from, to, perRequest }
 *       phase 1: events [from, to) of the scenario (bench/lib/drain-events.mjs) through the real
 *       handler as POST /events requests of `perRequest` events, one request after another (the
 *       relay runs in DELIVERY_MODE=queued: every event must be answered `queued`)
 *   { cmd: 'drain', queueUrl, queueArn, stopAt }
 *       phase 2: what the SQS event source mapping does for one concurrent invocation, until the
 *       queue is empty: ReceiveMessage (10, MessageSystemAttributeNames All) through the real SDK
 *       client → the Lambda SQS event → the handler → DeleteMessageBatch of every message not in
 *       batchItemFailures (a throw or an answer without batchItemFailures keeps the whole batch)
 *
 * stdout carries the relay's log and metric lines (the parent counts and discards them); results
 * go back over IPC only.
 */
import { pathToFileURL } from 'node:url';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { drainEvent } from './lib/drain-events.mjs';
import { httpApiEvent, lambdaContext } from './lib/events.mjs';

const [bundle, exportName = 'handler', name = 'worker'] = process.argv.slice(2);
const handler = (await import(pathToFileURL(bundle).href))[exportName];
const secret = process.env.BENCH_WEBHOOK_SECRET;
/** The function's timeout (serverless.yml `timeout`): each invocation's deadline. */
const timeoutMs = Number(process.env.BENCH_LAMBDA_TIMEOUT_MS ?? 15_000);
const region = process.env.AWS_REGION ?? 'us-east-1';

let invocations = 0;

async function queue({ total, users, from, to, perRequest }) {
  let requests = 0;
  let queued = 0;
  const started = performance.now();
  for (let start = from; start < Math.min(to, total); start += perRequest) {
    const events = [];
    for (let index = start; index < Math.min(start + perRequest, to, total); index += 1) events.push(drainEvent(index, users));
    invocations += 1;
    const answer = await handler(httpApiEvent(events, secret, invocations), lambdaContext(invocations, timeoutMs));
    requests += 1;
    let results;
    try {
      results = JSON.parse(answer?.body ?? '{}').results;
    } catch {
      results = undefined;
    }
    const allQueued = Array.isArray(results) && results.length === events.length && results.every((entry) => entry.status === 'queued');
    if (answer?.statusCode !== 202 || !allQueued) {
      throw new Error(`POST /events with events ${start}…${start + events.length - 1} answered ${answer?.statusCode}: ${String(answer?.body).slice(0, 400)}`);
    }
    queued += events.length;
  }
  return { requests, queued, ms: performance.now() - started };
}

/** A received message as the event source mapping hands it to the function. */
function recordOf(message, queueArn) {
  return {
    messageId: message.MessageId,
    receiptHandle: message.ReceiptHandle,
    body: message.Body,
    attributes: { ...(message.Attributes ?? {}) },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody,
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

async function drain({ queueUrl, queueArn, stopAt }) {
  const sqs = new SQSClient({ region, maxAttempts: 3 });
  const stats = {
    name,
    invocations: 0,
    messages: 0,
    deleted: 0,
    retried: 0,
    invocationErrors: 0,
    emptyReceives: 0,
    lanes: 0,
    handlerMs: 0,
    maxHandlerMs: 0,
    batchSizes: {},
    lanesPerBatch: {},
    firstReceiveAt: undefined,
    lastDeleteAt: undefined,
  };
  for (;;) {
    if (Date.now() > stopAt) {
      stats.stoppedByDeadline = true;
      break;
    }
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }),
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) {
      stats.emptyReceives += 1;
      const { Attributes: attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
        }),
      );
      const left = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'].reduce(
        (sum, key) => sum + Number(attributes[key] ?? 0),
        0,
      );
      if (left === 0) break;
      continue; // another invocation holds the rest (a FIFO group in flight) or a retry is hidden
    }
    stats.firstReceiveAt ??= Date.now();
    invocations += 1;
    stats.invocations += 1;
    stats.messages += messages.length;
    stats.batchSizes[messages.length] = (stats.batchSizes[messages.length] ?? 0) + 1;
    const lanes = new Set(messages.map((message) => message.Attributes?.MessageGroupId ?? message.MessageId)).size;
    stats.lanes += lanes;
    stats.lanesPerBatch[lanes] = (stats.lanesPerBatch[lanes] ?? 0) + 1;

    const event = { Records: messages.map((message) => recordOf(message, queueArn)) };
    const started = performance.now();
    let keep;
    try {
      const answer = await handler(event, lambdaContext(invocations, timeoutMs));
      if (!Array.isArray(answer?.batchItemFailures)) throw new Error(`no batchItemFailures in ${JSON.stringify(answer).slice(0, 200)}`);
      keep = new Set(answer.batchItemFailures.map((failure) => failure.itemIdentifier));
    } catch (error) {
      // The invocation failed: Lambda keeps the whole batch (visible again after the timeout).
      stats.invocationErrors += 1;
      stats.lastError = error instanceof Error ? error.message : String(error);
      keep = new Set(messages.map((message) => message.MessageId));
    }
    const ms = performance.now() - started;
    stats.handlerMs += ms;
    stats.maxHandlerMs = Math.max(stats.maxHandlerMs, ms);
    stats.retried += keep.size;
    const done = messages.filter((message) => !keep.has(message.MessageId));
    if (done.length > 0) {
      const answer = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle })),
        }),
      );
      stats.deleted += answer.Successful?.length ?? 0;
      stats.lastDeleteAt = Date.now();
    }
  }
  sqs.destroy();
  return stats;
}

const commands = { queue, drain };

process.on('message', async (message) => {
  try {
    const result = await commands[message.cmd](message);
    process.send({ id: message.id, ok: true, result });
  } catch (error) {
    process.send({ id: message.id, ok: false, error: error instanceof Error ? error.stack : String(error) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
