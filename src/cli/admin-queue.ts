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
    const { done, visible } = await this.hideAll(receiptHandles, 0);
    return done + visible.length;
  }

  /**
   * Sets the visibility timeout of received messages to `seconds` from now, ten per
   * ChangeMessageVisibilityBatch call.
   *
   * @returns how many SQS changed; the handles it refused because they are no longer this
   * reader's (see {@link isNotHeld}); and those of messages visible again, not received since.
   */
  async hideAll(receiptHandles: readonly string[], seconds: number): Promise<HideAnswer> {
    return this.#batches('ChangeMessageVisibilityBatch', receiptHandles, (module, entries) =>
      new module.ChangeMessageVisibilityBatchCommand({ QueueUrl: this.url, Entries: entries.map((entry) => ({ ...entry, VisibilityTimeout: seconds })) }),
    );
  }

  /** Deletes received messages, ten per DeleteMessageBatch call; returns how many were deleted. */
  async deleteAll(receiptHandles: readonly string[]): Promise<number> {
    const { done } = await this.#batches('DeleteMessageBatch', receiptHandles, (module, entries) =>
      new module.DeleteMessageBatchCommand({ QueueUrl: this.url, Entries: entries }),
    );
    return done;
  }

  /** One batch call per ten handles, one after another; counts the entries SQS says succeeded. */
  async #batches(
    what: string,
    receiptHandles: readonly string[],
    command: (module: SqsModule, entries: { Id: string; ReceiptHandle: string }[]) => ChangeMessageVisibilityBatchCommand | DeleteMessageBatchCommand,
  ): Promise<HideAnswer> {
    let done = 0;
    const notHeld: string[] = [];
    const visible: string[] = [];
    for (let start = 0; start < receiptHandles.length; start += 10) {
      const entries = receiptHandles.slice(start, start + 10).map((handle, index) => ({ Id: String(index), ReceiptHandle: handle }));
      // Both batch commands answer { Successful, Failed }: the client's overloads need one type.
      const answer = await this.call(what, (module, client) => client.send(command(module, entries) as DeleteMessageBatchCommand));
      done += answer.Successful?.length ?? 0;
      for (const failed of answer.Failed ?? []) {
        const handle = entries[Number(failed.Id)]!.ReceiptHandle;
        if (NOT_HELD.test(failed.Code ?? '')) notHeld.push(handle);
        else if (NOT_IN_FLIGHT.test(failed.Code ?? '')) visible.push(handle);
      }
    }
    return { done, notHeld, visible };
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

export interface HideAnswer {
  done: number;
  notHeld: string[];
  visible: string[];
}

/**
 * What SQS answers about a receipt handle that is no longer the reader's: the message was
 * received again by someone else (the handle expired), or is gone.
 */
const NOT_HELD = /InvalidParameterValue|ReceiptHandleIsInvalid/;
/**
 * What SQS answers when the message is visible again but nobody received it since: the handle
 * is still the latest, and a delete with it still deletes.
 */
const NOT_IN_FLIGHT = /MessageNotInflight/;

const codesOf = (error: unknown): string => {
  const cause = (error as { cause?: { name?: unknown; Code?: unknown } } | undefined)?.cause;
  return `${String(cause?.name ?? '')} ${String(cause?.Code ?? '')}`;
};

/** Whether a failed queue call (a `queue_unavailable` error) says the message is no longer this reader's. */
export const isNotHeld = (error: unknown): boolean => NOT_HELD.test(codesOf(error));

/** Whether a failed queue call says the message is visible again, not received by anyone since. */
export const isNotInFlight = (error: unknown): boolean => NOT_IN_FLIGHT.test(codesOf(error));
