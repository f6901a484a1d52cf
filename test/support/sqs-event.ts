import { Buffer } from 'node:buffer';
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import type { FakeSqs } from './fake-sqs.ts';
import { type Handler, lambdaContext } from './lambda.ts';

/**
 * The SQS event source mapping, played by a test: messages received from the loopback SQS fake
 * through the real `@aws-sdk/client-sqs` (with every system attribute, as the mapping asks for
 * them), turned into the event Lambda hands the function, and the mapping's bookkeeping after
 * the invocation (partial batch responses: it deletes every message the answer does not list in
 * `batchItemFailures`; an answer it cannot read fails the whole batch, nothing deleted).
 */

/** One record of a Lambda SQS event (`aws-lambda`'s SQSRecord, as Lambda sends it). */
export interface SqsEventRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: Record<string, string>;
  messageAttributes: Record<string, { dataType: string; stringValue?: string; binaryValue?: string; stringListValues: string[]; binaryListValues: string[] }>;
  md5OfBody: string;
  eventSource: 'aws:sqs';
  eventSourceARN: string;
  awsRegion: string;
}

export interface SqsEvent {
  Records: SqsEventRecord[];
}

export interface BatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

const REGION = 'us-east-1';

/** A real SQS client pointed at the fake (dummy credentials, no retries to hide a failure). */
export function sqsClientFor(fake: FakeSqs): SQSClient {
  return new SQSClient({
    endpoint: fake.endpoint,
    region: REGION,
    credentials: { accessKeyId: 'AKIDESM', secretAccessKey: 'dummy-secret' },
    maxAttempts: 1,
  });
}

/** `http://127.0.0.1:PORT/ACCOUNT/NAME` → `arn:aws:sqs:us-east-1:ACCOUNT:NAME`. */
export function queueArnOf(queueUrl: string): string {
  const [account, name] = new URL(queueUrl).pathname.split('/').filter(Boolean);
  return `arn:aws:sqs:${REGION}:${account}:${name}`;
}

/** Receives up to `max` messages as the event source mapping does (all system attributes, no wait). */
export async function receiveMessages(client: SQSClient, queueUrl: string, max = 10): Promise<Message[]> {
  const answer = await client.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: max,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );
  return answer.Messages ?? [];
}

/** The Lambda event for messages received from `queueUrl`. */
export function sqsEventOf(messages: readonly Message[], queueUrl: string): SqsEvent {
  const eventSourceARN = queueArnOf(queueUrl);
  return {
    Records: messages.map((message) => ({
      messageId: message.MessageId!,
      receiptHandle: message.ReceiptHandle!,
      body: message.Body!,
      attributes: { ...(message.Attributes as Record<string, string> | undefined) },
      messageAttributes: Object.fromEntries(
        Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
          name,
          {
            dataType: value.DataType!,
            ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
            ...(value.BinaryValue === undefined ? {} : { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
            stringListValues: [],
            binaryListValues: [],
          },
        ]),
      ),
      md5OfBody: message.MD5OfBody!,
      eventSource: 'aws:sqs',
      eventSourceARN,
      awsRegion: REGION,
    })),
  };
}

/** The message ids an answer asks to retry, or undefined when the answer is not a partial batch response. */
export function retriedIds(response: unknown): string[] | undefined {
  const failures = (response as Partial<BatchResponse> | null)?.batchItemFailures;
  if (!Array.isArray(failures)) return undefined;
  return failures.map((failure) => failure.itemIdentifier);
}

/** Deletes, as the event source mapping does, the records of `event` that the answer did not list. */
export async function acknowledge(client: SQSClient, queueUrl: string, event: SqsEvent, response: unknown): Promise<string[]> {
  const retried = retriedIds(response);
  if (retried === undefined || retried.some((id) => !event.Records.some((record) => record.messageId === id))) return [];
  const done = event.Records.filter((record) => !retried.includes(record.messageId));
  if (done.length === 0) return [];
  await client.send(
    new DeleteMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: done.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
    }),
  );
  return done.map((record) => record.messageId);
}

export interface Poll {
  event: SqsEvent;
  response: unknown;
  /** Message ids the answer listed in batchItemFailures. */
  retried: string[];
  /** Message ids deleted after the invocation. */
  deleted: string[];
}

/**
 * One poll of the event source mapping: receive up to ten messages, invoke the handler with them
 * (unless none came), delete what the answer does not ask to retry. `edit` may change the event
 * before the invocation (e.g. a SentTimestamp as if the message were older).
 */
export async function pollOnce(
  handler: Handler,
  client: SQSClient,
  queueUrl: string,
  options: { context?: Context; edit?: (event: SqsEvent) => void } = {},
): Promise<Poll | undefined> {
  const messages = await receiveMessages(client, queueUrl);
  if (messages.length === 0) return undefined;
  const event = sqsEventOf(messages, queueUrl);
  options.edit?.(event);
  const response = await handler(event, options.context ?? lambdaContext());
  const deleted = await acknowledge(client, queueUrl, event, response);
  return { event, response, retried: retriedIds(response) ?? event.Records.map((record) => record.messageId), deleted };
}

/** Polls until a receive comes back empty (at most `maxPolls` times); returns every poll. */
export async function drainQueue(handler: Handler, client: SQSClient, queueUrl: string, maxPolls = 50): Promise<Poll[]> {
  const polls: Poll[] = [];
  for (let round = 0; round < maxPolls; round += 1) {
    const poll = await pollOnce(handler, client, queueUrl);
    if (poll === undefined) return polls;
    polls.push(poll);
  }
  throw new Error(`the queue was not drained in ${maxPolls} polls`);
}
