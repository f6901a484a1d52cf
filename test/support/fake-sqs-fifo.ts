import { createHash } from 'node:crypto';

/**
 * The FIFO-queue mechanics of the SQS fake (`fake-sqs.ts`), kept apart from the wire protocol:
 * the id format, content-based deduplication ids, the 5-minute deduplication window, sequence
 * numbers and the order in which a receive hands messages out. Nothing here knows HTTP or SQS
 * errors; `fake-sqs.ts` validates requests and answers them.
 */

export const FIFO_SUFFIX = '.fifo';

/** How long a deduplication id keeps later sends with the same id from being stored. */
export const DEDUPLICATION_INTERVAL_MS = 5 * 60 * 1000;

/** MessageGroupId and MessageDeduplicationId: 1–128 alphanumeric and punctuation characters. */
export const FIFO_ID = /^[\x21-\x7e]{1,128}$/;

/** The deduplication id SQS makes when the queue has ContentBasedDeduplication: SHA-256 of the body. */
export const contentDeduplicationId = (body: string): string => createHash('sha256').update(body, 'utf8').digest('hex');

/**
 * SequenceNumber as SQS answers it: a large decimal string (beyond a JS number, compare as
 * BigInt) that grows with every message stored, and not by one: SQS says "non-consecutive".
 */
export class SequenceNumbers {
  private last = 18_000_000_000_000_000_000n;

  next(): string {
    this.last += 65_536n;
    return this.last.toString();
  }
}

/** What a send with an already seen deduplication id is answered with: the first message's ids. */
export interface Deduplicated {
  messageId: string;
  sequenceNumber: string;
}

/**
 * The deduplication ids a FIFO queue has seen (the queue-wide scope, SQS's default). The interval
 * runs from the first send with an id; a duplicate does not extend it, and deleting the message
 * does not end it.
 */
export class DeduplicationWindow {
  private readonly seen = new Map<string, Deduplicated & { sentAt: number }>();

  /** The message first sent with `id` less than the interval before `at`, if any. */
  original(id: string, at: number): Deduplicated | undefined {
    const record = this.seen.get(id);
    if (record === undefined) return undefined;
    if (at - record.sentAt < DEDUPLICATION_INTERVAL_MS) return record;
    this.seen.delete(id);
    return undefined;
  }

  remember(id: string, sentAt: number, message: Deduplicated): void {
    this.seen.set(id, { ...message, sentAt });
  }
}

/** What the delivery order needs of a stored message. */
export interface GroupedMessage {
  messageGroupId?: string;
  visibleAt: number;
}

/**
 * The messages a receive on a FIFO queue may hand out, in the order it hands them out.
 * - A group with any message not visible (in flight: received, not deleted, visibility not yet
 *   expired) is blocked as a whole: none of its messages is offered until that one is deleted or
 *   visible again, so a redelivery always comes before the messages sent after it.
 * - Within a group, messages keep the order they were stored in (send order).
 * - SQS "first attempts to return as many messages with the same message group ID as possible":
 *   groups are offered one after the other, the one whose head is oldest first, so a receive of
 *   several messages takes a group's run before moving to the next group.
 */
export function fifoDeliveryOrder<M extends GroupedMessage>(messages: readonly M[], at: number): M[] {
  const groupOf = (message: M): string => message.messageGroupId ?? '';
  const blocked = new Set(messages.filter((message) => message.visibleAt > at).map(groupOf));
  const groups = new Map<string, M[]>();
  for (const message of messages) {
    const group = groupOf(message);
    if (blocked.has(group)) continue;
    const run = groups.get(group);
    if (run) run.push(message);
    else groups.set(group, [message]);
  }
  return [...groups.values()].flat();
}
