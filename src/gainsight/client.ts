import { Agent as HttpAgent, type IncomingMessage, type OutgoingHttpHeaders, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { onAbort } from '../abort.ts';
import { UnavailableError } from '../errors.ts';
import { type GainsightResponse, resourceOf } from './classify.ts';
import type { GainsightRequest } from './types.ts';

export type { GainsightResponse } from './classify.ts';

/**
 * The one HTTP client for Gainsight PX: base URL, the `X-APTRINSIC-API-KEY` header, JSON and the
 * per-call timeout. It sends to the configured origin only: `node:https` never follows a
 * redirect, so a 3xx comes back as it came and the key never reaches the host a `Location` names.
 * What an answer means is decided by `classify.ts`.
 *
 * Built on `node:https` with a keep-alive agent (as the AWS SDK's own handler is), not `fetch`:
 * fetch costs about 0.3 ms of CPU per call (web streams, a signal per request) and a slow first
 * call, more than the rest of the relay's work on an event. Connections are reused between the
 * calls of a warm container. Built by the pipeline factory (`src/pipeline.ts`), once per key and
 * base URL.
 * API ref: https://px-apidocs.gainsight.com/ (authentication)
 */

export interface GainsightClientOptions {
  /** `https://api.aptrinsic.com/v1`; `http://` only for a loopback test server (relay-config checks). */
  baseUrl: string;
  apiKey: string;
}

/** How long one call may take, and what else may cut it short. */
export interface CallOptions {
  /** The whole call, connecting through the last byte of the answer. */
  timeoutMs: number;
  /** Aborts the call (middy's signal when the Lambda is about to time out). */
  signal?: AbortSignal | undefined;
}

export const API_KEY_HEADER = 'X-APTRINSIC-API-KEY';

/** Gainsight answers are small JSON documents; more than this is not read (a misbehaving proxy). */
const MAX_ANSWER_CHARS = 1 << 20;

/** Why a call was cut short; anything else is a transport failure. */
class CallTimeout extends Error {
  override name = 'TimeoutError';
}

/** `text` with every secret of 4 characters or more replaced by `[redacted]` (longest first). */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets.length > 1 ? [...secrets].sort((a, b) => b.length - a.length) : secrets) {
    if (secret.length >= 4 && out.includes(secret)) out = out.split(secret).join('[redacted]');
  }
  return out;
}

export class GainsightClient {
  readonly baseUrl: string;
  readonly #apiKey: string;
  /** What an echoed answer must not carry: the key. */
  readonly #secrets: readonly string[];
  readonly #request: typeof httpRequest;
  readonly #agent: HttpAgent;
  readonly #host: string;
  readonly #port: string;
  readonly #basePath: string;

  constructor(options: GainsightClientOptions) {
    this.baseUrl = options.baseUrl;
    this.#apiKey = options.apiKey;
    this.#secrets = [options.apiKey];
    const url = new URL(options.baseUrl);
    const secure = url.protocol === 'https:';
    this.#request = secure ? httpsRequest : httpRequest;
    // LIFO hands out the most recently used socket: the one least likely to have been closed
    // by the server while idle.
    this.#agent = secure ? new HttpsAgent({ keepAlive: true, scheduling: 'lifo' }) : new HttpAgent({ keepAlive: true, scheduling: 'lifo' });
    this.#host = url.hostname.replace(/^\[|\]$/g, '');
    this.#port = url.port;
    this.#basePath = url.pathname.replace(/\/+$/, '');
  }

  /** Gainsight error pages may echo the request's key: it never travels further than here. */
  #redact(text: string): string {
    return redactSecrets(text, this.#secrets);
  }

  /** True when this client sends `apiKey` (compared without exposing the key). */
  hasKey(apiKey: string): boolean {
    return this.#apiKey === apiKey;
  }

  /** Closes idle keep-alive connections (a CLI run that is done, a test). */
  close(): void {
    this.#agent.destroy();
  }

  /**
   * Sends one request and returns whatever Gainsight answered (any status, a 3xx included). Transport
   * failures — timeout, abort, refused or reset connection — become a retryable
   * {@link UnavailableError}.
   */
  send(request: GainsightRequest, call: CallOptions): Promise<GainsightResponse> {
    const headers: OutgoingHttpHeaders = { [API_KEY_HEADER]: this.#apiKey, Accept: 'application/json' };
    let body: string | undefined;
    if (request.body !== undefined) {
      body = request.json ?? JSON.stringify(request.body);
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    return new Promise<GainsightResponse>((resolve, reject) => {
      const { signal } = call;
      const outgoing = this.#request({
        agent: this.#agent,
        host: this.#host,
        ...(this.#port ? { port: this.#port } : {}),
        method: request.method,
        path: this.#basePath + request.path,
        headers,
      });
      const stop = (): void => {
        outgoing.destroy(new CallTimeout('aborted'));
      };
      const timer = setTimeout(stop, Math.max(1, call.timeoutMs));
      const forget = signal === undefined ? undefined : onAbort(signal, stop);
      const finish = (): void => {
        clearTimeout(timer);
        forget?.();
      };
      const fail = (error: unknown): void => {
        finish();
        reject(this.#unavailable(request, error));
      };
      outgoing.on('error', fail);
      outgoing.on('response', (answer: IncomingMessage) => {
        answer.setEncoding('utf8');
        let text = '';
        answer.on('data', (chunk: string) => {
          if (text.length < MAX_ANSWER_CHARS) text += chunk;
        });
        answer.on('error', fail);
        answer.on('end', () => {
          finish();
          resolve({ status: answer.statusCode ?? 0, body: parseBody(this.#redact(text)), headers: answer.headers });
        });
      });
      if (signal?.aborted) stop();
      outgoing.end(body);
    });
  }

  #unavailable(request: GainsightRequest, error: unknown): UnavailableError {
    const timedOut = error instanceof CallTimeout;
    return new UnavailableError(
      timedOut
        ? `Gainsight PX did not answer ${request.method} ${resourceOf(request.path)} in time`
        : `Gainsight PX could not be reached for ${request.method} ${resourceOf(request.path)}`,
      { code: timedOut ? 'gainsight_timeout' : 'gainsight_unreachable', cause: error },
    );
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
