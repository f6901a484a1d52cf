import type { MiddlewareObj, Request } from '@middy/core';
import { ConfigurationError } from '../errors.ts';
import { count, logger } from '../observability.ts';
import { answerError, asRelayError } from './answer.ts';
import { healthAnswer } from './health.ts';
import { UnknownInvocationError } from './invocation.ts';
import { stateOf } from './state.ts';

/**
 * The error translator, registered last so it sees every error first: it logs the error once and
 * sets the answer the answer policy (`answer.ts`) gives it — a relay error's own status, middy's
 * timeout as a 503, anything unknown as a generic 500 with the stack in the log only. Scheduled
 * and manual invocations get a summary object instead of an HTTP answer: they never throw.
 */
export function errorTranslator(): MiddlewareObj {
  return {
    onError: function translateError(request: Request) {
      const known = asRelayError(request.error);
      const invocation = stateOf(request).invocation;

      if (known) {
        const level = known.statusCode >= 500 ? 'error' : 'warn';
        logger[level]('request failed', { code: known.code, status: known.statusCode, reason: known.logReason });
      } else {
        logger.error('unexpected error', request.error as Error);
      }

      if (invocation?.kind === 'sqs') {
        // Nothing of the batch was handled: every message stays queued and comes back later.
        request.response = { batchItemFailures: invocation.records.map((record) => ({ itemIdentifier: record.messageId })) };
        return;
      }
      if (invocation?.kind === 'scheduled' || invocation?.kind === 'action' || request.error instanceof UnknownInvocationError) {
        request.response = {
          ok: false,
          error: known ? { code: known.code, message: known.message } : { code: 'internal', message: 'Unexpected error' },
        };
        return;
      }

      if (known?.statusCode === 401) count('AuthFailures');
      else if (known === undefined || known.statusCode >= 500) count('ErrorResponses');
      else count('RejectedRequests');

      if (invocation?.kind === 'http' && invocation.route.name === 'deep-health' && known instanceof ConfigurationError) {
        // An authenticated deep health check names the part that fails: the configuration.
        request.response = healthAnswer({ configuration: { ok: false, code: known.code, message: known.message } });
        return;
      }
      request.response = answerError(request.error);
    },
  };
}
