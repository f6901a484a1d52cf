import { MethodNotAllowedError, RateLimitedError, type RelayError, UnavailableError, isRelayError } from '../errors.ts';
import type { Settled } from '../delivery/settle.ts';
import type { EventsRoute } from './routes.ts';

/**
 * The one answer policy (docs/http-contract.md): what status and body the sender gets, from the outcomes of a
 * request's events or from the error that stopped it. Nothing else decides the status of an
 * events request or of an error; the health routes answer in `health.ts` and `route.ts`.
 *
 * For a request's events, the most urgent outcome decides:
 * | some event …                                        | status |
 * | must be retried and could not be parked, all 429    | 429    |
 * | must be retried and could not be parked, otherwise  | 503    |
 * | was rejected (invalid, or refused by Gainsight)      | 400    |
 * | was parked                                           | 202 (200 where the route's policy says) |
 * | none of these: delivered or skipped                  | 200    |
 * The body lists every event's outcome in order, so the sender of a batch can tell which landed.
 */

/** The API Gateway proxy result shape (it serves payload 2.0 and REST v1 alike). */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** A JSON answer. Serialising cannot throw: every body the relay builds is plain data. */
export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** docs/http-contract.md error body: `{"error":{"code","message","details"?}}`. */
function errorBody(error: Pick<RelayError, 'code' | 'message' | 'details'>, details = error.details): { error: Record<string, unknown> } {
  return { error: { code: error.code, message: error.message, ...(details === undefined ? {} : { details }) } };
}

function headersFor(error: RelayError): Record<string, string> {
  if (error instanceof MethodNotAllowedError) return { allow: error.allow.join(', ') };
  if (error instanceof RateLimitedError && error.retryAfterSeconds !== undefined) {
    return { 'retry-after': String(Math.ceil(error.retryAfterSeconds)) };
  }
  return {};
}

const longestWait = (errors: readonly RateLimitedError[]): RateLimitedError =>
  errors.reduce((longest, error) => ((error.retryAfterSeconds ?? -1) > (longest.retryAfterSeconds ?? -1) ? error : longest));

/** The answer to a request whose events were each settled. */
export function answerEvents(settled: readonly Settled[], route: Pick<EventsRoute, 'parkedStatus'>): HttpResponse {
  const results = settled.map((item) => item.entry);
  const failures = settled.flatMap((item) => (item.failure ? [item.failure] : []));
  if (failures.length === 0) {
    return json(results.some((entry) => entry.status === 'queued') ? route.parkedStatus : 200, { results });
  }
  const mustRetry = failures.filter((error) => error.retryable);
  const throttledOnly = mustRetry.length > 0 && mustRetry.every((error) => error instanceof RateLimitedError);
  const status = mustRetry.length === 0 ? 400 : throttledOnly ? 429 : 503;
  // The error named in the body is one of the deciding kind: a 503's is not a 429 when there is
  // another; of throttled events, the one Gainsight asked to wait longest for (its Retry-After).
  const deciding = throttledOnly ? longestWait(mustRetry as RateLimitedError[]) : (mustRetry.find((error) => !(error instanceof RateLimitedError)) ?? (failures[0] as RelayError));
  const message = settled.length === 1 ? deciding.message : `${failures.length} of ${settled.length} events failed: ${deciding.message}`;
  return json(status, errorBody({ code: deciding.code, message, details: undefined }, { results }), status === 429 ? headersFor(deciding) : {});
}

/** Relay errors as they are; middy's timeout as a 503; undefined for anything unknown. */
export function asRelayError(error: unknown): RelayError | undefined {
  if (isRelayError(error)) return error;
  if (error instanceof Error && error.name === 'TimeoutError') {
    return new UnavailableError('The relay ran out of time', { code: 'timeout', cause: error });
  }
  return undefined;
}

/** The answer to a request stopped by an error: its status, or a generic 500 for the unknown. */
export function answerError(error: unknown): HttpResponse {
  const known = asRelayError(error);
  if (!known) return json(500, { error: { code: 'internal', message: 'Unexpected error' } });
  return json(known.statusCode, errorBody(known), headersFor(known));
}
