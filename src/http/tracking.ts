import { ValidationError } from '../errors.ts';
import { type JsonRecord, isRecord } from '../events/common.ts';
import { isDateInRange, toEpochMs } from '../mapping/convert.ts';
import type { TrackingCall } from './routes.ts';

/**
 * The RudderStack / Segment HTTP tracking API (docs/senders.md): what the SDKs send, turned into the
 * same raw events `POST /events` takes.
 */

export interface TrackingBody {
  events: unknown[];
  /** Each event as the sender sent it, before normalising: what a resend repeats. */
  sent: unknown[];
  /** The write key the body carries (envelope or single call), for authentication. */
  writeKey: unknown;
}


/**
 * An event's time as RudderStack's server computes it when the event has no `timestamp`:
 * `receivedAt − (sentAt − originalTimestamp)`, which removes the device clock's skew. Without
 * `sentAt` it is `originalTimestamp`; without either, the time of arrival.
 */
export function deriveTimestamp(event: JsonRecord, envelopeSentAt: unknown, receivedAt: number): string {
  // Times are read as the mapping reads them (toEpochMs): out-of-range values count as absent.
  const original = toEpochMs(event.originalTimestamp);
  const sentAt = toEpochMs(event.sentAt) ?? toEpochMs(envelopeSentAt);
  const derived = original !== undefined && sentAt !== undefined ? receivedAt - (sentAt - original) : original;
  // A difference of two in-range times can still leave the range (year 275 000 minus 1970).
  return new Date(derived !== undefined && isDateInRange(derived) ? derived : receivedAt).toISOString();
}

/** Shallow merge where the event's own keys win (the envelope's `context` applies to every event). */
const merged = (envelope: unknown, own: unknown): unknown =>
  isRecord(envelope) ? (isRecord(own) ? { ...envelope, ...own } : own === undefined || own === null ? envelope : own) : own;

/**
 * Normalises a tracking-API body: a batch envelope (`batch`, `sentAt`, `writeKey`, `context`,
 * `integrations`, `_metadata`; the envelope's `timestamp` is its own, not an event's) on
 * `/v1/batch`, or one call on `/v1/identify` etc., whose `type` comes from the path when the body
 * has none. With `receivedAt` (the route corrects skew), events without `timestamp` get one
 * derived as RudderStack does.
 *
 * @throws ValidationError when the body is not of that shape.
 */
export function normaliseTracking(parsed: unknown, call: TrackingCall, receivedAt: number | undefined): TrackingBody {
  if (!isRecord(parsed)) {
    throw new ValidationError(call === 'batch' ? 'Body must be {"batch": [...]}' : `Body must be one ${call} call (a JSON object)`, {
      code: 'invalid_body',
    });
  }
  const envelope = call === 'batch' ? parsed : undefined;
  const items = envelope ? envelope.batch : [parsed];
  if (!Array.isArray(items)) throw new ValidationError('Body must be {"batch": [...]}', { code: 'invalid_body' });
  const sentAt = parsed.sentAt;
  const events = items.map((item) => {
    if (!isRecord(item)) return item; // reported as an invalid event later
    const event: JsonRecord = { ...item };
    if (call !== 'batch' && (event.type === undefined || event.type === null || event.type === '')) event.type = call;
    if (envelope) {
      if (envelope.context !== undefined) event.context = merged(envelope.context, item.context);
      if (envelope.integrations !== undefined) event.integrations = merged(envelope.integrations, item.integrations);
    }
    if (receivedAt !== undefined && (event.timestamp === undefined || event.timestamp === null || event.timestamp === '')) {
      event.timestamp = deriveTimestamp(item, sentAt, receivedAt);
    }
    return event;
  });
  return { events, sent: items, writeKey: parsed.writeKey };
}
