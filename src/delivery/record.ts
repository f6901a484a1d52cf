import type { RelayError } from '../errors.ts';
import { type MetricOutcome, count, logger, recordEvents } from '../observability.ts';
import type { EventOutcome } from './process.ts';
import type { ResultEntry, Settled } from './settle.ts';

/**
 * What a request's events leave for the operator: one log line per event (message id, type,
 * outcome, calls, attempts, latency, the user as a keyed hash; never the event itself) and the
 * `Events` / `Retries` / `EventsParked` metrics.
 */

/** One event of a request, whatever became of it. */
export interface EventRecord {
  /** False for an event that failed validation: logs and metrics call its type `invalid`. */
  valid: boolean;
  /** The user, as logs name them (a keyed hash). */
  user?: string | undefined;
  /** The delivery attempt, when there was one. */
  outcome?: EventOutcome;
  settled: Settled;
}

/** A failed event is `rejected` when retrying cannot help, else `failed` (the sender retries). */
const metricOutcome = (status: ResultEntry['status'], failure: RelayError | undefined): MetricOutcome =>
  status === 'failed' ? (failure?.retryable ? 'failed' : 'rejected') : status;

/** Attempts beyond the first of each call. */
const retriesOf = (outcome: EventOutcome | undefined): number => {
  if (outcome === undefined) return 0;
  if (!outcome.ok) return Math.max(0, outcome.attempts - outcome.calls);
  return outcome.result.status === 'delivered' ? outcome.result.attempts - outcome.result.calls : 0;
};

function fieldsOf({ valid, user, outcome, settled: { entry, failure } }: EventRecord): Record<string, unknown> {
  const delivered = outcome?.ok && outcome.result.status === 'delivered' ? outcome.result : undefined;
  return {
    messageId: entry.messageId,
    type: valid ? entry.type : 'invalid',
    user,
    outcome: metricOutcome(entry.status, failure),
    ...(outcome ? { latencyMs: Math.round(outcome.durationMs) } : {}),
    ...(delivered ? { calls: delivered.calls, attempts: delivered.attempts, ...(delivered.duplicate ? { duplicate: true } : {}) } : {}),
    ...(outcome && !outcome.ok ? { calls: outcome.calls, attempts: outcome.attempts } : {}),
    ...(failure ? { code: failure.code, reason: failure.logReason } : outcome && !outcome.ok ? { code: outcome.error.code } : {}),
  };
}

export function recordOutcomes(records: readonly EventRecord[]): void {
  let keyRefused = false;
  for (const record of records) {
    const fields = fieldsOf(record);
    if (record.outcome && !record.outcome.ok && record.outcome.error.code === 'gainsight_auth') keyRefused = true;
    if (record.settled.entry.status === 'failed') logger.warn(`event ${fields.outcome}`, fields);
    else logger.info(`event ${record.settled.entry.status}`, fields);
  }
  recordEvents(
    records.map(({ valid, settled: { entry, failure } }) => ({ type: valid ? entry.type : 'invalid', outcome: metricOutcome(entry.status, failure) })),
  );
  count('Retries', records.reduce((sum, { outcome }) => sum + retriesOf(outcome), 0));
  count('EventsParked', records.filter(({ settled }) => settled.entry.status === 'queued').length);
  if (keyRefused) {
    logger.error(
      'Gainsight PX refused the API key (401/403): put a valid REST API key with Write permission in the api-key parameter (or PX_API_KEY); events are parked or answered 503 until then',
    );
  }
}
