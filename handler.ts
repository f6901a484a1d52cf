import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { loadEnv, loaderFor } from './src/config/index.ts';
import { MIDDY_TIMEOUT_EARLY_MS } from './src/delivery/budget.ts';
import { createHandler } from './src/handle.ts';
import type { BatchResponse } from './src/consume.ts';
import type { HousekeepingSummary } from './src/housekeeping.ts';
import type { HttpResponse } from './src/http/answer.ts';
import { authenticate, authenticateWriteKey } from './src/http/authenticate.ts';
import { loadConfiguration, requireConfiguration } from './src/http/configuration.ts';
import { decodeBody } from './src/http/decode.ts';
import { errorTranslator } from './src/http/error-translator.ts';
import { route } from './src/http/route.ts';
import type { RelayState } from './src/http/state.ts';
import { logger, publishMetrics } from './src/observability.ts';

/**
 * gainsight-px-relay: one Lambda function for the HTTP routes, the schedule and manual actions.
 * This file only composes; each step lives in `src/` (README "Architecture").
 */

// `process.env` is a host object: every read crosses into C++, and Powertools reads it on every
// log line and metrics flush (trace id, log level, ...), a visible cost per event. A plain copy
// serves the same reads and writes (the Lambda runtime still sets _X_AMZN_TRACE_ID on it) as
// ordinary property lookups.
process.env = { ...process.env };

// Read once per container. An invalid environment is answered 503 per request, never a crash.
const env = loadEnv();

const chain = middy<RelayState, HttpResponse | HousekeepingSummary | BatchResponse, Error, Context>({ timeoutEarlyInMillis: MIDDY_TIMEOUT_EARLY_MS })
  // 1. Observability, outermost: Lambda context on every log line, keys reset per invocation.
  //    Never log the raw event (it holds the Authorization header and personal data), whatever
  //    POWERTOOLS_LOGGER_LOG_EVENT says.
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  //    Metrics published (embedded metric format) at the end of every invocation in one write,
  //    cold start counted.
  .use(publishMetrics())
  // 2. Route: HTTP route (404/405), queue batch, schedule or manual action. Plain GET /health answers here,
  //    before anything else.
  .use(route())
  // 3. Credentials: what the configuration loader serves (SSM under SSM_PREFIX, cached, backed
  //    off after failures). Without credentials every caller gets the same generic 503.
  .use(loadConfiguration(loaderFor(env)))
  // 4. Authenticate the Authorization header against the route's secrets, before the body is read.
  .use(authenticate())
  // 5. Decode the body into raw events (base64, gzip, 512 KiB, 100 events; tracking-API envelopes
  //    and event times). Without a header credential, any failure here is a 401.
  .use(decodeBody())
  // 6. Tracking API without an Authorization header: the body's writeKey must be a write key.
  .use(authenticateWriteKey())
  // 7. Authenticated from here on: a configuration error is told to this caller (503).
  .use(requireConfiguration())
  // 8. The error translator, registered last so it handles every error first.
  .use(errorTranslator())
  .handler(
    // With an invalid environment every invocation stops at step 3, so no pipeline is built.
    createHandler(
      env instanceof Error
        ? { budgetMs: 0 }
        : {
            budgetMs: env.DELIVERY_BUDGET_MS,
            parkingQueueUrl: env.DEAD_LETTER_QUEUE_URL,
            failedQueueUrl: env.FAILED_QUEUE_URL,
            queued: env.DELIVERY_MODE === 'queued',
            maxInFlight: env.GAINSIGHT_MAX_IN_FLIGHT,
            metrics: true,
          },
    ),
  );

/** The Lambda entry point (API Gateway HTTP/REST events, SQS batches, EventBridge schedules, manual invokes). */
export const handler = chain as unknown as (event: unknown, context: Context) => Promise<unknown>;
