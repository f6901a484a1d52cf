import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  DeduplicationWindow,
  FIFO_ID,
  FIFO_SUFFIX,
  SequenceNumbers,
  contentDeduplicationId,
  fifoDeliveryOrder,
} from './fake-sqs-fifo.ts';
import {
  Script,
  isJsonObject,
  mediaType,
  parseJson,
  recordHeaders,
  resetConnection,
  sendJson,
  sendScripted,
  startLoopbackServer,
  type RecordedHeaders,
  type ScriptedOutcome,
} from './http.ts';

/**
 * A loopback fake of Amazon SQS (standard and FIFO queues) speaking the AWS JSON 1.0 protocol the way
 * `@aws-sdk/client-sqs` v3 sends it: `POST /`, `content-type: application/x-amz-json-1.0`,
 * `x-amz-target: AmazonSQS.<Operation>`, `x-amzn-query-mode: true`, a SigV4 `authorization`
 * header, and a JSON body carrying `QueueUrl` and the operation's members.
 *
 * Errors are answered as SQS does (documented in the SQS developer guide, "JSON error response
 * structure"): HTTP 400/404 with `{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":…}`
 * AND the `x-amzn-query-error: AWS.SimpleQueueService.NonExistentQueue;Sender` header. The SQS
 * client is "awsQueryCompatible": it reads the error code from that header first and maps it to
 * the modelled exception through its `awsQueryError` trait, so the header is what makes the SDK
 * throw `QueueDoesNotExist` (and puts `Code`/`Type` on the error, as the old query API did).
 *
 * Served operations (anything else → 400 `UnsupportedOperation`): SendMessage,
 * SendMessageBatch, ReceiveMessage (with short waits for long polling), DeleteMessage,
 * DeleteMessageBatch, ChangeMessageVisibility, ChangeMessageVisibilityBatch, GetQueueAttributes,
 * GetQueueUrl. Queues are created by the test (`createQueue`), not over the wire.
 *
 * Semantics follow SQS standard queues: a receive hides a message for the visibility timeout and
 * hands out a fresh receipt handle; only the latest handle deletes (an older one "succeeds" and
 * does nothing); a message received `maxReceiveCount` times moves to the dead-letter queue on the
 * next receive instead of being delivered. `MD5OfMessageBody`/`MD5OfBody` are real MD5 hex digests
 * of the UTF-8 body (the SDK verifies them) and `MD5OfMessageAttributes` follows the SQS
 * algorithm (length-prefixed name, data type, transport byte, value; names sorted).
 *
 * FIFO queues (a name ending in `.fifo`; the mechanics live in `fake-sqs-fifo.ts`): a send needs
 * a MessageGroupId (else `MissingParameter`) and a MessageDeduplicationId unless the queue has
 * ContentBasedDeduplication (then the id is the SHA-256 of the body); per-message DelaySeconds is
 * refused. A send whose deduplication id was first sent less than 5 minutes ago (fake clock) is
 * answered with the first message's MessageId and SequenceNumber and stores nothing. Every stored
 * message gets a growing `SequenceNumber`. A receive hands out a group's messages in order and
 * nothing of a group while one of its messages is in flight; it takes as many of one group as it
 * can before the next group. A FIFO queue's dead-letter queue must be FIFO, and a moved message
 * keeps its group, deduplication id and sequence number.
 *
 * Time: the fake keeps its own clock (`now()` = wall clock + `advance(ms)` total), so a test can
 * expire visibility timeouts and delays without waiting. Long polling waits real time, but at
 * most one second (`min(WaitTimeSeconds, 1 s)`), and answers as soon as a message is available.
 *
 * Select it with `endpoint: fake.endpoint` or `AWS_ENDPOINT_URL_SQS = fake.endpoint`. Note the
 * client routes any call carrying a `QueueUrl` to that URL's origin when no explicit `endpoint`
 * is configured (`useQueueUrlAsEndpoint`, default true), so only GetQueueUrl proves the env route.
 */

/** A message attribute as the JSON protocol carries it: `BinaryValue` is base64. */
export interface FakeMessageAttribute {
  DataType: string;
  StringValue?: string;
  BinaryValue?: string;
}

export type FakeMessageState = 'visible' | 'in-flight' | 'delayed';

/** A snapshot of one stored message; changing it changes nothing in the fake. */
export interface FakeMessage {
  messageId: string;
  body: string;
  /** MD5 hex digest of the UTF-8 body. */
  md5OfBody: string;
  /** The user's message attributes (`MessageAttributes` on the wire). */
  messageAttributes: Record<string, FakeMessageAttribute>;
  /** The message system attributes a receive with `All` would report now (`Attributes` on the wire). */
  attributes: Record<string, string>;
  /** How many times the message was received (carried over into a dead-letter queue). */
  receiveCount: number;
  /** Fake-clock epoch ms of the send. */
  sentTimestamp: number;
  /** Fake-clock epoch ms from which a receive may return the message. */
  visibleAt: number;
  state: FakeMessageState;
  /** The receipt handle of the latest receive, the only one that deletes it. */
  receiptHandle?: string;
  /** FIFO queues (and standard ones where the sender gave it): the message group. */
  messageGroupId?: string;
  /** FIFO queues: the given or content-based deduplication id. */
  messageDeduplicationId?: string;
  /** FIFO queues: the SequenceNumber the send was answered with. */
  sequenceNumber?: string;
}

export interface FakeQueueAttributes {
  /** Default visibility timeout for receives, 0–43200 s; SQS's default is 30. */
  visibilityTimeoutSeconds?: number;
  /** With `deadLetterQueueName`: receives allowed before the message moves to the dead-letter queue. */
  maxReceiveCount?: number;
  /** An existing queue of this fake of the same type (FIFO or standard); create it first. */
  deadLetterQueueName?: string;
  /** A FIFO queue; implied by a name ending in `.fifo`, which a FIFO queue's name must have. */
  fifoQueue?: boolean;
  /** FIFO queues only: sends without MessageDeduplicationId use the SHA-256 of the body. Default false. */
  contentBasedDeduplication?: boolean;
}

export interface FakeSendOptions {
  /** Standard queues only, as in SQS. */
  delaySeconds?: number;
  messageAttributes?: Record<string, FakeMessageAttribute>;
  /** Required for FIFO queues. */
  messageGroupId?: string;
  /** FIFO queues: required unless the queue has content-based deduplication. */
  messageDeduplicationId?: string;
}

export interface SqsCall {
  /** The operation from `x-amz-target`, e.g. `SendMessage` (`''` when the header is missing). */
  operation: string;
  /** The raw `x-amz-target` header, e.g. `AmazonSQS.SendMessage`. */
  target: string;
  /** Lowercased header names. */
  headers: RecordedHeaders;
  /** The parsed JSON body (`undefined` if empty or not JSON). */
  body: unknown;
  /** The status answered; `undefined` for a hang, a reset or a long poll still waiting. */
  status?: number;
}

