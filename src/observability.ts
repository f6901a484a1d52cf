import { createHmac } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';

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
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });

/**
 * A stand-in for a user id in logs: the first 16 hex digits of its HMAC-SHA256 under `key`, a
 * key derived from the deployment's own secrets (`RelayConfig.logKey`). Enough to follow one
 * user's events through the logs; without the key, hashing guessed emails does not find them.
 */
export function userHash(userId: string | undefined, key: Buffer): string | undefined {
  return userId === undefined ? undefined : createHmac('sha256', key).update(userId, 'utf8').digest('hex').slice(0, 16);
}

/** Event outcomes as metrics report them; `duplicate` is a resend this container had acknowledged. */
export type MetricOutcome = 'delivered' | 'skipped' | 'queued' | 'rejected' | 'failed' | 'dry-run' | 'duplicate';

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

/** One single-metric emitter per (type, outcome), built once: building one costs a Console. */
const eventMetrics = new Map<string, Metrics>();

function eventsMetric(type: string, outcome: MetricOutcome): Metrics {
  const key = `${type}\u0000${outcome}`;
  let emitter = eventMetrics.get(key);
  if (emitter === undefined) {
    emitter = metrics.singleMetric();
    // Default dimensions survive each publish; plain dimensions would be cleared by it.
    emitter.setDefaultDimensions({ type, outcome });
    if (eventMetrics.size < 100) eventMetrics.set(key, emitter); // types are validated: a handful
  }
  return emitter;
}

/** `GainsightLatency` (ms) per call, and `GainsightCalls2xx` / `4xx` / `5xx` / `Errors` counts. */
export function recordGainsightCall(durationMs: number, status: number | undefined): void {
  metrics.addMetric('GainsightLatency', MetricUnit.Milliseconds, Math.round(durationMs));
  const statusClass = status === undefined ? 'Errors' : `${Math.floor(status / 100)}xx`;
  metrics.addMetric(`GainsightCalls${statusClass}`, MetricUnit.Count, 1);
}

/** A plain count under the service dimension (Retries, EventsParked, AuthFailures, …). */
export function count(name: string, value = 1): void {
  if (value > 0) metrics.addMetric(name, MetricUnit.Count, value);
}
