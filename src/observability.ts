import { createHmac } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj } from '@middy/core';
import type { HttpMethod } from './gainsight/types.ts';

/**
 * Observability singletons. The logger writes structured JSON; `LOG_LEVEL` (or
 * `POWERTOOLS_LOG_LEVEL`) sets the level. Never log whole events, traits or properties: they
 * carry personal data. Never log a secret: log names of parameters, not values.
 *
 * Metrics go to CloudWatch in the embedded metric format (one JSON log line per flush, no API
 * call), namespace `GainsightPxRelay`, dimension `service`; the middy chain flushes them at the
 * end of every invocation.
 */
export const SERVICE_NAME = 'gainsight-px-relay';
export const METRICS_NAMESPACE = 'GainsightPxRelay';

export const logger = new Logger({ serviceName: SERVICE_NAME });

/** Powertools metrics that can publish other instances' metrics in the same EMF lines. */
class RelayMetrics extends Metrics {
  /**
   * Publishes what this instance and `others` stored (validated and serialised by Powertools)
   * as few EMF documents as their dimension values allow, in one write: an EMF document may hold
   * several metric directives, each with its own dimension sets, as long as the values they name
   * at the top level agree. An invocation's service-level metrics and its `Events` by type and
   * outcome are one line instead of two. Nothing is written when nothing was stored (Powertools
   * would warn "No application metrics to publish" on every such invocation).
   */
  publishWith(others: Iterable<Metrics>): void {
    const sources = [this, ...others].filter((source) => source.hasStoredMetrics());
    try {
      if (sources.length > 0 && !this.isDisabled()) {
        const documents = mergeDocuments(sources.map((source) => source.serializeMetrics() as unknown as EmfDocument));
        process.stdout.write(`${documents.map((document) => JSON.stringify(document)).join('\n')}\n`);
      }
    } finally {
      for (const source of sources) source.clearMetrics();
      this.clearDimensions();
      this.clearMetadata();
    }
  }
}

export const metrics = new RelayMetrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });

type EmfDocument = { _aws: { Timestamp: number; CloudWatchMetrics: unknown[] } } & Record<string, unknown>;

/** True when every top-level value `document` names that `target` has too is the same. */
function agrees(target: EmfDocument, document: EmfDocument): boolean {
  for (const key in document) if (key !== '_aws' && key in target && target[key] !== document[key]) return false;
  return true;
}

/** Documents combined while their shared top-level values agree (each is freshly serialised: mutable). */
function mergeDocuments(documents: EmfDocument[]): EmfDocument[] {
  const merged: EmfDocument[] = [];
  for (const document of documents) {
    const into = merged.find((target) => agrees(target, document));
    if (into === undefined) {
      merged.push(document);
      continue;
    }
    for (const key in document) if (key !== '_aws') into[key] = document[key];
    into._aws.CloudWatchMetrics.push(...document._aws.CloudWatchMetrics);
  }
  return merged;
}

/**
 * Middleware: counts a cold start, and publishes the invocation's metrics when it ends (answered
 * or failed) in one write. An early answer (plain `GET /health`) publishes nothing, as with
 * Powertools' own `logMetrics`.
 */
export function publishMetrics(): MiddlewareObj {
  const publish = (): void => metrics.publishWith(eventMetrics.values());
  return {
    before: (request) => {
      metrics.captureColdStartMetric((request.context as { functionName?: string }).functionName);
    },
    after: publish,
    onError: publish,
  };
}

/**
 * A stand-in for a user id in logs: the first 16 hex digits of its HMAC-SHA256 under `key`, a
 * key derived from the deployment's own secrets (`RelayConfig.logKey`). Enough to follow one
 * user's events through the logs; without the key, hashing guessed emails does not find them.
 */
export function userHash(userId: string | undefined, key: Buffer): string | undefined {
  return userId === undefined ? undefined : createHmac('sha256', key).update(userId, 'utf8').digest('hex').slice(0, 16);
}