/**
 * A scripted answer, taken by the first call whose `operation` matches (any call when omitted).
 * - `status` (with `body`/`headers`): answered instead of running the operation; an error status
 *   without `body` gets an SQS-style error body and `x-amzn-query-error` header for that status.
 *   A `status: 200` with a hand-made `body` lets a test send e.g. a wrong `MD5OfMessageBody`.
 * - `delayMs` without `status`: the operation runs at once (its effects happen), the answer
 *   leaves `delayMs` later — a reply slower than the client's timeout, as on a slow network.
 * - `hang` / `reset`: the operation does not run; never answered / connection destroyed.
 */
export interface SqsScript extends ScriptedOutcome {
  operation?: string;
}

export interface FakeSqs {
  /** `http://127.0.0.1:PORT`; use as the client's `endpoint` or `AWS_ENDPOINT_URL_SQS`. */
  readonly endpoint: string;
  readonly accountId: string;
  readonly calls: SqsCall[];
  /** Creates a queue (FIFO when the name ends in `.fifo`) and returns its URL, `${endpoint}/${accountId}/${name}`. */
  createQueue(name: string, attributes?: FakeQueueAttributes): string;
  /** The URL of an existing queue; throws for an unknown name. */
  queueUrl(name: string): string;
  /** Every message in the queue (visible, in flight or delayed), oldest first. Takes a URL or a name. */
  messages(queue: string): FakeMessage[];
  /** Seeds a message as SendMessage would (no call recorded); returns its MessageId (a FIFO duplicate's: the first one's). */
  send(queue: string, body: string, options?: FakeSendOptions): string;
  /** Queues answers for the next matching calls, in order. */
  script(...answers: SqsScript[]): void;
  pendingScripts(): number;
  /** The fake clock, epoch ms. */
  now(): number;
  /** Moves the fake clock forward: in-flight and delayed messages whose time has come turn visible. */
  advance(ms: number): void;
  close(): Promise<void>;
}

/** The account id in queue URLs and ARNs unless `startFakeSqs({ accountId })` says otherwise. */
export const FAKE_SQS_ACCOUNT_ID = '000000000000';

const JSON_10 = 'application/x-amz-json-1.0';
const TARGET_PREFIX = 'AmazonSQS.';
const REGION = 'us-east-1';

const MAX_VISIBILITY_SECONDS = 43_200;
const MAX_DELAY_SECONDS = 900;
const MAX_WAIT_SECONDS = 20;
const REAL_WAIT_CAP_MS = 1_000;
const POLL_MS = 20;
const MAX_BATCH = 10;
const MAX_MESSAGE_BYTES = 1_048_576; // 1 MiB per message and per batch (SQS since 2025)
const MAX_ATTRIBUTES = 10;
const RECEIPT_PREFIX = 'AQEB';

/** The message system attributes ReceiveMessage can be asked for (the SDK's enum). */
const MESSAGE_SYSTEM_ATTRIBUTE_NAMES = new Set([
  'All',
  'SenderId',
  'SentTimestamp',
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'SequenceNumber',
  'MessageDeduplicationId',
  'MessageGroupId',
  'AWSTraceHeader',
  'DeadLetterQueueSourceArn',
]);

/** Queue attributes GetQueueAttributes knows (the SDK's enum). */
const QUEUE_ATTRIBUTE_NAMES = new Set([
  'All',
  'Policy',
  'VisibilityTimeout',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
  'QueueArn',
  'ApproximateNumberOfMessagesDelayed',
  'DelaySeconds',
  'ReceiveMessageWaitTimeSeconds',
  'RedrivePolicy',
  'FifoQueue',
  'ContentBasedDeduplication',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
  'DeduplicationScope',
  'FifoThroughputLimit',
  'RedriveAllowPolicy',
  'SqsManagedSseEnabled',
]);

// ---------------------------------------------------------------------------------------------
// Errors: HTTP status, `__type` body and the `x-amzn-query-error: <Code>;<Sender|Receiver>` header.

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** An SQS error. `code` is the legacy query-protocol code the SDK reads from the header. */
class SqsError {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string,
    readonly message: string,
    readonly fault: 'Sender' | 'Receiver' = 'Sender',
  ) {}

  answer(): Answer {
    return {
      status: this.status,
      body: { __type: this.type, message: this.message },
      headers: { 'x-amzn-query-error': `${this.code};${this.fault}` },
    };
  }

  /** A `Failed` entry of a batch answer. */
  entry(id: string): Record<string, unknown> {
    return { Id: id, SenderFault: this.fault === 'Sender', Code: this.code, Message: this.message };
  }
}

