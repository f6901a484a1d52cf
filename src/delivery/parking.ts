import { hash } from 'node:crypto';
import { type RelayError, ValidationError } from '../errors.ts';
import { type RelayEvent, parseEvent } from '../events/index.ts';
import type { MappingContext } from '../mapping/index.ts';
import { type Plan, planEvent } from './plan.ts';
import type { EventFailure } from './process.ts';
import type { Ordering } from './queue.ts';

/**
 * The messages of the parking queue and the failed queue (docs/http-contract.md). A parked message holds the
 * validated event and what is known about its failure; the redrive reads it back. (The parking
 * queue's URL arrives as `DEAD_LETTER_QUEUE_URL`; in the code it is the parking queue.)
 */

const PARKED = 'gainsight-px-relay.parked-event';
const FAILED = 'gainsight-px-relay.failed-event';

export interface Reason {
  code: string;
  message: string;
  status: number;
}

/** A message in the parking queue. */
export interface ParkedEvent {
  kind: typeof PARKED;
  version: 1;
  event: RelayEvent;
  reason: Reason;
  /** ISO time of the first failed attempt (of queuing, for an event queued without an attempt). */
  firstFailureAt: string;
  parkedAt: string;
  /** Attempts made before parking. */
  attempts: number;
  /** Plan steps already done; a redrive starts here (e.g. a group whose account is written). */
  resumeAtStep: number;
}

/**
 * A message in the failed queue: Gainsight rejected the event for good (at request time or in a
 * redrive), or a parked message could not be read.
 */
export interface FailedEvent {
  kind: typeof FAILED;
  version: 1;
  failedAt: string;
  reason: Reason;
  /** The parked message, or its raw text when it could not be read. */
  parked: ParkedEvent | string;
}

export const reasonOf = (error: RelayError): Reason => ({ code: error.code, message: error.message, status: error.statusCode });

/** The record of a failure as the queues keep it: the event, why, and how far it got. */
export function parkedRecord(failure: EventFailure, now = Date.now()): ParkedEvent {
  return {
    kind: PARKED,
    version: 1,
    event: failure.event,
    reason: reasonOf(failure.error),
    firstFailureAt: new Date(failure.firstFailureAt).toISOString(),
    parkedAt: new Date(now).toISOString(),
    attempts: failure.attempts,
    resumeAtStep: failure.completedSteps,
  };
}

/** The parking-queue message of an event queued for the consumer (DELIVERY_MODE=queued). */
export function queuedMessage(event: RelayEvent, now = Date.now()): string {
  const at = new Date(now).toISOString();
  const queued: ParkedEvent = {
    kind: PARKED,
    version: 1,
    event,
    reason: { code: 'queued', message: 'Queued for delivery by the consumer', status: 202 },
    firstFailureAt: at,
    parkedAt: at,
    attempts: 0,
    resumeAtStep: 0,
  };
  return JSON.stringify(queued);
}

/** The parking-queue message for a failure. */
export const parkedMessage = (failure: EventFailure, now = Date.now()): string => JSON.stringify(parkedRecord(failure, now));

/** The failed-queue message for a parked message (or unreadable text) and the reason. */
export function failedMessage(parked: ParkedEvent | string, reason: Reason, now = Date.now()): string {
  const failed: FailedEvent = { kind: FAILED, version: 1, failedAt: new Date(now).toISOString(), reason, parked };
  return JSON.stringify(failed);
}

/**
 * What a failed-queue message is: the relay's record of a rejection (whose `parked` may be the
 * raw text of an unreadable message), a parked message that SQS itself moved there after too
 * many receives (the parking queue's redrive policy), or something else entirely (the queue is
 * not a trusted source). Only the shape is checked here; the event is checked when replayed.
 */
export type FailedQueueMessage =
  | { kind: 'failed'; failed: FailedEvent }
  | { kind: 'moved'; parked: ParkedEvent }
  | { kind: 'foreign' };