/** Event outcomes as metrics report them; `duplicate` is a resend this container had acknowledged. */
export const METRIC_OUTCOMES = ['delivered', 'skipped', 'queued', 'rejected', 'failed', 'dry-run', 'duplicate'] as const;
export type MetricOutcome = (typeof METRIC_OUTCOMES)[number];

/**
 * `Events` (Count) by `type` and `outcome`. Counts are summed per combination first, so a batch
 * of 100 identical events is one metric line, not 100.
 */
export function recordEvents(events: readonly { type: string; outcome: MetricOutcome }[]): void {
  const counts = new Map<string, { type: string; outcome: MetricOutcome; count: number }>();
  for (const { type, outcome } of events) {
    const key = `${type}\u0000${outcome}`;
    const entry = counts.get(key);
    if (entry) entry.count += 1;
    else counts.set(key, { type, outcome, count: 1 });
  }
  for (const { type, outcome, count } of counts.values()) {
    eventsMetric(type, outcome).addMetric('Events', MetricUnit.Count, count);
  }
}

/**
 * One store per dimension values (`Events` by type and outcome, `GainsightCalls` by method), built
 * once (building one costs a Console), published with the invocation's other metrics by
 * {@link publishMetrics}.
 */
const eventMetrics = new Map<string, Metrics>();

function eventsMetric(type: string, outcome: MetricOutcome): Metrics {
  return dimensioned(`${type}\u0000${outcome}`, { type, outcome });
}

function dimensioned(key: string, dimensions: Record<string, string>): Metrics {
  let store = eventMetrics.get(key);
  if (store === undefined) {
    // Default dimensions survive each publish; plain dimensions would be cleared by it.
    store = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, defaultDimensions: dimensions });
    // Types are validated, outcomes and methods fixed: a handful. Past the bound, publish at once.
    if (eventMetrics.size < 100) eventMetrics.set(key, store);
    else {
      store = metrics.singleMetric();
      store.setDefaultDimensions(dimensions);
    }
  }
  return store;
}

/**
 * Every Gainsight call is counted under exactly one of these names, by its answer's status class
 * (`Errors`: no answer: a timeout or a connection failure). Together they are every call made,
 * which the quota alarm (serverless.yml) sums.
 */
export const GAINSIGHT_CALL_METRICS = ['GainsightCalls2xx', 'GainsightCalls3xx', 'GainsightCalls4xx', 'GainsightCalls5xx', 'GainsightCallsErrors'] as const;

/** The count a call with answer `status` goes to. */
export function callMetricOf(status: number | undefined): (typeof GAINSIGHT_CALL_METRICS)[number] {
  if (status === undefined || status < 200 || status >= 600) return 'GainsightCallsErrors';
  return GAINSIGHT_CALL_METRICS[Math.floor(status / 100) - 2] as (typeof GAINSIGHT_CALL_METRICS)[number];
}

/**
 * Per call: `GainsightLatency` (ms), its count by status class ({@link GAINSIGHT_CALL_METRICS}),
 * and `GainsightCalls` by `method`.
 */
export function recordGainsightCall(durationMs: number, status: number | undefined, method: HttpMethod): void {
  metrics.addMetric('GainsightLatency', MetricUnit.Milliseconds, Math.round(durationMs));
  metrics.addMetric(callMetricOf(status), MetricUnit.Count, 1);
  dimensioned(method, { method }).addMetric('GainsightCalls', MetricUnit.Count, 1);
}

/** The plain counts under the service dimension alone: every name {@link count} takes. */
export const SERVICE_COUNTS = [
  'AuthFailures',
  'RejectedRequests',
  'ErrorResponses',
  'Retries',
  'EventsParked',
  'EventsRedriven',
  'RedriveRequeued',
  'RedriveRejected',
  'HousekeepingRuns',
  'DeepHealthChecks',
  'ConfigurationLoads',
  'ConfigurationLoadFailures',
  'ConfigurationStale',
] as const;

/** A plain count under the service dimension. */
export function count(name: (typeof SERVICE_COUNTS)[number], value = 1): void {
  if (value > 0) metrics.addMetric(name, MetricUnit.Count, value);
}
