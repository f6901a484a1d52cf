import { type RelayError, ValidationError, isRelayError } from '../errors.ts';
import { MAX_MESSAGE_ID_LENGTH } from '../events/common.ts';
import { type RelayEvent, parseEvent } from '../events/index.ts';
import type { MappingContext } from '../mapping/index.ts';
import { type Plan, planEvent } from './plan.ts';

/**
 * Validating and planning every event of a request before anything is sent: the step between
 * decoding the body and delivering.
 */

/** A valid event with its plan, and where it stood in the request. */
export interface Prepared {
  index: number;
  event: RelayEvent;
  plan: Plan;
}

/** An event that failed validation or planning, with where it stood in the request. */
export interface Invalid {
  index: number;
  /** The sender's message id when it is a short string (answers echo it). */
  messageId?: string;
  /** The sender's type, shortened: logs and metrics say `invalid`. */
  type: string;
  error: RelayError;
}

export function prepareAll(rawEvents: readonly unknown[], ctx: MappingContext): { prepared: Prepared[]; invalid: Invalid[] } {
  const prepared: Prepared[] = [];
  const invalid: Invalid[] = [];
  rawEvents.forEach((raw, index) => {
    try {
      const event = parseEvent(raw);
      prepared.push({ index, event, plan: planEvent(event, ctx) });
    } catch (error) {
      if (!isRelayError(error)) throw error;
      const { messageId, type } = (raw ?? {}) as { messageId?: unknown; type?: unknown };
      invalid.push({
        index,
        ...(typeof messageId === 'string' && messageId.length <= MAX_MESSAGE_ID_LENGTH ? { messageId } : {}),
        type: typeof type === 'string' ? type.slice(0, 40) : 'unknown',
        error,
      });
    }
  });
  return { prepared, invalid };
}

/** The 400 that refuses a whole request for its invalid events (nothing was sent). */
export function rejectRequest(invalid: readonly Invalid[], total: number): ValidationError {
  const first = invalid[0] as Invalid;
  if (total === 1) return new ValidationError(first.error.message, { code: first.error.code, details: first.error.details });
  const events = invalid.map(({ index, messageId, error }) => ({
    index,
    ...(messageId === undefined ? {} : { messageId }),
    code: error.code,
    message: error.message,
    ...(error.details === undefined ? {} : { details: error.details }),
  }));
  return new ValidationError(`${invalid.length} of ${total} events are invalid; nothing was sent`, { code: 'invalid_events', details: { events } });
}