const errors = {
  queueDoesNotExist: () =>
    new SqsError(400, 'com.amazonaws.sqs#QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue', 'The specified queue does not exist.'),
  invalidAddress: (url: string) =>
    new SqsError(404, 'com.amazonaws.sqs#InvalidAddress', 'InvalidAddress', `The address ${url} is not valid for this endpoint.`),
  invalidParameter: (message: string) =>
    new SqsError(400, 'com.amazon.coral.service#InvalidParameterValueException', 'InvalidParameterValue', message),
  missingParameter: (name: string) =>
    new SqsError(400, 'com.amazon.coral.service#MissingParameterException', 'MissingParameter', `The request must contain the parameter ${name}.`),
  receiptHandleIsInvalid: (handle: string) =>
    new SqsError(404, 'com.amazonaws.sqs#ReceiptHandleIsInvalid', 'ReceiptHandleIsInvalid', `The input receipt handle "${handle}" is not a valid receipt handle.`),
  messageNotInflight: () =>
    new SqsError(400, 'com.amazonaws.sqs#MessageNotInflight', 'AWS.SimpleQueueService.MessageNotInflight', 'The message referred to is not in flight.'),
  invalidMessageContents: (message: string) =>
    new SqsError(400, 'com.amazonaws.sqs#InvalidMessageContents', 'InvalidMessageContents', message),
  invalidAttributeName: (name: string) =>
    new SqsError(400, 'com.amazonaws.sqs#InvalidAttributeName', 'InvalidAttributeName', `Unknown Attribute ${name}.`),
  emptyBatch: () =>
    new SqsError(400, 'com.amazonaws.sqs#EmptyBatchRequest', 'AWS.SimpleQueueService.EmptyBatchRequest', 'There should be at least one entry in the request.'),
  tooManyEntries: (count: number) =>
    new SqsError(400, 'com.amazonaws.sqs#TooManyEntriesInBatchRequest', 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest', `Maximum number of entries per request are ${MAX_BATCH}. You have sent ${count}.`),
  idsNotDistinct: (id: string) =>
    new SqsError(400, 'com.amazonaws.sqs#BatchEntryIdsNotDistinct', 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct', `Id ${id} repeated.`),
  invalidBatchEntryId: () =>
    new SqsError(400, 'com.amazonaws.sqs#InvalidBatchEntryId', 'AWS.SimpleQueueService.InvalidBatchEntryId', 'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.'),
  batchTooLong: (bytes: number) =>
    new SqsError(400, 'com.amazonaws.sqs#BatchRequestTooLong', 'AWS.SimpleQueueService.BatchRequestTooLong', `Batch requests cannot be longer than ${MAX_MESSAGE_BYTES} bytes. You have sent ${bytes} bytes.`),
  unsupportedOperation: (operation: string) =>
    new SqsError(400, 'com.amazonaws.sqs#UnsupportedOperation', 'AWS.SimpleQueueService.UnsupportedOperation', `The fake does not serve the operation '${operation}'.`),
  unknownOperation: (target: string) =>
    new SqsError(400, 'com.amazon.coral.service#UnknownOperationException', 'UnknownOperation', `Unknown x-amz-target '${target}'; expected AmazonSQS.<Operation>.`),
  serialization: (message: string) =>
    new SqsError(400, 'com.amazon.coral.service#SerializationException', 'SerializationException', message),
  missingAuthentication: () =>
    new SqsError(400, 'com.amazon.coral.service#MissingAuthenticationTokenException', 'MissingAuthenticationToken', 'Request is missing Authentication Token'),
  incompleteSignature: (message: string) =>
    new SqsError(400, 'com.amazon.coral.service#IncompleteSignatureException', 'IncompleteSignature', message),
};

/** The error a scripted status gets when the script gives no body. */
function scriptedError(status: number): SqsError {
  if (status === 503) return new SqsError(503, 'com.amazon.coral.availability#ServiceUnavailableException', 'ServiceUnavailable', 'Service Unavailable', 'Receiver');
  if (status >= 500) return new SqsError(status, 'com.amazon.coral.service#InternalFailure', 'InternalFailure', 'Scripted internal error', 'Receiver');
  if (status === 400) return new SqsError(400, 'com.amazon.coral.availability#ThrottlingException', 'ThrottlingException', 'Rate exceeded');
  if (status === 403) return new SqsError(403, 'com.amazon.coral.service#AccessDeniedException', 'AccessDenied', 'Access to the resource is denied.');
  return new SqsError(status, 'com.amazon.coral.service#InvalidRequestException', 'InvalidRequest', `Scripted ${status}`);
}

// ---------------------------------------------------------------------------------------------
// Checksums

const md5Hex = (data: string | Buffer): string => createHash('md5').update(data).digest('hex');

/**
 * MD5OfMessageAttributes as SQS computes it: for each attribute, names sorted, the 4-byte
 * big-endian length and UTF-8 bytes of the name, then of the data type, then one transport byte
 * (1 = String/Number, 2 = Binary), then the length-prefixed value (UTF-8 string or raw bytes).
 */
export function md5OfMessageAttributes(attributes: Record<string, FakeMessageAttribute>): string {
  const hash = createHash('md5');
  const put = (bytes: Buffer): void => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length);
    hash.update(bytes);
  };
  for (const name of Object.keys(attributes).sort()) {
    const attribute = attributes[name]!;
    put(Buffer.from(name, 'utf8'));
    put(Buffer.from(attribute.DataType, 'utf8'));
    if (attribute.DataType.startsWith('Binary')) {
      hash.update(Buffer.from([2]));
      put(Buffer.from(attribute.BinaryValue ?? '', 'base64'));
    } else {
      hash.update(Buffer.from([1]));
      put(Buffer.from(attribute.StringValue ?? '', 'utf8'));
    }
  }
  return hash.digest('hex');
}

// ---------------------------------------------------------------------------------------------
// State

interface StoredMessage {
  messageId: string;
  body: string;
  md5OfBody: string;
  messageAttributes: Record<string, FakeMessageAttribute>;
  traceHeader?: string;
  messageGroupId?: string;
  messageDeduplicationId?: string;
  sequenceNumber?: string;
  senderId: string;
  sentTimestamp: number;
  firstReceiveTimestamp?: number;
  receiveCount: number;
  visibleAt: number;
  receiptHandle?: string;
  receivedAt?: number;
  deadLetterQueueSourceArn?: string;
}

interface Queue {
  name: string;
  url: string;
  arn: string;
  createdTimestamp: number;
  visibilityTimeoutSeconds: number;
  maxReceiveCount?: number;
  deadLetterQueueName?: string;
  /** Set for FIFO queues only. */
  fifo?: FifoQueue;
  messages: StoredMessage[];
}

interface FifoQueue {
  contentBasedDeduplication: boolean;
  deduplication: DeduplicationWindow;
}

/** A validated message, ready to store. */
interface NewMessage {
  body: string;
  delaySeconds: number;
  messageAttributes: Record<string, FakeMessageAttribute>;
  traceHeader?: string;
  messageGroupId?: string;
  /** FIFO queues: the given or content-based id. */
  messageDeduplicationId?: string;
}

/** What a send stored or, for a FIFO duplicate, the message it repeats. */
interface Accepted {
  messageId: string;
  sequenceNumber?: string;
}

const BATCH_ID = /^[A-Za-z0-9_-]{1,80}$/;
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,256}$/;
const DATA_TYPE = /^(String|Number|Binary)(\.[^\s]{1,250})?$/;
const NUMBER_VALUE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
// The characters SQS accepts in a body or string attribute (XML 1.0 chars).
const INVALID_CHARS = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

const isInt = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value);

function optionalInt(body: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (!isInt(value) || value < min || value > max) {
    throw errors.invalidParameter(`Value ${JSON.stringify(value)} for parameter ${name} is invalid. Reason: Must be between ${min} and ${max}, if provided.`);
  }
  return value;
}

function requiredString(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (value === undefined || value === null || value === '') throw errors.missingParameter(name);
  if (typeof value !== 'string') throw errors.serialization(`${name} must be a string`);
  return value;
}

function stringList(body: Record<string, unknown>, name: string): string[] {
  const value = body[name];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw errors.serialization(`${name} must be a list of strings`);
  }
  return value;
}

function validateAttributes(value: unknown, what: string): Record<string, FakeMessageAttribute> {
  if (value === undefined || value === null) return {};
  if (!isJsonObject(value)) throw errors.serialization(`${what} must be a map`);
  const names = Object.keys(value);
  if (names.length > MAX_ATTRIBUTES) {
    throw errors.invalidParameter(`Number of message attributes [${names.length}] exceeds the allowed maximum [${MAX_ATTRIBUTES}].`);
  }
  const out: Record<string, FakeMessageAttribute> = {};
  for (const name of names) {
    const attribute = value[name];
    if (
      !ATTRIBUTE_NAME.test(name) ||
      /^(aws\.|amazon\.)/i.test(name) ||
      name.startsWith('.') ||
      name.endsWith('.') ||
      name.includes('..')
    ) {
      throw errors.invalidParameter(`Message (user) attribute name '${name}' is invalid.`);
    }
    if (!isJsonObject(attribute)) throw errors.serialization(`${what}.${name} must be a structure`);
    const dataType = attribute['DataType'];
    if (typeof dataType !== 'string' || dataType === '') {
      throw errors.invalidParameter(`The message attribute '${name}' must contain a non-empty attribute type.`);
    }
    if (!DATA_TYPE.test(dataType)) {
      throw errors.invalidParameter(`The type of message (user) attribute '${name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String.`);
    }
    const lists = [attribute['StringListValues'], attribute['BinaryListValues']];
    if (lists.some((list) => Array.isArray(list) && list.length > 0)) {
      throw errors.invalidParameter(`Message attribute list values in SendMessage operation are not supported.`);
    }
    if (dataType.startsWith('Binary')) {
      const binary = attribute['BinaryValue'];
      if (typeof binary !== 'string' || binary === '' || !BASE64.test(binary)) {
        throw errors.invalidParameter(`The message attribute '${name}' with type 'Binary' must use field 'Binary'.`);
      }
      out[name] = { DataType: dataType, BinaryValue: binary };
    } else {
      const text = attribute['StringValue'];
      if (typeof text !== 'string' || text === '') {
        throw errors.invalidParameter(`The message attribute '${name}' with type '${dataType.split('.')[0]!}' must use field 'String'.`);
      }
      if (INVALID_CHARS.test(text)) {
        throw errors.invalidMessageContents(`Invalid characters found in the message attribute '${name}'.`);
      }
      if (dataType.startsWith('Number') && !NUMBER_VALUE.test(text)) {
        throw errors.invalidParameter(`Can't cast the value of message (user) attribute '${name}' to a number.`);
      }
      out[name] = { DataType: dataType, StringValue: text };
    }
  }
  return out;
}

