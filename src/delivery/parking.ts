import { type RelayError, ValidationError } from '../errors.ts';
import { type RelayEvent, parseEvent } from '../events/index.ts';
import type { EventFailure } from './process.ts';

/**
 * The messages of the parking queue and the failed queue (SPEC §5). A parked message holds the
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
  /** ISO time of the first failed attempt. */
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

/** The parking-queue message for a failure. */
export const parkedMessage = (failure: EventFailure, now = Date.now()): string => JSON.stringify(parkedRecord(failure, now));

/** The failed-queue message for a parked message (or unreadable text) and the reason. */
export function failedMessage(parked: ParkedEvent | string, reason: Reason, now = Date.now()): string {
  const failed: FailedEvent = { kind: FAILED, version: 1, failedAt: new Date(now).toISOString(), reason, parked };
  return JSON.stringify(failed);
}

/**
 * Reads a parking-queue message back, validating the event again.
 *
 * @throws ValidationError when the message is not a parked event the relay wrote.
 */
export function readParked(body: string): ParkedEvent {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new ValidationError('Parked message is not JSON', { code: 'unreadable_message' });
  }
  const parked = value as Partial<ParkedEvent> | null;
  if (typeof parked !== 'object' || parked === null || parked.kind !== PARKED || parked.version !== 1) {
    throw new ValidationError('Parked message is not a gainsight-px-relay parked event', { code: 'unreadable_message' });
  }
  const resumeAtStep = Number.isInteger(parked.resumeAtStep) && (parked.resumeAtStep as number) >= 0 ? (parked.resumeAtStep as number) : 0;
  return { ...(parked as ParkedEvent), event: parseEvent(parked.event), resumeAtStep };
}
