import { UnavailableError } from '../errors.ts';
import { type GainsightResponse, resourceOf } from './classify.ts';
import type { GainsightRequest } from './types.ts';

export type { GainsightResponse } from './classify.ts';

/**
 * The one HTTP client for Gainsight PX: base URL, the `X-APTRINSIC-API-KEY` header, JSON and the
 * per-call timeout. It sends to the configured origin only: a redirect is returned as it came,
 * never followed, so the key never reaches the host a `Location` names. What an answer means is
 * decided by `classify.ts`. Node's global fetch keeps connections alive between calls of a warm
 * container. Built by the pipeline factory (`src/pipeline.ts`), once per key and base URL.
 * API ref: https://px-apidocs.gainsight.com/ (authentication)
 */

export interface GainsightClientOptions {
  baseUrl: string;
  apiKey: string;
  fetch?: typeof globalThis.fetch;
}

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
   * Sends one request and returns whatever Gainsight answered (any status, a 3xx included). Transport
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
        redirect: 'manual',
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