export function readFailedQueueMessage(body: string): FailedQueueMessage {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { kind: 'foreign' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'foreign' };
  const record = value as Record<string, unknown>;
  if (record.kind === PARKED && record.version === 1 && typeof record.event === 'object' && record.event !== null) {
    return { kind: 'moved', parked: record as unknown as ParkedEvent };
  }
  const reason = record.reason as Partial<Reason> | null | undefined;
  const parked = record.parked;
  if (
    record.kind !== FAILED ||
    record.version !== 1 ||
    typeof record.failedAt !== 'string' ||
    typeof reason !== 'object' ||
    reason === null ||
    (typeof parked !== 'string' && (typeof parked !== 'object' || parked === null))
  ) {
    return { kind: 'foreign' };
  }
  return { kind: 'failed', failed: record as unknown as FailedEvent };
}

/** SQS keeps a message 14 days; one older than this goes to the failed queue before it expires unseen. */
export const MAX_PARKED_AGE_MS = 13 * 24 * 60 * 60 * 1000;

const unreadable = (message: string): ValidationError => new ValidationError(message, { code: 'unreadable_message' });

/**
 * Reads a parking-queue message back and plans its event, checking it as an inbound event is
 * checked: the queue is not a trusted source, so a malformed or forged message never reaches
 * Gainsight. Shared by the consumer and the scheduled redrive.
 *
 * @param sentAt when SQS first received the message (epoch ms), when known.
 * @throws ValidationError (`unreadable_message`, `step_out_of_range`, `expired` or the event's
 * own validation code): the message goes to the failed queue with that reason.
 */
export function openParked(body: string, ctx: MappingContext, sentAt?: number, now = Date.now()): { parked: ParkedEvent; plan: Plan } {
  if (sentAt !== undefined && now - sentAt > MAX_PARKED_AGE_MS) {
    throw new ValidationError('Parked for more than 13 days: SQS would expire it unseen', { code: 'expired' });
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw unreadable('Parked message is not JSON');
  }
  const parked = value as Partial<ParkedEvent> | null;
  if (typeof parked !== 'object' || parked === null || parked.kind !== PARKED || parked.version !== 1) {
    throw unreadable('Parked message is not a gainsight-px-relay parked event');
  }
  const step = parked.resumeAtStep ?? 0;
  const event = parseEvent(parked.event);
  const plan = planEvent(event, ctx);
  // A step past the plan would count as delivered without a call.
  const steps = plan.action === 'send' ? plan.steps.length : 1;
  if (!Number.isInteger(step) || step < 0 || step >= steps) {
    throw new ValidationError('Parked message resumes at a step its event does not have', { code: 'step_out_of_range' });
  }
  return { parked: { ...(parked as ParkedEvent), event, resumeAtStep: step }, plan };
}

/**
 * The lane a queued message is handled in, one user's messages one after another: its FIFO
 * group, else its event's user, else the message alone (an unreadable body).
 */
export function laneOf(body: string, group: string | undefined, alone: string): string {
  if (group) return group;
  try {
    const event = (JSON.parse(body) as { event?: { userId?: unknown; anonymousId?: unknown } } | null)?.event;
    const user = event?.userId ?? event?.anonymousId;
    if (typeof user === 'string' || typeof user === 'number') return (orderingOf(String(user), undefined) as Ordering).group;
  } catch {
    // an unreadable body is a lane of its own
  }
  return alone;
}

/**
 * The FIFO place of an event: its user's group (a digest, so the queue's metadata does not name
 * the user) and, when it has one, its memory key as the deduplication id.
 */
export function orderingOf(userId: string | undefined, key: string | undefined): Ordering | undefined {
  if (userId === undefined) return key === undefined ? undefined : { group: key.slice(0, 64), dedup: key };
  return { group: hash('sha256', userId, 'hex'), dedup: key };
}
