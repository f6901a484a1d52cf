import { randomUUID } from 'node:crypto';
import type {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { UnavailableError } from '../errors.ts';

/**
 * A thin wrapper over one SQS queue (the parking queue or the failed queue). The SQS client is
 * loaded on first use, so a relay without a queue never pays for it at cold start.
 */

export type SqsModule = {
  SQSClient: typeof SQSClient;
  SendMessageCommand: typeof SendMessageCommand;
  SendMessageBatchCommand: typeof SendMessageBatchCommand;
  ReceiveMessageCommand: typeof ReceiveMessageCommand;
  DeleteMessageCommand: typeof DeleteMessageCommand;
  ChangeMessageVisibilityCommand: typeof ChangeMessageVisibilityCommand;
  ChangeMessageVisibilityBatchCommand: typeof ChangeMessageVisibilityBatchCommand;
  DeleteMessageBatchCommand: typeof DeleteMessageBatchCommand;
  GetQueueAttributesCommand: typeof GetQueueAttributesCommand;
};

let sqsModule: Promise<SqsModule> | undefined;
let client: SQSClient | undefined;

async function sqs(): Promise<{ module: SqsModule; client: SQSClient }> {
  sqsModule ??= import('@aws-sdk/client-sqs');
  const module = await sqsModule;
  client ??= new module.SQSClient({
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 2000, throwOnRequestTimeout: true },
  });
  return { module, client };
}

export interface ReceivedMessage {
  /** SQS's id of the message (the same on every receive). */
  messageId?: string;
  body: string;
  receiptHandle: string;
  receiveCount: number;
  /** When SQS first received the message (epoch ms), if it said. */
  sentAt?: number;
  /** Its FIFO message group. */
  group?: string;
}

/** How a receive hides what it hands out, and how long it waits for messages. */
export interface ReceiveOptions {
  /** Hidden for this long (default: the queue's own visibility timeout). */
  visibilitySeconds?: number;
  /** Long polling, 0–20 s (default 0). Above 0, SQS asks all of its servers: no false empty answer. */
  waitSeconds?: number;
}

/** SQS's largest visibility timeout: 12 hours. */
export const MAX_VISIBILITY_SECONDS = 43_200;

/**
 * Where a message stands in a FIFO queue (names ending in `.fifo`): its group (one user's events
 * are handed out in order, one at a time) and its deduplication id (a resend within SQS's
 * five-minute window is not stored twice). Ignored by standard queues.
 */
export interface Ordering {
  group: string;
  /** Defaults to a fresh id: no deduplication. */
  dedup?: string | undefined;
}

/** A message to send, with its place in a FIFO queue. */
export interface Outgoing {
  body: string;
  ordering?: Ordering | undefined;
}

/** Messages of no particular user (e.g. an unreadable one) share this group. */
const DEFAULT_GROUP = 'gainsight-px-relay';

export class Queue {
  readonly fifo: boolean;

  constructor(readonly url: string) {
    this.fifo = url.endsWith('.fifo');
  }