function attributesBytes(attributes: Record<string, FakeMessageAttribute>): number {
  let bytes = 0;
  for (const [name, attribute] of Object.entries(attributes)) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(attribute.DataType);
    bytes += attribute.BinaryValue !== undefined
      ? Buffer.from(attribute.BinaryValue, 'base64').length
      : Buffer.byteLength(attribute.StringValue ?? '');
  }
  return bytes;
}

/**
 * A FIFO send's MessageGroupId and MessageDeduplicationId, checked in SQS's order (per-message
 * delay, group, deduplication id). Throws an SqsError.
 */
function fifoIdentity(entry: Record<string, unknown>, body: string, delaySeconds: number, fifo: FifoQueue): { messageGroupId: string; messageDeduplicationId: string } {
  if (delaySeconds > 0) {
    throw errors.invalidParameter(`Value ${delaySeconds} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.`);
  }
  const fifoId = (name: 'MessageGroupId' | 'MessageDeduplicationId'): string | undefined => {
    const value = entry[name];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') throw errors.serialization(`${name} must be a string`);
    if (!FIFO_ID.test(value)) {
      throw errors.invalidParameter(`Value ${value} for parameter ${name} is invalid. Reason: ${name} can only include alphanumeric and punctuation characters. 1 to 128 in length.`);
    }
    return value;
  };
  const messageGroupId = fifoId('MessageGroupId');
  if (messageGroupId === undefined) throw errors.missingParameter('MessageGroupId');
  const messageDeduplicationId = fifoId('MessageDeduplicationId') ?? (fifo.contentBasedDeduplication ? contentDeduplicationId(body) : undefined);
  if (messageDeduplicationId === undefined) {
    throw errors.invalidParameter('The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly');
  }
  return { messageGroupId, messageDeduplicationId };
}

/** Validates one SendMessage / SendMessageBatch entry for the queue. Throws an SqsError. */
function validateMessage(entry: Record<string, unknown>, queue: Queue): NewMessage {
  const body = entry['MessageBody'];
  if (body === undefined || body === null || body === '') throw errors.missingParameter('MessageBody');
  if (typeof body !== 'string') throw errors.serialization('MessageBody must be a string');
  if (INVALID_CHARS.test(body)) {
    throw errors.invalidMessageContents('Invalid binary character in the message body. Only the characters #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF are allowed.');
  }
  const delaySeconds = optionalInt(entry, 'DelaySeconds', 0, MAX_DELAY_SECONDS) ?? 0;
  const messageAttributes = validateAttributes(entry['MessageAttributes'], 'MessageAttributes');

  const system = entry['MessageSystemAttributes'];
  let traceHeader: string | undefined;
  if (system !== undefined && system !== null) {
    if (!isJsonObject(system)) throw errors.serialization('MessageSystemAttributes must be a map');
    for (const [name, value] of Object.entries(system)) {
      if (name !== 'AWSTraceHeader') {
        throw errors.invalidParameter(`Message system attribute name '${name}' is invalid.`);
      }
      if (!isJsonObject(value) || value['DataType'] !== 'String' || typeof value['StringValue'] !== 'string') {
        throw errors.invalidParameter(`Message system attribute 'AWSTraceHeader' must have DataType String and a StringValue.`);
      }
      traceHeader = value['StringValue'];
    }
  }
  let identity: { messageGroupId?: string; messageDeduplicationId?: string } = {};
  if (queue.fifo) {
    identity = fifoIdentity(entry, body, delaySeconds, queue.fifo);
  } else {
    if (entry['MessageDeduplicationId'] !== undefined && entry['MessageDeduplicationId'] !== null) {
      throw errors.invalidParameter('The request include parameter MessageDeduplicationId which is not valid for this queue type');
    }
    const group = entry['MessageGroupId'];
    if (group !== undefined && group !== null && typeof group !== 'string') {
      throw errors.serialization('MessageGroupId must be a string');
    }
    if (typeof group === 'string') identity = { messageGroupId: group };
  }

  const bytes = Buffer.byteLength(body) + attributesBytes(messageAttributes);
  if (bytes > MAX_MESSAGE_BYTES) {
    throw errors.invalidParameter(`One or more parameters are invalid. Reason: Message must be shorter than ${MAX_MESSAGE_BYTES} bytes.`);
  }
  return {
    body,
    delaySeconds,
    messageAttributes,
    ...(traceHeader === undefined ? {} : { traceHeader }),
    ...identity,
  };
}

interface BatchEntry {
  id: string;
  entry: Record<string, unknown>;
}

/** The shared checks of the three batch operations. Throws an SqsError. */
function batchEntries(body: Record<string, unknown>): BatchEntry[] {
  const entries = body['Entries'];
  if (entries === undefined || entries === null || (Array.isArray(entries) && entries.length === 0)) {
    throw errors.emptyBatch();
  }
  if (!Array.isArray(entries)) throw errors.serialization('Entries must be a list');
  if (entries.length > MAX_BATCH) throw errors.tooManyEntries(entries.length);
  const seen = new Set<string>();
  const out: BatchEntry[] = [];
  for (const entry of entries) {
    if (!isJsonObject(entry)) throw errors.serialization('Each entry must be a structure');
    const id = entry['Id'];
    if (typeof id !== 'string' || !BATCH_ID.test(id)) throw errors.invalidBatchEntryId();
    if (seen.has(id)) throw errors.idsNotDistinct(id);
    seen.add(id);
    out.push({ id, entry });
  }
  return out;
}

/**
 * Whether `createQueue` makes a FIFO queue: a name ending in `.fifo` does (SQS counts the suffix
 * in the 80 characters); `fifoQueue` may say so too, but not contradict the name. Throws.
 */
