import { UnavailableError } from '../errors.ts';
import type { RelayEvent } from '../events/index.ts';
import { logger } from '../observability.ts';
import { orderingOf, queuedMessage } from './parking.ts';
import type { Plan } from './plan.ts';
import type { Queue } from './queue.ts';
import { type Settled, failedEntry } from './settle.ts';

/**
 * Queued delivery (DELIVERY_MODE=queued, docs/http-contract.md): every valid event goes on the parking queue,
 * in the order sent, and the consumer delivers it. With a FIFO queue each message's group is its
 * user and its deduplication id its message id and content, so one user's events are delivered
 * in order and a resend within SQS's window is stored once. An event SQS did not store fails
 * retryably: the sender retries it.
 */
export async function enqueueAll(
  items: readonly { event: RelayEvent; plan: Plan; key: string | undefined }[],
  queue: Queue,
  by: number,
): Promise<Settled[]> {
  const messages = [];
  for (const { event, plan, key } of items) {
    let body: string;
    try {
      body = queuedMessage(event);
    } catch {
      body = ''; // cannot be encoded (hostile nesting): not sent, answered as not stored
    }
    messages.push({ body, ordering: orderingOf(plan.userId, key) });
  }
  const sendable = messages.map((message) => message.body !== '');
  const stored = await queue.sendAll(
    messages.filter((_, index) => sendable[index]),
    AbortSignal.timeout(Math.max(100, by - Date.now())),
  );
  let next = 0;
  return items.map(({ event }, index): Settled => {
    const ok = sendable[index] === true && stored[next++] === true;
    if (ok) return { entry: { ...(event.messageId === undefined ? {} : { messageId: event.messageId }), type: event.type, status: 'queued', reason: 'queued' } };
    logger.error('event could not be queued', { code: 'queue_unavailable' });
    return failedEntry(event.messageId, event.type, new UnavailableError('The event could not be queued for delivery', { code: 'queue_unavailable' }));
  });
}
