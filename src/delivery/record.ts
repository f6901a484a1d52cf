import { KeyRefusedError } from '../errors.ts';
import { type MetricOutcome, count, logger, recordEvents } from '../observability.ts';
import type { EventOutcome } from './process.ts';
import type { Settled } from './settle.ts';

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

/**
 * A failed event is `rejected` when retrying cannot help, else `failed` (the sender retries); a
 * resend this container had already acknowledged is a `duplicate`.
 */
function metricOutcome({ entry, failure }: Settled): MetricOutcome {
  if (entry.status === 'failed') return failure?.retryable ? 'failed' : 'rejected';
  return 'duplicate' in entry && entry.duplicate ? 'duplicate' : entry.status;
}

/** Attempts beyond the first of each call. */
const retriesOf = (outcome: EventOutcome | undefined): number => {
  if (outcome === undefined) return 0;
  if (!outcome.ok) return Math.max(0, outcome.attempts - outcome.calls);
  return outcome.result.status === 'delivered' ? outcome.result.attempts - outcome.result.calls : 0;
};

function fieldsOf({ valid, user, outcome, settled }: EventRecord): Record<string, unknown> {
  const { entry, failure } = settled;
  const delivered = entry.status === 'delivered' ? entry : undefined;
  return {
    messageId: entry.messageId,
    type: valid ? entry.type : 'invalid',
    user,
    outcome: metricOutcome(settled),
    ...(outcome ? { latencyMs: Math.round(outcome.durationMs) } : {}),
    ...(delivered ? { calls: delivered.calls, attempts: delivered.attempts } : {}),
    ...('duplicate' in entry && entry.duplicate ? { duplicate: true } : {}),
    ...(outcome && !outcome.ok ? { calls: outcome.calls, attempts: outcome.attempts } : {}),
    ...(failure ? { code: failure.code, reason: failure.logReason } : outcome && !outcome.ok ? { code: outcome.error.code } : {}),
  };
}

export function recordOutcomes(records: readonly EventRecord[]): void {
  let keyRefused = false;
  for (const record of records) {
    const fields = fieldsOf(record);
    if (record.outcome && !record.outcome.ok && record.outcome.error instanceof KeyRefusedError) keyRefused = true;
    if (record.settled.entry.status === 'failed') logger.warn(`event ${fields.outcome}`, fields);
    else logger.info(`event ${record.settled.entry.status}`, fields);
  }
  recordEvents(records.map(({ valid, settled }) => ({ type: valid ? settled.entry.type : 'invalid', outcome: metricOutcome(settled) })));
  count('Retries', records.reduce((sum, { outcome }) => sum + retriesOf(outcome), 0));
  // Parked by this request: a resend of an event parked before is a duplicate, not parked again.
  count('EventsParked', records.filter(({ settled }) => metricOutcome(settled) === 'queued').length);
  if (keyRefused) {
    logger.error(
      'Gainsight PX refused the API key (401/403): put a valid REST API key with Write permission in the api-key parameter (or PX_API_KEY); events are parked or answered 503 until then',
    );
  }
}