  /** The FIFO attributes of a message, or nothing for a standard queue. */
  #fifoFields(ordering: Ordering | undefined): { MessageGroupId?: string; MessageDeduplicationId?: string } {
    if (!this.fifo) return {};
    return { MessageGroupId: ordering?.group ?? DEFAULT_GROUP, MessageDeduplicationId: ordering?.dedup ?? randomUUID() };
  }

  /** Runs one SQS call; any failure becomes a retryable 503 (nothing was acknowledged). */
  protected async call<T>(what: string, run: (module: SqsModule, client: SQSClient) => Promise<T>): Promise<T> {
    try {
      const { module, client } = await sqs();
      return await run(module, client);
    } catch (error) {
      throw new UnavailableError(`SQS ${what} failed`, { code: 'queue_unavailable', cause: error });
    }
  }

  /** Sends one message; resolves once SQS has stored it, with its MessageId. */
  async send(body: string, signal?: AbortSignal, ordering?: Ordering): Promise<string | undefined> {
    const answer = await this.call('SendMessage', (module, client) =>
      client.send(
        new module.SendMessageCommand({ QueueUrl: this.url, MessageBody: body, ...this.#fifoFields(ordering) }),
        signal ? { abortSignal: signal } : {},
      ),
    );
    return answer.MessageId;
  }

  /**
   * Sends messages in order, ten per SendMessageBatch call, one call after another (so one
   * group's messages keep their order in a FIFO queue).
   *
   * @returns for each message, whether SQS stored it; a failed call fails its messages only.
   */
  async sendAll(messages: readonly Outgoing[], signal?: AbortSignal): Promise<boolean[]> {
    const stored = messages.map(() => false);
    for (let start = 0; start < messages.length; start += 10) {
      const chunk = messages.slice(start, start + 10);
      try {
        const answer = await this.call('SendMessageBatch', (module, client) =>
          client.send(
            new module.SendMessageBatchCommand({
              QueueUrl: this.url,
              Entries: chunk.map((message, index) => ({ Id: String(index), MessageBody: message.body, ...this.#fifoFields(message.ordering) })),
            }),
            signal ? { abortSignal: signal } : {},
          ),
        );
        for (const entry of answer.Successful ?? []) stored[start + Number(entry.Id)] = true;
      } catch {
        // Left false: those events are answered as not stored, and the sender retries.
      }
      // A FIFO group whose message failed must not have a later one stored before it.
      if (this.fifo && stored.slice(start, start + chunk.length).includes(false)) break;
    }
    return stored;
  }

  /**
   * Receives up to `max` messages, by default without waiting (the scheduled run drains, it
   * does not poll) and hidden for the queue's visibility timeout.
   */
  async receive(max: number, signal?: AbortSignal, options: ReceiveOptions = {}): Promise<ReceivedMessage[]> {
    const answer = await this.call('ReceiveMessage', (module, client) =>
      client.send(
        new module.ReceiveMessageCommand({
          QueueUrl: this.url,
          MaxNumberOfMessages: Math.max(1, Math.min(10, max)),
          WaitTimeSeconds: Math.max(0, Math.min(20, Math.round(options.waitSeconds ?? 0))),
          ...(options.visibilitySeconds === undefined ? {} : { VisibilityTimeout: visibility(options.visibilitySeconds) }),
          MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp', 'MessageGroupId'],
        }),
        signal ? { abortSignal: signal } : {},
      ),
    );
    return (answer.Messages ?? []).flatMap((message) =>
      message.Body === undefined || message.ReceiptHandle === undefined
        ? []
        : [
            {
              ...(message.MessageId ? { messageId: message.MessageId } : {}),
              body: message.Body,
              receiptHandle: message.ReceiptHandle,
              receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 1) || 1,
              ...(Number(message.Attributes?.SentTimestamp) > 0 ? { sentAt: Number(message.Attributes?.SentTimestamp) } : {}),
              ...(message.Attributes?.MessageGroupId ? { group: message.Attributes.MessageGroupId } : {}),
            },
          ],
    );
  }

  async delete(receiptHandle: string): Promise<void> {
    await this.call('DeleteMessage', (module, client) =>
      client.send(new module.DeleteMessageCommand({ QueueUrl: this.url, ReceiptHandle: receiptHandle })),
    );
  }

  /** Hides a message for `seconds` more (backing off a message that keeps failing). */
  async hide(receiptHandle: string, seconds: number): Promise<void> {
    await this.call('ChangeMessageVisibility', (module, client) =>
      client.send(
        new module.ChangeMessageVisibilityCommand({
          QueueUrl: this.url,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: visibility(seconds),
        }),
      ),
    );
  }

}

const visibility = (seconds: number): number => Math.max(0, Math.min(MAX_VISIBILITY_SECONDS, Math.round(seconds)));
