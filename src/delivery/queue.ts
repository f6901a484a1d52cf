import type {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { UnavailableError } from '../errors.ts';

/**
 * A thin wrapper over one SQS queue (the parking queue or the failed queue). The SQS client is
 * loaded on first use, so a relay without a queue never pays for it at cold start.
 */

type SqsModule = {
  SQSClient: typeof SQSClient;
  SendMessageCommand: typeof SendMessageCommand;
  ReceiveMessageCommand: typeof ReceiveMessageCommand;
  DeleteMessageCommand: typeof DeleteMessageCommand;
  ChangeMessageVisibilityCommand: typeof ChangeMessageVisibilityCommand;
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
  body: string;
  receiptHandle: string;
  receiveCount: number;
}

/** SQS's largest visibility timeout: 12 hours. */
export const MAX_VISIBILITY_SECONDS = 43_200;

export class Queue {
  constructor(readonly url: string) {}

  /** Runs one SQS call; any failure becomes a retryable 503 (nothing was acknowledged). */
  async #call<T>(what: string, run: (module: SqsModule, client: SQSClient) => Promise<T>): Promise<T> {
    try {
      const { module, client } = await sqs();
      return await run(module, client);
    } catch (error) {
      throw new UnavailableError(`SQS ${what} failed`, { code: 'queue_unavailable', cause: error });
    }
  }

  /** Sends one message; resolves once SQS has stored it. */
  async send(body: string, signal?: AbortSignal): Promise<void> {
    await this.#call('SendMessage', (module, client) =>
      client.send(new module.SendMessageCommand({ QueueUrl: this.url, MessageBody: body }), signal ? { abortSignal: signal } : {}),
    );
  }

  /** Receives up to `max` messages without waiting (the scheduled run drains, it does not poll). */
  async receive(max: number, signal?: AbortSignal): Promise<ReceivedMessage[]> {
    const answer = await this.#call('ReceiveMessage', (module, client) =>
      client.send(
        new module.ReceiveMessageCommand({
          QueueUrl: this.url,
          MaxNumberOfMessages: Math.max(1, Math.min(10, max)),
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
        signal ? { abortSignal: signal } : {},
      ),
    );
    return (answer.Messages ?? []).flatMap((message) =>
      message.Body === undefined || message.ReceiptHandle === undefined
        ? []
        : [
            {
              body: message.Body,
              receiptHandle: message.ReceiptHandle,
              receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 1) || 1,
            },
          ],
    );
  }

  async delete(receiptHandle: string): Promise<void> {
    await this.#call('DeleteMessage', (module, client) =>
      client.send(new module.DeleteMessageCommand({ QueueUrl: this.url, ReceiptHandle: receiptHandle })),
    );
  }

  /** Hides a message for `seconds` more (backing off a message that keeps failing). */
  async hide(receiptHandle: string, seconds: number): Promise<void> {
    await this.#call('ChangeMessageVisibility', (module, client) =>
      client.send(
        new module.ChangeMessageVisibilityCommand({
          QueueUrl: this.url,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: Math.max(0, Math.min(MAX_VISIBILITY_SECONDS, Math.round(seconds))),
        }),
      ),
    );
  }
}
