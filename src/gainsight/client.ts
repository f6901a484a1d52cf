import { type RelayError, RateLimitedError, UnavailableError, UpstreamRejectedError } from '../errors.ts';
import type { GainsightRequest } from './types.ts';

/**
 * The one HTTP client for Gainsight PX: base URL, the `X-APTRINSIC-API-KEY` header, JSON, the
 * per-call timeout and the translation of a Gainsight status into the relay's errors.
 * Node's global fetch keeps connections alive between calls of a warm container.
 * API ref: https://px-apidocs.gainsight.com/ (authentication, status codes)
 */

export interface GainsightResponse {
  status: number;
  /** Parsed JSON body, or the text when it is not JSON, or undefined when empty. */
  body: unknown;
  headers: Headers;
}

export interface GainsightClientOptions {
  baseUrl: string;
  apiKey: string;
  fetch?: typeof globalThis.fetch;
}

/** Longest Gainsight error text passed back to the sender. */
const MAX_DETAIL = 300;

export const API_KEY_HEADER = 'X-APTRINSIC-API-KEY';

export class GainsightClient {
  readonly baseUrl: string;
  readonly #apiKey: string;
  readonly #fetch: typeof globalThis.fetch;

  constructor(options: GainsightClientOptions) {
    this.baseUrl = options.baseUrl;
    this.#apiKey = options.apiKey;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  /** Gainsight error pages may echo the request's key: it never travels further than here. */
  #redact(text: string): string {
    return this.#apiKey.length >= 4 && text.includes(this.#apiKey) ? text.split(this.#apiKey).join('[redacted]') : text;
  }

  /** True when this client sends `apiKey` (compared without exposing the key). */
  hasKey(apiKey: string): boolean {
    return this.#apiKey === apiKey;
  }

  /**
   * Sends one request and returns whatever Gainsight answered (any status). Transport
   * failures — timeout, abort, refused or reset connection — become a retryable
   * {@link UnavailableError}.
   */
  async send(request: GainsightRequest, signal: AbortSignal): Promise<GainsightResponse> {
    const headers: Record<string, string> = { [API_KEY_HEADER]: this.#apiKey, Accept: 'application/json' };
    let body: string | undefined;
    if (request.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = request.json ?? JSON.stringify(request.body);
    }
    try {
      const response = await this.#fetch(this.baseUrl + request.path, {
        method: request.method,
        headers,
        body,
        signal,
      });
      const text = this.#redact(await response.text());
      return { status: response.status, body: parseBody(text), headers: response.headers };
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      throw new UnavailableError(
        timedOut
          ? `Gainsight PX did not answer ${request.method} ${resourceOf(request.path)} in time`
          : `Gainsight PX could not be reached for ${request.method} ${resourceOf(request.path)}`,
        { code: timedOut ? 'gainsight_timeout' : 'gainsight_unreachable', cause: error },
      );
    }
  }
}

const parseBody = (text: string): unknown => {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/** `/users/abc` → `/users/{id}`: error messages name the call, not the person. */
export const resourceOf = (path: string): string => path.replace(/^(\/[a-z/]+?)\/[^/]+$/i, (_, base: string) =>
  base === '/events' ? path : `${base}/{id}`,
);

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
export function retryAfterSeconds(headers: Headers, now = Date.now()): number | undefined {
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds : undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

/**
 * The only place a Gainsight status becomes a relay error (SPEC §4):
 * - 401/403: our API key is wrong or lacks Write permission. The operator must fix it and the
 *   event must not be lost, so the sender is told to retry (503).
 * - 429: throttled (429, retryable). 408 and 5xx: unavailable (503, retryable).
 * - Any other 4xx: Gainsight rejects the data itself (400, final).
 */
export function classifyFailure(request: GainsightRequest, response: GainsightResponse): RelayError {
  const { status } = response;
  const call = `${request.method} ${resourceOf(request.path)}`;
  const detail = gainsightMessage(response.body);
  const details = { gainsightStatus: status, ...(detail === undefined ? {} : { gainsightMessage: detail }) };
  if (status === 401 || status === 403) {
    return new UnavailableError(
      `Gainsight PX refused the relay's API key (${status} on ${call}): check the api-key parameter and its Write permission`,
      { code: 'gainsight_auth', details },
    );
  }
  if (status === 429) {
    const after = retryAfterSeconds(response.headers);
    return new RateLimitedError(`Gainsight PX throttled ${call}`, {
      details,
      ...(after === undefined ? {} : { retryAfterSeconds: after }),
    });
  }
  if (status === 408 || status >= 500) {
    return new UnavailableError(`Gainsight PX answered ${status} to ${call}`, { details });
  }
  // Gainsight's own text may quote the event (ids, traits): the sender sees it, the logs do not.
  const summary = `Gainsight PX rejected ${call} with ${status}`;
  return new UpstreamRejectedError(detail ? `${summary}: ${detail}` : summary, { details, logMessage: summary });
}

export const isSuccess = (status: number): boolean => status >= 200 && status < 300;
