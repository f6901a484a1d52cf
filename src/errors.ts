/**
 * The relay's typed errors. Every error the relay throws on purpose is a {@link RelayError}: it
 * carries the HTTP status the sender gets, a stable machine-readable `code`, whether trying again
 * later can succeed, and optional `details` that are safe to show the sender (never a secret,
 * never a whole event). The single error translator (`src/http/error-translator.ts`) turns them
 * into answers; nothing else writes an error response.
 *
 * Status choices follow docs/http-contract.md: RudderStack retries 5xx/429/408 and drops other 4xx, so a
 * failure that can heal (Gainsight down, our key wrong, bad settings) must never be a 4xx.
 */

export interface RelayErrorOptions {
  cause?: unknown;
  details?: unknown;
  /** What logs say instead of `message` when the message quotes outside text (see `logReason`). */
  logMessage?: string;
}

export abstract class RelayError extends Error {
  abstract readonly statusCode: number;
  abstract readonly code: string;
  /**
   * True when the same event can succeed later (the sender retries, or the event is parked);
   * false when it never will as sent. Whether to retry *at once* is a different question,
   * answered by the Gainsight classifier (`src/gainsight/classify.ts`).
   */
  abstract readonly retryable: boolean;
  readonly details: unknown;
  /**
   * The message for logs. It differs from `message` when that quotes Gainsight's error text,
   * which may repeat the sender's data (ids, traits): the sender may see it, the logs may not.
   */
  readonly logReason: string;

  constructor(message: string, options: RelayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options.details;
    this.logReason = options.logMessage ?? message;
  }
}

/** The request or one of its events is malformed: fix the sender, do not retry. */
export class ValidationError extends RelayError {
  readonly statusCode = 400;
  readonly code: string;
  readonly retryable = false;
  constructor(message: string, options: RelayErrorOptions & { code?: string } = {}) {
    super(message, options);
    this.code = options.code ?? 'invalid_event';
  }
}

/** Missing or wrong bearer secret. */
export class AuthError extends RelayError {
  readonly statusCode = 401;
  readonly code = 'unauthorized';
  readonly retryable = false;
}

/** No such route. */
export class RouteNotFoundError extends RelayError {
  readonly statusCode = 404;
  readonly code = 'not_found';
  readonly retryable = false;
}

/** The route exists but not for this method. */
export class MethodNotAllowedError extends RelayError {
  readonly statusCode = 405;
  readonly code = 'method_not_allowed';
  readonly retryable = false;
  constructor(
    message: string,
    readonly allow: readonly string[],
  ) {
    super(message);
  }
}

/** Body larger than the limit, or more events than one request may carry. */
export class PayloadTooLargeError extends RelayError {
  readonly statusCode = 413;
  readonly code = 'payload_too_large';
  readonly retryable = false;
}

/** Gainsight PX refused a write as invalid (400/404/422 and other final 4xx). */
export class UpstreamRejectedError extends RelayError {
  readonly statusCode = 400;
  readonly code = 'gainsight_rejected';
  readonly retryable = false;
}

/** Gainsight PX throttled us (429) and the budget ran out. */
export class RateLimitedError extends RelayError {
  readonly statusCode = 429;
  readonly code = 'gainsight_rate_limited';
  readonly retryable = true;
  constructor(
    message: string,
    options: RelayErrorOptions & { retryAfterSeconds?: number } = {},
  ) {
    super(message, options);
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
  readonly retryAfterSeconds: number | undefined;
}

/**
 * Something on our side of the fence is unavailable: Gainsight PX (5xx, 3xx, timeout, connection
 * error), the configuration (SSM), or a queue. The sender is told to retry (or the event parked).
 */
export class UnavailableError extends RelayError {
  readonly statusCode = 503;
  readonly code: string;
  readonly retryable = true;
  constructor(message: string, options: RelayErrorOptions & { code?: string } = {}) {
    super(message, options);
    this.code = options.code ?? 'upstream_unavailable';
  }
}

/**
 * Gainsight PX refused the relay's API key (401/403): the operator must fix the key. It is not
 * the event's fault and the event must not be lost, so the sender is told to retry (503), or the
 * event is parked; retrying at once cannot help.
 */
export class KeyRefusedError extends RelayError {
  readonly statusCode = 503;
  readonly code = 'gainsight_auth';
  readonly retryable = true;
}

/** The relay's own configuration (SSM parameters, settings JSON, env) is missing or invalid. */
export class ConfigurationError extends RelayError {
  readonly statusCode = 503;
  readonly code = 'configuration_error';
  readonly retryable = true;
}

export const isRelayError = (error: unknown): error is RelayError => error instanceof RelayError;
