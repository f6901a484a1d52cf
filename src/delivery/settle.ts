import { type RelayError, UnavailableError, isRelayError } from '../errors.ts';
import { logger } from '../observability.ts';
import { failedMessage, parkedMessage, parkedRecord, reasonOf } from './parking.ts';
import type { EventFailure, EventOutcome, EventResult } from './process.ts';
import type { Ordering, Queue } from './queue.ts';

/**
 * What becomes of each event once delivery is over (docs/http-contract.md): an event that can succeed later is
 * parked; a copy of one Gainsight rejected for good goes to the failed queue with the reason.
 * Nothing is acknowledged that is not delivered, parked or deliberately skipped: an event whose
 * parking (or rejected copy) failed is reported as failed and retryable, so the sender retries.
 */

/** One event's line in the answer (docs/http-contract.md `results[]`). */
export type ResultEntry =
  | EventResult
  | { messageId?: string; type: string; status: 'queued'; reason: string; duplicate?: true }
  | { messageId?: string; type: string; status: 'failed'; error: { code: string; message: string; details?: unknown } };

/** The final state of one event: its line, and the error when it failed. */
export interface Settled {
  entry: ResultEntry;
  failure?: RelayError;
}

export interface SettleOptions {
  parking: Queue | undefined;
  failed: Queue | undefined;
  /** Epoch ms by which queue calls must be done. */
  by: number;
}

const idOf = (messageId: string | undefined) => (messageId === undefined ? {} : { messageId });

/** The failed line of an event, with its error. */
export const failedEntry = (messageId: string | undefined, type: string, error: RelayError): Settled => ({
  entry: {
    ...idOf(messageId),
    type,
    status: 'failed',
    error: { code: error.code, message: error.message, ...(error.details === undefined ? {} : { details: error.details }) },
  },
  failure: error,
});

/**
 * Sends one message by `by`; returns the error when it could not be stored (encoding it
 * included: a hostile, deeply nested event cannot be encoded), undefined once SQS has it.
 */
async function send(queue: Queue, encode: () => string, by: number, what: string, ordering?: Ordering): Promise<RelayError | undefined> {
  try {
    await queue.send(encode(), AbortSignal.timeout(Math.max(100, by - Date.now())), ordering);
    return undefined;
  } catch (error) {
    logger.error(`event could not be ${what}`, { code: isRelayError(error) ? error.code : 'internal' });
    return isRelayError(error) ? error : new UnavailableError(`The event could not be ${what}`, { code: 'queue_unavailable', cause: error });
  }
}

async function settleOne({ outcome, ordering, mayPark }: Settling, options: SettleOptions): Promise<Settled> {
  if (outcome.ok) return { entry: outcome.result };
  const failure: EventFailure = outcome;
  const { event, error } = failure;
  if (error.retryable) {
    const parking = mayPark ? options.parking : undefined;
    if (parking && (await send(parking, () => parkedMessage(failure), options.by, 'parked', ordering)) === undefined) {
      return { entry: { ...idOf(event.messageId), type: event.type, status: 'queued', reason: error.code } };
    }
    return failedEntry(event.messageId, event.type, error);
  }
  if (options.failed) {
    const encode = () => failedMessage(parkedRecord(failure), reasonOf(error));
    const copyError = await send(options.failed, encode, options.by, 'copied to the failed queue', ordering && { group: ordering.group });
    // Without its copy a rejected event would be lost to the operator: the sender retries.
    if (copyError) return failedEntry(event.messageId, event.type, copyError);
  }
  return failedEntry(event.messageId, event.type, error);
}

/** One event to settle: its delivery outcome, its place in a FIFO queue, whether it may be parked. */
export interface Settling {
  outcome: EventOutcome;
  ordering?: Ordering | undefined;
  /** False where parking would break the sender's per-user order (route policy `parks`). */
  mayPark: boolean;
}

/** Settles every outcome: one user's queue calls one after another (FIFO order), users in parallel. */
export async function settleAll(items: readonly Settling[], options: SettleOptions): Promise<Settled[]> {
  // The common case: every event delivered, nothing to park or copy.
  if (items.every(({ outcome }) => outcome.ok)) return items.map(({ outcome }) => ({ entry: (outcome as EventOutcome & { ok: true }).result }));
  const settled: Settled[] = new Array(items.length);
  const lanes = new Map<string, number[]>();
  items.forEach((item, index) => {
    const lane = item.ordering?.group ?? `#${index}`;
    lanes.set(lane, [...(lanes.get(lane) ?? []), index]);
  });
  await Promise.all(
    [...lanes.values()].map(async (lane) => {
      for (const index of lane) settled[index] = await settleOne(items[index] as Settling, options);
    }),
  );
  return settled;
}
