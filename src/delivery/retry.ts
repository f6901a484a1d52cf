import { onAbort } from '../abort.ts';
import { UnavailableError } from '../errors.ts';
import { type GainsightResponse, classify } from '../gainsight/classify.ts';
import type { CallOptions } from '../gainsight/client.ts';
import type { GainsightRequest } from '../gainsight/types.ts';
import type { Send } from './execute.ts';

/**
 * Retries inside a time budget (docs/http-contract.md): what the classifier calls `retry-now` (408, 429, 5xx,
 * timeouts, connection errors) is tried again with exponential backoff and full jitter,
 * honouring Gainsight's `Retry-After` when it fits in the time left. Any other answer goes
 * straight back to the caller.
 */

export interface RetryPolicy {
  /** First backoff ceiling; doubles per attempt. */
  baseDelayMs: number;
  /** Largest backoff ceiling. */
  maxDelayMs: number;
  /** Longest single attempt: a hung call still leaves time to try again. */
  attemptTimeoutMs: number;
  /** An attempt is not started with less time than this left. */
  minAttemptMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  baseDelayMs: 100,
  maxDelayMs: 2000,
  attemptTimeoutMs: 4000,
  minAttemptMs: 250,
});

/** Sends one request once, within `call.timeoutMs`; the Gainsight client's `send`. */
export type Transport = (request: GainsightRequest, call: CallOptions) => Promise<GainsightResponse>;

/** What the retries of one event went through, for logs and the parking queue. */
export interface AttemptLog {
  attempts: number;
  /** When the first failed attempt ended (epoch ms). */
  firstFailureAt?: number;
}

export interface RetryOptions {
  /** Epoch ms after which no attempt starts and none is waited for. */
  deadline: number;
  /** Aborts everything (middy's signal when the Lambda is about to time out). */
  signal?: AbortSignal;
  policy?: RetryPolicy;
  log: AttemptLog;
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * Runs one attempt when a call slot is free (GAINSIGHT_MAX_IN_FLIGHT): the time left is
   * checked once the slot is held, so a call that waited is not sent without time to finish.
   */
  gate?: Gate;
}

/** Runs a task when a call slot is free. */
export type Gate = <T>(task: () => Promise<T>) => Promise<T>;

const ungated: Gate = (task) => task();

/** Full jitter: a random wait between 0 and the exponential ceiling. */
export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export const abortableSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    const forget = signal === undefined ? undefined : onAbort(signal, done);
    function done() {
      clearTimeout(timer);
      forget?.();
      resolve();
    }
  });

/** Wraps a transport into a {@link Send} that retries retryable failures until the deadline. */
export function withRetries(transport: Transport, options: RetryOptions): Send {
  const policy = options.policy ?? DEFAULT_RETRY_POLICY;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? abortableSleep;
  const gate = options.gate ?? ungated;
  const { log } = options;

  return async function sendWithRetries(request) {
    for (let attempt = 1; ; attempt += 1) {
      let response: GainsightResponse | undefined;
      let answer: unknown;
      await gate(async () => {
        const left = options.deadline - Date.now();
        if (left < policy.minAttemptMs) {
          // Never put a request on the wire that would be aborted a moment later: Gainsight might
          // apply it anyway, and the parked event would then be sent twice.
          log.firstFailureAt ??= Date.now();
          throw new UnavailableError('No time left in the delivery budget for a Gainsight call', { code: 'gainsight_timeout' });
        }
        // A timeout of the call's own, no signal built per attempt: the transport times the call.
        const call = { timeoutMs: Math.max(1, Math.min(left, policy.attemptTimeoutMs)), signal: options.signal };
        log.attempts += 1;
        try {
          answer = response = await transport(request, call);
        } catch (error) {
          answer = error;
        }
      });
      const verdict = classify(request, answer);
      if (verdict.next === 'success') return response as GainsightResponse;
      if (verdict.next !== 'retry-now') {
        if (response) return response;
        throw verdict.error;
      }
      log.firstFailureAt ??= Date.now();

      const wait = verdict.retryAfterMs ?? backoffMs(attempt, policy, random);
      const fits = Date.now() + wait + policy.minAttemptMs <= options.deadline;
      if (!fits || options.signal?.aborted) {
        if (response) return response;
        throw verdict.error;
      }
      await sleep(wait, options.signal);
    }
  };
}
