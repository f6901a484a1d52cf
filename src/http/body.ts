import type { MiddlewareObj } from '@middy/core';
import { PayloadTooLargeError, ValidationError } from '../errors.ts';
import { isRecord } from '../events/common.ts';
import { stateOf } from './state.ts';

/** SPEC §1 limits. */
export const MAX_BODY_BYTES = 512 * 1024;
export const MAX_EVENTS = 100;

/**
 * Decodes a request body into raw events: one event object, a JSON array of events, or the
 * RudderStack batch shape `{"batch": [...]}`. Base64 bodies are decoded first; the size limit
 * applies to the decoded bytes.
 *
 * @throws PayloadTooLargeError (413) or ValidationError (400). Messages never quote the body.
 */
export function decodeEvents(body: string | undefined, isBase64Encoded: boolean): unknown[] {
  if (body === undefined || body === '') throw new ValidationError('Request body is empty', { code: 'empty_body' });
  let text = body;
  if (isBase64Encoded) {
    // 4 base64 characters carry 3 bytes: refuse before decoding what cannot fit.
    if (body.length > Math.ceil(MAX_BODY_BYTES / 3) * 4 + 4) throw tooLarge();
    const bytes = Buffer.from(body, 'base64');
    if (bytes.length > MAX_BODY_BYTES) throw tooLarge();
    text = bytes.toString('utf8');
  } else if (body.length > MAX_BODY_BYTES || Buffer.byteLength(body, 'utf8') > MAX_BODY_BYTES) {
    throw tooLarge();
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ValidationError('Request body is not valid JSON', { code: 'malformed_json' });
  }

  const events = Array.isArray(parsed)
    ? parsed
    : isRecord(parsed) && Object.hasOwn(parsed, 'batch')
      ? parsed.batch
      : parsed;
  if (isRecord(events)) return [events];
  if (!Array.isArray(events)) {
    throw new ValidationError('Request body must be an event object, an array of events or {"batch": [...]}', {
      code: 'invalid_body',
    });
  }
  if (events.length === 0) throw new ValidationError('Request contains no events', { code: 'empty_batch' });
  if (events.length > MAX_EVENTS) {
    throw new PayloadTooLargeError(`Too many events: at most ${MAX_EVENTS} per request, got ${events.length}`);
  }
  return events;
}

const tooLarge = (): PayloadTooLargeError =>
  new PayloadTooLargeError(`Request body is larger than ${MAX_BODY_BYTES / 1024} KiB`);

/** Middleware: decodes the body of `POST /events` into raw events on the request state. */
export function decodeBody(): MiddlewareObj {
  return {
    before: function decodeBodyBefore(request) {
      const state = stateOf(request);
      if (state.invocation?.kind !== 'http' || state.invocation.route !== 'events') return;
      state.rawEvents = decodeEvents(state.invocation.http.body, state.invocation.http.isBase64Encoded);
    },
  };
}
