import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { type RelayError, RateLimitedError, UnavailableError, UpstreamRejectedError } from '../errors.ts';
import type { GainsightRequest } from './types.ts';

/**
 * The one HTTP client for Gainsight PX: base URL, the `X-APTRINSIC-API-KEY` header, JSON, the
 * per-call timeout and the translation of a Gainsight status into the relay's errors.
 *
 * Requests go out through `node:http(s)` with one keep-alive agent per container, so a warm
 * container reuses its TLS connections. Not `fetch`: on Node 20/22 a fetch call costs about
 * 2.5 times the CPU of the same request through `node:http` (WHATWG streams), and the first
 * one loads undici, tens of milliseconds of every cold start (bench/, `npm run bench`).
 * API ref: https://px-apidocs.gainsight.com/ (authentication, status codes)
 */

/** What the client reads of response headers: `fetch`'s `Headers` fits, and so do node's. */
export interface ResponseHeaders {
  get(name: string): string | null;
}

export interface GainsightResponse {
  status: number;
  /** Parsed JSON body, or the text when it is not JSON, or undefined when empty. */
  body: unknown;
  headers: ResponseHeaders;
}

export interface GainsightClientOptions {
  baseUrl: string;
  apiKey: string;
  /** Sends through this `fetch` instead of `node:http(s)` (tests stub it). */
  fetch?: typeof globalThis.fetch;
}

/** Longest response text read; Gainsight's answers are small JSON, error pages a few KB. */
const MAX_RESPONSE_CHARS = 1024 * 1024;

let agents: { http: HttpAgent; https: HttpsAgent } | undefined;

/** One keep-alive agent per protocol and container; LIFO keeps the warmest socket in use. */
const agentsOf = () => (agents ??= {
  http: new HttpAgent({ keepAlive: true, scheduling: 'lifo' }),
  https: new HttpsAgent({ keepAlive: true, scheduling: 'lifo' }),
});

const headersOf = (response: IncomingMessage): ResponseHeaders => ({
  get(name) {
    const value = response.headers[name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  },
});

interface RawAnswer {
  status: number;
  text: string;
  headers: ResponseHeaders;
}

/**
 * One request through `node:http(s)`. Rejects on a transport failure, on `signal` (an error
 * named `AbortError`), and when the connection ends before the whole answer arrived.
 */
function nodeRequest(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  signal: AbortSignal,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError(signal));
      return;
    }
    const https = url.protocol === 'https:';
    const options = { method, headers, agent: https ? agentsOf().https : agentsOf().http, signal };
    const onResponse = (response: IncomingMessage) => {
      response.setEncoding('utf8');
      let text = '';
      response.on('data', (chunk: string) => {
        if (text.length < MAX_RESPONSE_CHARS) text += chunk;
      });
      response.on('error', (error) => reject(signal.aborted ? abortError(signal) : error));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text, headers: headersOf(response) }));
      response.on('close', () => {
        if (!response.complete) reject(signal.aborted ? abortError(signal) : new Error('Connection closed before the answer was complete'));
      });
    };
    const outgoing = https ? httpsRequest(url, options, onResponse) : httpRequest(url, options, onResponse);
    outgoing.on('error', (error) => reject(signal.aborted ? abortError(signal) : error));
    if (body !== undefined) outgoing.setHeader('Content-Length', Buffer.byteLength(body));
    outgoing.end(body);
  });
}

const abortError = (signal: AbortSignal): Error => {
  const error = new Error('The request was aborted', { cause: signal.reason });
  error.name = 'AbortError';
  return error;
};

/** Longest Gainsight error text passed back to the sender. */
const MAX_DETAIL = 300;

export const API_KEY_HEADER = 'X-APTRINSIC-API-KEY';

export class GainsightClient {
  readonly baseUrl: string;
  readonly #apiKey: string;
  readonly #fetch: typeof globalThis.fetch | undefined;

  constructor(options: GainsightClientOptions) {
    this.baseUrl = options.baseUrl;
    this.#apiKey = options.apiKey;
    this.#fetch = options.fetch;
  }

  /** The raw answer, through the injected `fetch` or `node:http(s)`. */
  async #exchange(url: string, method: string, headers: Record<string, string>, body: string | undefined, signal: AbortSignal): Promise<RawAnswer> {
    if (this.#fetch === undefined) return nodeRequest(new URL(url), method, headers, body, signal);
    const response = await this.#fetch(url, { method, headers, body, signal });
    return { status: response.status, text: await response.text(), headers: response.headers };
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
      const answer = await this.#exchange(this.baseUrl + request.path, request.method, headers, body, signal);
      return { status: answer.status, body: parseBody(this.#redact(answer.text)), headers: answer.headers };
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
export function retryAfterSeconds(headers: ResponseHeaders, now = Date.now()): number | undefined {
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