function isFifoQueue(name: string, attributes: FakeQueueAttributes): boolean {
  const fifo = name.endsWith(FIFO_SUFFIX);
  const base = fifo ? name.slice(0, -FIFO_SUFFIX.length) : name;
  if (!/^[A-Za-z0-9_-]+$/.test(base) || name.length > 80) {
    throw new Error(`fake SQS: invalid queue name '${name}' (1-80 of A-Z a-z 0-9 _ -, and a FIFO queue's ends in ${FIFO_SUFFIX})`);
  }
  if (attributes.fifoQueue !== undefined && attributes.fifoQueue !== fifo) {
    throw new Error(`fake SQS: queue '${name}': ${fifo ? `a name ending in ${FIFO_SUFFIX} makes a FIFO queue` : `a FIFO queue's name must end in ${FIFO_SUFFIX}`}`);
  }
  if (!fifo && attributes.contentBasedDeduplication !== undefined) {
    throw new Error(`fake SQS: queue '${name}': contentBasedDeduplication is for FIFO queues only`);
  }
  return fifo;
}

/** `Credential=AKID/20260101/us-east-1/sqs/aws4_request` → the access key id and region. */
function parseAuthorization(authorization: string): { accessKeyId: string; region: string } {
  if (authorization === '') throw errors.missingAuthentication();
  const match = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(authorization);
  if (!match) {
    throw errors.incompleteSignature(`Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' (AWS4-HMAC-SHA256). Authorization=${authorization}`);
  }
  if (match[4] !== 'sqs') {
    throw errors.incompleteSignature(`Credential should be scoped to correct service: 'sqs', not '${match[4]!}'.`);
  }
  return { accessKeyId: match[1]!, region: match[3]! };
}

// ---------------------------------------------------------------------------------------------

export async function startFakeSqs(options: { accountId?: string } = {}): Promise<FakeSqs> {
  const accountId = options.accountId ?? FAKE_SQS_ACCOUNT_ID;
  const queues = new Map<string, Queue>();
  const calls: SqsCall[] = [];
  const scripts = new Script<SqsScript>();
  const sequenceNumbers = new SequenceNumbers();
  let clockOffset = 0;
  let handleSeq = 0;

  const now = (): number => Date.now() + clockOffset;

  // The server must exist before URLs can be made; the listener only runs after it does.
  let loopback: Awaited<ReturnType<typeof startLoopbackServer>>;

  const stateOf = (message: StoredMessage, at: number): FakeMessageState =>
    message.visibleAt <= at ? 'visible' : message.receiveCount > 0 ? 'in-flight' : 'delayed';

  const findQueue = (queue: string): Queue | undefined => {
    if (!queue.includes('/')) return queues.get(queue);
    let path: string;
    try {
      path = new URL(queue).pathname;
    } catch {
      return undefined;
    }
    const [, account, name, ...rest] = path.split('/');
    if (account !== accountId || name === undefined || rest.some((part) => part !== '')) return undefined;
    return queues.get(decodeURIComponent(name));
  };

  /** The queue a call's `QueueUrl` names. Throws an SqsError. */
  const queueOf = (body: Record<string, unknown>): Queue => {
    const url = requiredString(body, 'QueueUrl');
    try {
      new URL(url);
    } catch {
      throw errors.invalidAddress(url);
    }
    const queue = findQueue(url);
    if (!queue) throw errors.queueDoesNotExist();
    return queue;
  };

  /**
   * Stores a validated message, unless it is a FIFO duplicate: a deduplication id first sent
   * within the interval is accepted as that first message and stores nothing.
   */
  const accept = (queue: Queue, message: NewMessage, senderId: string): Accepted => {
    const at = now();
    const dedupId = message.messageDeduplicationId;
    const original = queue.fifo && dedupId !== undefined ? queue.fifo.deduplication.original(dedupId, at) : undefined;
    if (original) return original;
    const stored: StoredMessage = {
      messageId: randomUUID(),
      body: message.body,
      md5OfBody: md5Hex(Buffer.from(message.body, 'utf8')),
      messageAttributes: message.messageAttributes,
      ...(message.traceHeader === undefined ? {} : { traceHeader: message.traceHeader }),
      ...(message.messageGroupId === undefined ? {} : { messageGroupId: message.messageGroupId }),
      senderId,
      sentTimestamp: at,
      receiveCount: 0,
      visibleAt: at + message.delaySeconds * 1000,
    };
    if (queue.fifo && dedupId !== undefined) {
      stored.messageDeduplicationId = dedupId;
      stored.sequenceNumber = sequenceNumbers.next();
      queue.fifo.deduplication.remember(dedupId, at, { messageId: stored.messageId, sequenceNumber: stored.sequenceNumber });
    }
    queue.messages.push(stored);
    return stored;
  };

  /** The members of a SendMessage answer (and of a SendMessageBatch entry): digests of what was sent. */
  const sendAnswer = (message: NewMessage, accepted: Accepted): Record<string, unknown> => ({
    MessageId: accepted.messageId,
    MD5OfMessageBody: md5Hex(Buffer.from(message.body, 'utf8')),
    ...(Object.keys(message.messageAttributes).length > 0 ? { MD5OfMessageAttributes: md5OfMessageAttributes(message.messageAttributes) } : {}),
    ...(message.traceHeader === undefined
      ? {}
      : { MD5OfMessageSystemAttributes: md5OfMessageAttributes({ AWSTraceHeader: { DataType: 'String', StringValue: message.traceHeader } }) }),
    ...(accepted.sequenceNumber === undefined ? {} : { SequenceNumber: accepted.sequenceNumber }),
  });

  const systemAttributes = (message: StoredMessage, wanted: Set<string>): Record<string, string> => {
    const all = wanted.has('All');
    const out: Record<string, string> = {};
    const put = (name: string, value: string | number | undefined): void => {
      if (value !== undefined && (all || wanted.has(name))) out[name] = String(value);
    };
    put('SenderId', message.senderId);
    put('ApproximateFirstReceiveTimestamp', message.firstReceiveTimestamp);
    put('ApproximateReceiveCount', message.receiveCount);
    put('SentTimestamp', message.sentTimestamp);
    put('AWSTraceHeader', message.traceHeader);
    put('MessageGroupId', message.messageGroupId);
    put('MessageDeduplicationId', message.messageDeduplicationId);
    put('SequenceNumber', message.sequenceNumber);
    put('DeadLetterQueueSourceArn', message.deadLetterQueueSourceArn);
    return out;
  };

  const snapshot = (message: StoredMessage, at: number): FakeMessage => ({
    messageId: message.messageId,
    body: message.body,
    md5OfBody: message.md5OfBody,
    messageAttributes: structuredClone(message.messageAttributes),
    attributes: systemAttributes(message, new Set(['All'])),
    receiveCount: message.receiveCount,
    sentTimestamp: message.sentTimestamp,
    visibleAt: message.visibleAt,
    state: stateOf(message, at),
    ...(message.receiptHandle === undefined ? {} : { receiptHandle: message.receiptHandle }),
    ...(message.messageGroupId === undefined ? {} : { messageGroupId: message.messageGroupId }),
    ...(message.messageDeduplicationId === undefined ? {} : { messageDeduplicationId: message.messageDeduplicationId }),
    ...(message.sequenceNumber === undefined ? {} : { sequenceNumber: message.sequenceNumber }),
  });

  const newReceiptHandle = (queue: Queue, message: StoredMessage): string => {
    handleSeq += 1;
    const payload = [queue.name, message.messageId, String(handleSeq), randomBytes(12).toString('hex')].join('\n');
    return RECEIPT_PREFIX + Buffer.from(payload, 'utf8').toString('base64');
  };

  /** The message id a receipt handle of this queue names. Throws ReceiptHandleIsInvalid. */
  const handleTarget = (queue: Queue, handle: string): string => {
    if (handle.startsWith(RECEIPT_PREFIX)) {
      const parts = Buffer.from(handle.slice(RECEIPT_PREFIX.length), 'base64').toString('utf8').split('\n');
      if (parts.length === 4 && parts[0] === queue.name && parts[1]) return parts[1];
    }
    throw errors.receiptHandleIsInvalid(handle);
  };

  // --- operations (each returns the 200 body or throws an SqsError) ---------------------------

  const sendMessage = (body: Record<string, unknown>, senderId: string): unknown => {
    const queue = queueOf(body);
    const message = validateMessage(body, queue);
    return sendAnswer(message, accept(queue, message, senderId));
  };

  const sendMessageBatch = (body: Record<string, unknown>, senderId: string): unknown => {
    const queue = queueOf(body);
    const entries = batchEntries(body);
    const total = entries.reduce((sum, { entry }) => {
      const text = typeof entry['MessageBody'] === 'string' ? entry['MessageBody'] : '';
      let attributes = 0;
      try {
        attributes = attributesBytes(validateAttributes(entry['MessageAttributes'], 'MessageAttributes'));
      } catch {
        // an invalid entry fails on its own below
      }
      return sum + Buffer.byteLength(text) + attributes;
    }, 0);
    if (total > MAX_MESSAGE_BYTES) throw errors.batchTooLong(total);
    const successful: unknown[] = [];
    const failed: unknown[] = [];
    for (const { id, entry } of entries) {
      let message: NewMessage;
      try {
        message = validateMessage(entry, queue);
      } catch (error) {
        if (!(error instanceof SqsError)) throw error;
        failed.push(error.entry(id));
        continue;
      }
      successful.push({ Id: id, ...sendAnswer(message, accept(queue, message, senderId)) });
    }
    return { Successful: successful, Failed: failed };
  };

  interface ReceiveRequest {
    queue: Queue;
    max: number;
    visibilitySeconds: number;
    waitSeconds: number;
    systemNames: Set<string>;
    attributeNames: string[];
  }

  const parseReceive = (body: Record<string, unknown>): ReceiveRequest => {
    const queue = queueOf(body);
    const max = optionalInt(body, 'MaxNumberOfMessages', 1, MAX_BATCH) ?? 1;
    const visibilitySeconds = optionalInt(body, 'VisibilityTimeout', 0, MAX_VISIBILITY_SECONDS) ?? queue.visibilityTimeoutSeconds;
    const waitSeconds = optionalInt(body, 'WaitTimeSeconds', 0, MAX_WAIT_SECONDS) ?? 0;
    const systemNames = new Set([...stringList(body, 'AttributeNames'), ...stringList(body, 'MessageSystemAttributeNames')]);
    for (const name of systemNames) {
      if (!MESSAGE_SYSTEM_ATTRIBUTE_NAMES.has(name)) throw errors.invalidAttributeName(name);
    }
    return { queue, max, visibilitySeconds, waitSeconds, systemNames, attributeNames: stringList(body, 'MessageAttributeNames') };
  };

  const selectAttributes = (attributes: Record<string, FakeMessageAttribute>, names: string[]): Record<string, FakeMessageAttribute> => {
    const all = names.some((name) => name === 'All' || name === '.*');
    const out: Record<string, FakeMessageAttribute> = {};
    for (const [name, value] of Object.entries(attributes)) {
      const wanted =
        all ||
        names.some((pattern) => (pattern.endsWith('.*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name));
      if (wanted) out[name] = value;
    }
    return out;
  };

  /**
   * Takes up to `max` visible messages, hiding them and redriving the over-received ones. A FIFO
   * queue offers only the messages its group order allows, a group's run at a time.
   */
  const receiveNow = (request: ReceiveRequest): unknown[] => {
    const { queue } = request;
    const at = now();
    const out: unknown[] = [];
    const candidates = queue.fifo ? fifoDeliveryOrder(queue.messages, at) : [...queue.messages];
    for (const message of candidates) {
      if (out.length >= request.max) break;
      if (message.visibleAt > at) continue;
      const deadLetter = queue.deadLetterQueueName === undefined ? undefined : queues.get(queue.deadLetterQueueName);
      if (deadLetter && queue.maxReceiveCount !== undefined && message.receiveCount >= queue.maxReceiveCount) {
        // SQS moves the message instead of delivering it a (maxReceiveCount + 1)th time. It keeps
        // its id, body, attributes, sent timestamp and receive count (and on FIFO queues its
        // group, deduplication id and sequence number); old handles die with it. The next
        // message of its FIFO group may then be delivered by this very receive.
        queue.messages.splice(queue.messages.indexOf(message), 1);
        delete message.receiptHandle;
        delete message.receivedAt;
        message.visibleAt = at;
        message.deadLetterQueueSourceArn = queue.arn;
        deadLetter.messages.push(message);
        continue;
      }
      message.receiveCount += 1;
      message.firstReceiveTimestamp ??= at;
      message.receivedAt = at;
      message.visibleAt = at + request.visibilitySeconds * 1000;
      message.receiptHandle = newReceiptHandle(queue, message);
      const attributes = systemAttributes(message, request.systemNames);
      const selected = selectAttributes(message.messageAttributes, request.attributeNames);
      const hasSelected = Object.keys(selected).length > 0;
      out.push({
        MessageId: message.messageId,
        ReceiptHandle: message.receiptHandle,
        MD5OfBody: message.md5OfBody,
        Body: message.body,
        ...(Object.keys(attributes).length > 0 ? { Attributes: attributes } : {}),
        ...(hasSelected ? { MD5OfMessageAttributes: md5OfMessageAttributes(selected), MessageAttributes: structuredClone(selected) } : {}),
      });
    }
    return out;
  };

  const deleteOne = (queue: Queue, handle: unknown): void => {
    if (typeof handle !== 'string' || handle === '') throw errors.missingParameter('ReceiptHandle');
    const messageId = handleTarget(queue, handle);
    const index = queue.messages.findIndex((message) => message.messageId === messageId);
    // Already deleted, or an older handle of a message received again: SQS answers success.
    if (index === -1 || queue.messages[index]!.receiptHandle !== handle) return;
    queue.messages.splice(index, 1);
  };

  const changeVisibilityOne = (queue: Queue, handle: unknown, timeout: unknown): void => {
    if (typeof handle !== 'string' || handle === '') throw errors.missingParameter('ReceiptHandle');
    if (timeout === undefined || timeout === null) throw errors.missingParameter('VisibilityTimeout');
    if (!isInt(timeout) || timeout < 0 || timeout > MAX_VISIBILITY_SECONDS) {
      throw errors.invalidParameter(`Value ${JSON.stringify(timeout)} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and ${MAX_VISIBILITY_SECONDS}.`);
    }
    const messageId = handleTarget(queue, handle);
    const message = queue.messages.find((candidate) => candidate.messageId === messageId);
    if (!message) {
      throw errors.invalidParameter(`Value ${handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.`);
    }
    if (message.receiptHandle !== handle) {
      throw errors.invalidParameter(`Value ${handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.`);
    }
    const at = now();
    if (message.visibleAt <= at) throw errors.messageNotInflight();
    if ((at - (message.receivedAt ?? at)) / 1000 + timeout > MAX_VISIBILITY_SECONDS) {
      throw errors.invalidParameter(`Value ${timeout} for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [${MAX_VISIBILITY_SECONDS} seconds].`);
    }
    message.visibleAt = at + timeout * 1000;
  };

  const batchOf = (
    body: Record<string, unknown>,
    apply: (queue: Queue, entry: Record<string, unknown>) => void,
  ): unknown => {
    const queue = queueOf(body);
    const successful: unknown[] = [];
    const failed: unknown[] = [];
    for (const { id, entry } of batchEntries(body)) {
      try {
        apply(queue, entry);
        successful.push({ Id: id });
      } catch (error) {
        if (!(error instanceof SqsError)) throw error;
        failed.push(error.entry(id));
      }
    }
    return { Successful: successful, Failed: failed };
  };

  const getQueueAttributes = (body: Record<string, unknown>): unknown => {
    const queue = queueOf(body);
    const names = new Set(stringList(body, 'AttributeNames'));
    for (const name of names) {
      if (!QUEUE_ATTRIBUTE_NAMES.has(name)) throw errors.invalidAttributeName(name);
    }
    const at = now();
    const count = (state: FakeMessageState): number => queue.messages.filter((message) => stateOf(message, at) === state).length;
    const deadLetter = queue.deadLetterQueueName === undefined ? undefined : queues.get(queue.deadLetterQueueName);
    const values: Record<string, string | undefined> = {
      QueueArn: queue.arn,
      ApproximateNumberOfMessages: String(count('visible')),
      ApproximateNumberOfMessagesNotVisible: String(count('in-flight')),
      ApproximateNumberOfMessagesDelayed: String(count('delayed')),
      CreatedTimestamp: String(Math.floor(queue.createdTimestamp / 1000)),
      LastModifiedTimestamp: String(Math.floor(queue.createdTimestamp / 1000)),
      VisibilityTimeout: String(queue.visibilityTimeoutSeconds),
      MaximumMessageSize: String(MAX_MESSAGE_BYTES),
      MessageRetentionPeriod: '345600',
      DelaySeconds: '0',
      ReceiveMessageWaitTimeSeconds: '0',
      SqsManagedSseEnabled: 'true',
      RedrivePolicy:
        deadLetter && queue.maxReceiveCount !== undefined
          ? JSON.stringify({ deadLetterTargetArn: deadLetter.arn, maxReceiveCount: queue.maxReceiveCount })
          : undefined,
      // FIFO queues only; standard queues report none of these.
      ...(queue.fifo
        ? {
            FifoQueue: 'true',
            ContentBasedDeduplication: String(queue.fifo.contentBasedDeduplication),
            DeduplicationScope: 'queue',
            FifoThroughputLimit: 'perQueue',
          }
        : {}),
    };
    const attributes: Record<string, string> = {};
    for (const [name, value] of Object.entries(values)) {
      if (value !== undefined && (names.has('All') || names.has(name))) attributes[name] = value;
    }
    return Object.keys(attributes).length > 0 ? { Attributes: attributes } : {};
  };

  const getQueueUrl = (body: Record<string, unknown>): unknown => {
    const name = requiredString(body, 'QueueName');
    const owner = body['QueueOwnerAWSAccountId'];
    const queue = queues.get(name);
    if (!queue || (owner !== undefined && owner !== null && owner !== accountId)) throw errors.queueDoesNotExist();
    return { QueueUrl: queue.url };
  };

  // --- HTTP ------------------------------------------------------------------------------------

  const reply = (res: ServerResponse, call: SqsCall, answer: Answer): void => {
    if (res.destroyed || res.headersSent) return;
    call.status = answer.status;
    sendJson(res, answer.status, answer.body, { 'x-amzn-requestid': randomUUID(), ...(answer.headers ?? {}) }, JSON_10);
  };

  const run = (fn: () => unknown): Answer => {
    try {
      return { status: 200, body: fn() };
    } catch (error) {
      if (error instanceof SqsError) return error.answer();
      throw error;
    }
  };

  /** Runs the call's operation; `deliver` gets the answer now or, for a long poll, later. */
  const perform = (req: IncomingMessage, res: ServerResponse, call: SqsCall, senderId: string, deliver: (answer: Answer) => void): void => {
    const body = call.body as Record<string, unknown>;
    switch (call.operation) {
      case 'SendMessage':
        return deliver(run(() => sendMessage(body, senderId)));
      case 'SendMessageBatch':
        return deliver(run(() => sendMessageBatch(body, senderId)));
      case 'DeleteMessage':
        return deliver(run(() => (deleteOne(queueOf(body), body['ReceiptHandle']), {})));
      case 'DeleteMessageBatch':
        return deliver(run(() => batchOf(body, (queue, entry) => deleteOne(queue, entry['ReceiptHandle']))));
      case 'ChangeMessageVisibility':
        return deliver(run(() => (changeVisibilityOne(queueOf(body), body['ReceiptHandle'], body['VisibilityTimeout']), {})));
      case 'ChangeMessageVisibilityBatch':
        return deliver(run(() => batchOf(body, (queue, entry) => changeVisibilityOne(queue, entry['ReceiptHandle'], entry['VisibilityTimeout']))));
      case 'GetQueueAttributes':
        return deliver(run(() => getQueueAttributes(body)));
      case 'GetQueueUrl':
        return deliver(run(() => getQueueUrl(body)));
      case 'ReceiveMessage': {
        let request: ReceiveRequest;
        try {
          request = parseReceive(body);
        } catch (error) {
          if (error instanceof SqsError) return deliver(error.answer());
          throw error;
        }
        const answer = (messages: unknown[]): void => deliver({ status: 200, body: messages.length > 0 ? { Messages: messages } : {} });
        const first = receiveNow(request);
        if (first.length > 0 || request.waitSeconds === 0) return answer(first);
        // Long poll: a short real wait, answered as soon as something turns visible. A client
        // that gave up must not have messages hidden on its behalf, so stop when it is gone.
        const deadline = Date.now() + Math.min(request.waitSeconds * 1000, REAL_WAIT_CAP_MS);
        let gone = false;
        res.once('close', () => {
          gone = true;
        });
        req.once('aborted', () => {
          gone = true;
        });
        const poll = (): void => {
          if (gone || res.destroyed) return;
          const messages = receiveNow(request);
          if (messages.length > 0 || Date.now() >= deadline) answer(messages);
          else loopback.later(POLL_MS, poll);
        };
        loopback.later(POLL_MS, poll);
        return;
      }
      default:
        return deliver(errors.unsupportedOperation(call.operation).answer());
    }
  };

  loopback = await startLoopbackServer((req: IncomingMessage, res: ServerResponse, rawBody: string) => {
    const headers = recordHeaders(req);
    const target = headers['x-amz-target'] ?? '';
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    const call: SqsCall = { operation, target, headers, body: parseJson(rawBody) };
    calls.push(call);

    // Protocol checks first: a malformed call never gets a scripted success.
    let senderId: string;
    try {
      if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/') {
        throw errors.unknownOperation(`${req.method ?? ''} ${req.url ?? ''}`);
      }
      if (mediaType(headers['content-type']) !== JSON_10) {
        throw errors.serialization(`Expected content-type ${JSON_10}, got '${headers['content-type'] ?? ''}'`);
      }
      senderId = parseAuthorization(headers['authorization'] ?? '').accessKeyId;
      if (!headers['x-amz-date']) throw errors.incompleteSignature('Authorization requires an x-amz-date header.');
      if (!operation) throw errors.unknownOperation(target);
      if (!isJsonObject(call.body)) throw errors.serialization('The body must be a JSON object');
    } catch (error) {
      if (error instanceof SqsError) {
        reply(res, call, error.answer());
        return;
      }
      throw error;
    }

    const scripted = scripts.take((outcome) => outcome.operation === undefined || outcome.operation === operation);
    if (!scripted) {
      perform(req, res, call, senderId, (answer) => reply(res, call, answer));
      return;
    }
    if (scripted.hang) return; // never answered; close() ends the socket
    if (scripted.reset) {
      const reset = (): void => resetConnection(req);
      if ((scripted.delayMs ?? 0) > 0) loopback.later(scripted.delayMs!, reset);
      else reset();
      return;
    }
    if (scripted.status === undefined) {
      // Run the operation now; only the answer is late.
      perform(req, res, call, senderId, (answer) => {
        if ((scripted.delayMs ?? 0) > 0) loopback.later(scripted.delayMs!, () => reply(res, call, answer));
        else reply(res, call, answer);
      });
      return;
    }
    const status = scripted.status;
    const deliver = (): void => {
      if (res.destroyed) return;
      call.status = status;
      if (scripted.body === undefined && status >= 400) {
        const answer = scriptedError(status).answer();
        sendJson(res, status, answer.body, { 'x-amzn-requestid': randomUUID(), ...answer.headers, ...(scripted.headers ?? {}) }, JSON_10);
      } else {
        sendScripted(res, { ...scripted, status, headers: { 'x-amzn-requestid': randomUUID(), ...(scripted.headers ?? {}) } }, () => ({}), JSON_10);
      }
    };
    if ((scripted.delayMs ?? 0) > 0) loopback.later(scripted.delayMs!, deliver);
    else deliver();
  });

  const requireQueue = (queue: string): Queue => {
    const found = findQueue(queue);
    if (!found) throw new Error(`fake SQS: no queue '${queue}' (create it with createQueue first)`);
    return found;
  };

  return {
    endpoint: loopback.origin,
    accountId,
    calls,
    createQueue(name, attributes = {}) {
      const fifo = isFifoQueue(name, attributes);
      const visibility = attributes.visibilityTimeoutSeconds ?? 30;
      if (!isInt(visibility) || visibility < 0 || visibility > MAX_VISIBILITY_SECONDS) {
        throw new RangeError(`fake SQS: visibilityTimeoutSeconds must be an integer 0-${MAX_VISIBILITY_SECONDS}, got ${String(visibility)}`);
      }
      const { maxReceiveCount, deadLetterQueueName } = attributes;
      if ((maxReceiveCount === undefined) !== (deadLetterQueueName === undefined)) {
        throw new Error('fake SQS: a redrive policy needs both maxReceiveCount and deadLetterQueueName');
      }
      if (maxReceiveCount !== undefined && (!isInt(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1000)) {
        throw new RangeError(`fake SQS: maxReceiveCount must be an integer 1-1000, got ${String(maxReceiveCount)}`);
      }
      if (deadLetterQueueName !== undefined) {
        const deadLetter = queues.get(deadLetterQueueName);
        if (!deadLetter) throw new Error(`fake SQS: dead-letter queue '${deadLetterQueueName}' does not exist; create it first`);
        if ((deadLetter.fifo !== undefined) !== fifo) {
          throw new Error(`fake SQS: the dead-letter queue of a ${fifo ? 'FIFO' : 'standard'} queue must be one too; '${deadLetterQueueName}' is not`);
        }
      }
      const contentBasedDeduplication = attributes.contentBasedDeduplication ?? false;
      const existing = queues.get(name);
      if (existing) {
        const same =
          existing.visibilityTimeoutSeconds === visibility &&
          existing.maxReceiveCount === maxReceiveCount &&
          existing.deadLetterQueueName === deadLetterQueueName &&
          existing.fifo?.contentBasedDeduplication === (fifo ? contentBasedDeduplication : undefined);
        if (!same) throw new Error(`fake SQS: queue '${name}' already exists with different attributes`);
        return existing.url;
      }
      const queue: Queue = {
        name,
        url: `${loopback.origin}/${accountId}/${name}`,
        arn: `arn:aws:sqs:${REGION}:${accountId}:${name}`,
        createdTimestamp: now(),
        visibilityTimeoutSeconds: visibility,
        ...(maxReceiveCount === undefined ? {} : { maxReceiveCount }),
        ...(deadLetterQueueName === undefined ? {} : { deadLetterQueueName }),
        ...(fifo ? { fifo: { contentBasedDeduplication, deduplication: new DeduplicationWindow() } } : {}),
        messages: [],
      };
      queues.set(name, queue);
      return queue.url;
    },
    queueUrl: (name) => requireQueue(name).url,
    messages(queue) {
      const at = now();
      return requireQueue(queue).messages.map((message) => snapshot(message, at));
    },
    send(queue, body, sendOptions = {}) {
      const target = requireQueue(queue);
      const entry: Record<string, unknown> = { MessageBody: body };
      if (sendOptions.delaySeconds !== undefined) entry['DelaySeconds'] = sendOptions.delaySeconds;
      if (sendOptions.messageAttributes !== undefined) entry['MessageAttributes'] = sendOptions.messageAttributes;
      if (sendOptions.messageGroupId !== undefined) entry['MessageGroupId'] = sendOptions.messageGroupId;
      if (sendOptions.messageDeduplicationId !== undefined) entry['MessageDeduplicationId'] = sendOptions.messageDeduplicationId;
      try {
        return accept(target, validateMessage(entry, target), 'AKIDFAKESEED').messageId;
      } catch (error) {
        if (error instanceof SqsError) throw new Error(`fake SQS: send refused: ${error.code}: ${error.message}`);
        throw error;
      }
    },
    script: (...answers) => scripts.push(...answers),
    pendingScripts: () => scripts.pending(),
    now,
    advance(ms) {
      if (!(Number.isFinite(ms) && ms >= 0)) throw new RangeError(`fake SQS: advance(ms) needs ms >= 0, got ${String(ms)}`);
      clockOffset += ms;
    },
    close: () => loopback.close(),
  };
}
