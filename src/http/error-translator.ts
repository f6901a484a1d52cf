import type { MiddlewareObj, Request } from '@middy/core';
import { ConfigurationError, MethodNotAllowedError, RateLimitedError, type RelayError, UnavailableError, isRelayError } from '../errors.ts';
import { count, logger } from '../observability.ts';
import { healthAnswer } from './health.ts';
import { UnknownInvocationError } from './invocation.ts';
import { errorBody, json } from './responses.ts';
import { stateOf } from './state.ts';

/**
 * The single error translator, registered last so it sees every error first. It is the only
 * place that writes an error response:
 * - known relay errors → their status and `{"error":{code,message,details}}`;
 * - middy's own timeout (the Lambda is about to end) → 503, so the sender retries;
 * - anything unknown → a generic 500 without details, and one error log with the stack.
 * Scheduled and manual invocations get a summary object instead of an HTTP answer: they must
 * never throw.
 */
export function errorTranslator(): MiddlewareObj {
  return {
    onError: function translateError(request: Request) {
      const known = toRelayError(request.error);
      const invocation = stateOf(request).invocation;

      if (known) {
        const level = known.statusCode >= 500 ? 'error' : 'warn';
        logger[level]('request failed', { code: known.code, status: known.statusCode, reason: known.logReason });
      } else {
        logger.error('unexpected error', request.error as Error);
      }

      if (invocation?.kind === 'scheduled' || invocation?.kind === 'action' || request.error instanceof UnknownInvocationError) {
        request.response = {
          ok: false,
          error: known ? { code: known.code, message: known.message } : { code: 'internal', message: 'Unexpected error' },
        };
        return;
      }

      if (!known) {
        count('ErrorResponses');
        request.response = json(500, { error: { code: 'internal', message: 'Unexpected error' } });
        return;
      }
      if (known.statusCode === 401) count('AuthFailures');
      else if (known.statusCode >= 500) count('ErrorResponses');
      else count('RejectedRequests');

      if (invocation?.kind === 'http' && invocation.deep && known.statusCode !== 401) {
        // The deep health check names the part that fails: here, loading the configuration.
        request.response = healthAnswer({ configuration: { ok: false, code: known.code, message: known.message } });
        return;
      }
      request.response = json(known.statusCode, errorBody(known), headersFor(known));
    },
  };
}

function headersFor(error: RelayError): Record<string, string> {
  if (error instanceof MethodNotAllowedError) return { allow: error.allow.join(', ') };
  if (error instanceof RateLimitedError && error.retryAfterSeconds !== undefined) {
    return { 'retry-after': String(Math.ceil(error.retryAfterSeconds)) };
  }
  return {};
}

/** Relay errors as they are; middy's timeout and middleware failures as 503s. */
function toRelayError(error: unknown): RelayError | undefined {
  if (isRelayError(error)) return error;
  if (error instanceof Error && error.name === 'TimeoutError') {
    return new UnavailableError('The relay ran out of time', { code: 'timeout', cause: error });
  }
  if (error instanceof Error && error.message === 'Failed to resolve internal values') {
    return new ConfigurationError('Configuration could not be loaded', { cause: error });
  }
  return undefined;
}
