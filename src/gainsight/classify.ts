import type { IncomingHttpHeaders } from 'node:http';
import {
  KeyRefusedError,
  RateLimitedError,
  type RelayError,
  UnavailableError,
  UpstreamRejectedError,
  isRelayError,
} from '../errors.ts';
import type { GainsightRequest } from './types.ts';

/**
 * What a Gainsight PX answer means for the relay, decided in one place (docs/http-contract.md). Every
 * caller — the retry loop, the upsert steps, the deep health check, the CLI — asks
 * {@link classify} and acts on its verdict; none reads a status code on its own.
 * API ref: https://px-apidocs.gainsight.com/ (authentication, status codes)
 */

/** Gainsight's answer to one call, as the client returns it. */
export interface GainsightResponse {
  status: number;
  /** Parsed JSON body, or the text when it is not JSON, or undefined when empty. */
  body: unknown;
  /** Response headers, names in lower case (as `node:http` gives them). */
  headers: IncomingHttpHeaders;
}

/**
 * - `success`: 2xx, the call is done.
 * - `retry-now`: 408, 429, 5xx, a timeout or a connection failure: worth another attempt within
 *   the delivery budget (honouring `retryAfterMs`); when time runs out, `error` is parked or the
 *   sender is told to retry.
 * - `retry-later`: 3xx (redirects are never followed: the key must not reach another host) and
 *   401/403 (our key refused): another attempt now cannot help, but the event is not at fault, so
 *   it is parked or the sender retries once the operator has fixed the cause.
 * - `rejected`: any other 4xx: Gainsight refuses the data itself; final.
 * The upsert steps read two statuses of their own before this verdict: 404 on an update (create
 * instead) and 400 on a create (possible duplicate: update again). See `delivery/execute.ts`.
 */
export type Verdict =
  | { next: 'success' }
  | { next: 'retry-now'; error: RelayError; retryAfterMs?: number }
  | { next: 'retry-later'; error: RelayError }
  | { next: 'rejected'; error: RelayError };

/** Longest Gainsight error text passed back to the sender. */
const MAX_DETAIL = 300;

export const isSuccess = (status: number): boolean => status >= 200 && status < 300;

/**
 * Classifies one answer: Gainsight's response, or the error the client threw when no response
 * came (a relay error for a timeout or connection failure; anything else is a bug and rethrown).
 */
export function classify(request: GainsightRequest, answer: GainsightResponse | unknown): Verdict {
  if (!isResponse(answer)) {
    if (isRelayError(answer)) return { next: 'retry-now', error: answer };
    throw answer;
  }
  const { status } = answer;
  if (isSuccess(status)) return { next: 'success' };
  const call = `${request.method} ${resourceOf(request.path)}`;
  const detail = gainsightMessage(answer.body);
  const details = { gainsightStatus: status, ...(detail === undefined ? {} : { gainsightMessage: detail }) };
  if (status >= 300 && status < 400) {
    return {
      next: 'retry-later',
      error: new UnavailableError(`Gainsight PX answered ${status} (a redirect, not followed) to ${call}: check GAINSIGHT_PX_BASE_URL and the data center`, {
        code: 'gainsight_redirect',
        details: { gainsightStatus: status },
      }),
    };
  }
  if (status === 401 || status === 403) {
    return {
      next: 'retry-later',
      error: new KeyRefusedError(`Gainsight PX refused the relay's API key (${status} on ${call}): check the api-key parameter and its Write permission`, {
        details,
      }),
    };
  }
  if (status === 429) {
    const after = retryAfterSeconds(answer.headers);
    return {
      next: 'retry-now',
      error: new RateLimitedError(`Gainsight PX throttled ${call}`, { details, ...(after === undefined ? {} : { retryAfterSeconds: after }) }),
      ...(after === undefined ? {} : { retryAfterMs: after * 1000 }),
    };
  }
  if (status === 408 || status >= 500) {
    const after = retryAfterSeconds(answer.headers);
    return {
      next: 'retry-now',
      error: new UnavailableError(`Gainsight PX answered ${status} to ${call}`, { details }),
      ...(after === undefined ? {} : { retryAfterMs: after * 1000 }),
    };
  }
  // Gainsight's own text may quote the event (ids, traits): the sender sees it, the logs do not.
  const summary = `Gainsight PX rejected ${call} with ${status}`;
  return { next: 'rejected', error: new UpstreamRejectedError(detail ? `${summary}: ${detail}` : summary, { details, logMessage: summary }) };
}

const isResponse = (value: unknown): value is GainsightResponse =>
  typeof value === 'object' &&
  value !== null &&
  !(value instanceof Error) &&
  typeof (value as GainsightResponse).status === 'number' &&
  typeof (value as GainsightResponse).headers === 'object';

/** `/users/abc` → `/users/{id}`: error messages name the call, not the person. */
export const resourceOf = (path: string): string =>
  path.replace(/^(\/[a-z/]+?)\/[^/]+$/i, (_, base: string) => (base === '/events' ? path : `${base}/{id}`));

/** Gainsight's error text, from its `externalapierror` body or plain text, made safe to echo. */
export function gainsightMessage(body: unknown): string | undefined {
  let message: unknown;
  if (typeof body === 'object' && body !== null) {
    const record = body as Record<string, unknown>;
    const inner = record.externalapierror as Record<string, unknown> | undefined;
    const subErrors = inner?.subErrors;
    const firstSub = Array.isArray(subErrors) ? (subErrors[0] as Record<string, unknown> | undefined) : undefined;
    message = firstSub?.message ?? inner?.message ?? inner?.status ?? record.errorMessage ?? record.message;
  } else message = body;
  if (typeof message !== 'string') return undefined;
  const plain = message
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (plain === '') return undefined;
  return plain.length > MAX_DETAIL ? `${plain.slice(0, MAX_DETAIL)}…` : plain;
}

/** Seconds from a `Retry-After` header (seconds or HTTP date), when present and sane. */
export function retryAfterSeconds(headers: IncomingHttpHeaders, now = Date.now()): number | undefined {
  const value = headers['retry-after'];
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds : undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}
