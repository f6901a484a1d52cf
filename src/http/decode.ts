import { gunzipSync } from 'node:zlib';
import type { MiddlewareObj } from '@middy/core';
import { AuthError, PayloadTooLargeError, ValidationError } from '../errors.ts';
import { isRecord } from '../events/common.ts';
import { isEventsRoute } from './routes.ts';
import { stateOf } from './state.ts';
import { normaliseTracking } from './tracking.ts';

/** docs/http-contract.md limits. */
export const MAX_BODY_BYTES = 512 * 1024;
export const MAX_EVENTS = 100;

const tooLarge = (): PayloadTooLargeError =>
  new PayloadTooLargeError(`Request body is larger than ${MAX_BODY_BYTES / 1024} KiB`);

/**
 * Reads a request body as JSON, whatever `Content-Type` says. Base64 bodies are decoded first;
 * `Content-Encoding: gzip` bodies are inflated with a hard output cap, so a compression bomb
 * stops at the limit instead of filling memory. The size limit applies to the decoded bytes.
 *
 * @throws PayloadTooLargeError (413) or ValidationError (400). Messages never quote the body.
 */
export function readJsonBody(body: string | undefined, isBase64Encoded: boolean, contentEncoding?: string): unknown {
  if (body === undefined || body === '') throw new ValidationError('Request body is empty', { code: 'empty_body' });
  const encoding = contentEncoding?.trim().toLowerCase() ?? '';
  const gzip = encoding === 'gzip' || encoding === 'x-gzip';
  if (encoding !== '' && encoding !== 'identity' && !gzip) {
    throw new ValidationError(`Unsupported Content-Encoding "${encoding.slice(0, 20)}": send gzip or none`, { code: 'unsupported_encoding' });
  }

  let bytes: Buffer | undefined;
  let text: string | undefined;
  if (isBase64Encoded) {
    // 4 base64 characters carry 3 bytes: refuse before decoding what cannot fit.
    if (body.length > Math.ceil(MAX_BODY_BYTES / 3) * 4 + 4) throw tooLarge();
    bytes = Buffer.from(body, 'base64');
    if (bytes.length > MAX_BODY_BYTES) throw tooLarge();
  } else if (gzip) {
    // A binary body that arrived as text: one character per byte.
    if (body.length > MAX_BODY_BYTES) throw tooLarge();
    bytes = Buffer.from(body, 'latin1');
  } else {
    if (body.length > MAX_BODY_BYTES || Buffer.byteLength(body, 'utf8') > MAX_BODY_BYTES) throw tooLarge();
    text = body;
  }

  if (gzip) {
    try {
      text = gunzipSync(bytes as Buffer, { maxOutputLength: MAX_BODY_BYTES }).toString('utf8');
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
      throw new ValidationError('Request body is not valid gzip', { code: 'malformed_gzip' });
    }
  }
  text ??= (bytes as Buffer).toString('utf8');

  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError('Request body is not valid JSON', { code: 'malformed_json' });
  }
}

/** At least one event, at most {@link MAX_EVENTS}. */
function checkCount(events: readonly unknown[]): void {
  if (events.length === 0) throw new ValidationError('Request contains no events', { code: 'empty_batch' });
  if (events.length > MAX_EVENTS) {
    throw new PayloadTooLargeError(`Too many events: at most ${MAX_EVENTS} per request, got ${events.length}`);
  }
}

/**
 * Decodes a `POST /events` body into raw events: one event object, a JSON array of events, or
 * the RudderStack batch shape `{"batch": [...]}`.
 *
 * @throws PayloadTooLargeError (413) or ValidationError (400).
 */
export function decodeEvents(body: string | undefined, isBase64Encoded: boolean, contentEncoding?: string): unknown[] {
  const parsed = readJsonBody(body, isBase64Encoded, contentEncoding);
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
  checkCount(events);
  return events;
}

/**
 * Middleware: decodes the body into raw events as the route's policy says. On the tracking API
 * without an Authorization header the body is read only to find the write key, and until that key
 * is verified any failure is answered 401: an unauthenticated caller learns nothing more.
 */
export function decodeBody(): MiddlewareObj {
  return {
    before: function decodeBodyBefore(request) {
      const state = stateOf(request);
      const invocation = state.invocation;
      if (invocation?.kind !== 'http' || !isEventsRoute(invocation.route)) return;
      const { body, isBase64Encoded, headers } = invocation.http;
      const shape = invocation.route.body;
      try {
        if (shape.kind === 'events') {
          state.rawEvents = decodeEvents(body, isBase64Encoded, headers['content-encoding']);
        } else if (shape.kind === 'tracking') {
          const parsed = readJsonBody(body, isBase64Encoded, headers['content-encoding']);
          const tracking = normaliseTracking(parsed, shape.call, invocation.route.skewCorrected ? state.receivedAt : undefined);
          state.envelope = { writeKey: tracking.writeKey };
          checkCount(tracking.events);
          state.rawEvents = tracking.events;
          state.sentEvents = tracking.sent;
        }
      } catch (error) {
        if (state.writeKeyPending) throw new AuthError('Missing or unreadable write key: send Basic credentials, a Bearer secret or a writeKey field', { cause: error });
        throw error;
      }
    },
  };
}
