import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { configuration, loadEnv } from './src/config/index.ts';
import { Queue } from './src/delivery/queue.ts';
import { authenticate, authenticateWriteKey } from './src/http/auth.ts';
import { decodeBody } from './src/http/body.ts';
import { errorTranslator } from './src/http/error-translator.ts';
import { route } from './src/http/route.ts';
import { logger, metrics } from './src/observability.ts';
import type { HttpResponse } from './src/http/responses.ts';
import type { RelayState } from './src/http/state.ts';
import { type ScheduledSummary, createRelayHandler } from './src/relay.ts';

/**
 * gainsight-px-relay: one Lambda function for `POST /events`, `GET /health` and the schedule.
 * This file only composes; each step lives in `src/`.
 */

// Read once per container. An invalid environment is answered 503 per request, never a crash.
const env = loadEnv();

const chain = middy<RelayState, HttpResponse | ScheduledSummary, Error, Context>({ timeoutEarlyInMillis: 500 })
  // 1. Observability, outermost: Lambda context on every log line, keys reset per invocation.
  //    Never log the raw event (it holds the Authorization header and personal data), whatever
  //    POWERTOOLS_LOGGER_LOG_EVENT says.
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  //    Metrics flushed (embedded metric format) at the end of every invocation, cold start counted.
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  // 2. Route: HTTP route (404/405), schedule or manual action. GET /health answers here, before
  //    any SSM or Gainsight call.
  .use(route())
  // 3. Configuration: secrets and settings from SSM (SSM_PREFIX) or from the environment.
  .use(configuration(env))
  // 4. Authenticate with the webhook secret(s): Bearer on POST /events, Basic (write key) or
  //    Bearer on the tracking API (/v1/*).
  .use(authenticate())
  // 5. Decode the body into raw events (base64, gzip, 512 KiB, 100 events; tracking-API
  //    envelopes and event times).
  .use(decodeBody())
  // 6. Tracking API without an Authorization header: the body's writeKey must be a secret.
  .use(authenticateWriteKey())
  // 7. The single error translator, registered last so it handles every error first.
  .use(errorTranslator())
  .handler(
    createRelayHandler(
      env instanceof Error
        ? { budgetMs: 8000 }
        : {
            budgetMs: env.DELIVERY_BUDGET_MS,
            ...(env.DEAD_LETTER_QUEUE_URL ? { parking: new Queue(env.DEAD_LETTER_QUEUE_URL) } : {}),
            ...(env.FAILED_QUEUE_URL ? { failed: new Queue(env.FAILED_QUEUE_URL) } : {}),
          },
    ),
  );

/** The Lambda entry point (API Gateway HTTP/REST events, EventBridge schedules, manual invokes). */
export const handler = chain as unknown as (event: unknown, context: Context) => Promise<unknown>;
