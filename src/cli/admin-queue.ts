import type { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand } from '@aws-sdk/client-sqs';
import { Queue, type SqsModule } from '../delivery/queue.ts';

/**
 * The failed queue as the `failed` commands work it: besides the relay's own calls, batch
 * release and delete of what a pass received, and the queue's depth. Only the CLI needs these,
 * so they live here and not in the function's bundle.
 */
export class AdminQueue extends Queue {
  /**
   * Makes received messages visible again at once, ten per ChangeMessageVisibilityBatch call.
   * A message whose handle is no longer current (visible again already, received again,
   * deleted) fails on its own and is left as it is.
   *
   * @returns how many were released.
   */
  async releaseAll(receiptHandles: readonly string[]): Promise<number> {
    return this.#batches('ChangeMessageVisibilityBatch', receiptHandles, (module, entries) =>
      new module.ChangeMessageVisibilityBatchCommand({ QueueUrl: this.url, Entries: entries.map((entry) => ({ ...entry, VisibilityTimeout: 0 })) }),
    );
  }

  /** Deletes received messages, ten per DeleteMessageBatch call; returns how many were deleted. */
  async deleteAll(receiptHandles: readonly string[]): Promise<number> {
    return this.#batches('DeleteMessageBatch', receiptHandles, (module, entries) =>
      new module.DeleteMessageBatchCommand({ QueueUrl: this.url, Entries: entries }),
    );
  }

  /** One batch call per ten handles, one after another; counts the entries SQS says succeeded. */
  async #batches(
    what: string,
    receiptHandles: readonly string[],
    command: (module: SqsModule, entries: { Id: string; ReceiptHandle: string }[]) => ChangeMessageVisibilityBatchCommand | DeleteMessageBatchCommand,
  ): Promise<number> {
    let done = 0;
    for (let start = 0; start < receiptHandles.length; start += 10) {
      const entries = receiptHandles.slice(start, start + 10).map((handle, index) => ({ Id: String(index), ReceiptHandle: handle }));
      // Both batch commands answer { Successful, Failed }: the client's overloads need one type.
      const answer = await this.call(what, (module, client) => client.send(command(module, entries) as DeleteMessageBatchCommand));
      done += answer.Successful?.length ?? 0;
    }
    return done;
  }

  /** SQS's approximate count of visible messages, or undefined when it cannot say. */
  async depth(): Promise<number | undefined> {
    try {
      const answer = await this.call('GetQueueAttributes', (module, client) =>
        client.send(new module.GetQueueAttributesCommand({ QueueUrl: this.url, AttributeNames: ['ApproximateNumberOfMessages'] })),
      );
      const count = Number(answer.Attributes?.ApproximateNumberOfMessages);
      return Number.isInteger(count) && count >= 0 ? count : undefined;
    } catch {
      return undefined;
    }
  }
}
