import type { Context } from 'aws-lambda';
import { KeyRefusedError, type RelayError, isRelayError } from './errors.ts';
import { lambdaEndOf } from './delivery/budget.ts';
import { type ParkedEvent, failedMessage, laneOf, openParked, orderingOf, reasonOf } from './delivery/parking.ts';
import { runPlan } from './delivery/process.ts';
import { requeueDelaySeconds } from './delivery/redrive.ts';
import type { SqsRecord } from './http/invocation.ts';
import { count, logger } from './observability.ts';
import type { Pipeline } from './pipeline.ts';

/**
 * The consumer (docs/http-contract.md): the parking queue's event source mapping hands over up to ten
 * messages. Each is delivered in order; the answer lists those to retry (`batchItemFailures`,
 * partial batch responses), which Lambda leaves in the queue — the rest it deletes. So:
 * - delivered → done;
 * - failed in a way that can succeed later → retried, hidden for longer with each receive (1, 2,
 *   4 … 60 minutes), and every later message of the same user in this batch is held back with
 *   it (a FIFO group's order: an older update never lands after a newer one);
 * - refused for good by Gainsight, malformed, forged, out of range, or older than 13 days → to
 *   the failed queue with the reason, then done (kept when that copy fails);
 * - not reached before the deadline → retried, untouched.
 * It never throws: whatever goes wrong leaves the message in the queue.
 */

export interface BatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** What became of one message. */
type Handled = 'delivered' | 'retry' | 'rejected';

/** Time one message may spend delivering; one is not started with less time left. */
const MESSAGE_BUDGET_MS = 4000;

export async function consume(records: readonly SqsRecord[], pipeline: Pipeline, context: Partial<Context>, signal?: AbortSignal): Promise<BatchResponse> {
  const retry = new Set<string>();
  const lanes = new Map<string, SqsRecord[]>();
  for (const record of records) {
    const lane = laneOf(record.body, record.attributes.MessageGroupId, record.messageId);
    lanes.set(lane, [...(lanes.get(lane) ?? []), record]);
  }
  // Answer a second before the Lambda's end (middy's own timeout would fail the whole batch).
  const lambdaEnd = lambdaEndOf(context) - 1000;
  const tally: Record<Handled, number> = { delivered: 0, retry: 0, rejected: 0 };

  await Promise.all(
    [...lanes.values()].map(async (lane) => {
      let holding = false;
      for (const record of lane) {
        // Held back behind a failure of the same user, or out of time: retried later, untouched.
        const handled: Handled = holding || lambdaEnd - Date.now() < MESSAGE_BUDGET_MS ? 'retry' : await handleSafely(record, pipeline, lambdaEnd, signal);
        tally[handled] += 1;
        if (handled === 'retry') {
          retry.add(record.messageId);
          holding = true;
        }
      }
    }),
  );
  count('EventsRedriven', tally.delivered);
  count('RedriveRequeued', tally.retry);
  count('RedriveRejected', tally.rejected);
  logger.info('queue batch handled', { received: records.length, ...tally });
  return { batchItemFailures: records.filter((record) => retry.has(record.messageId)).map((record) => ({ itemIdentifier: record.messageId })) };
}

async function handleSafely(record: SqsRecord, pipeline: Pipeline, lambdaEnd: number, signal?: AbortSignal): Promise<Handled> {
  try {
    return await handle(record, pipeline, lambdaEnd, signal);
  } catch (error) {
    logger.error('queue message could not be handled; it stays queued', { code: isRelayError(error) ? error.code : 'internal' });
    return 'retry';
  }
}

async function handle(record: SqsRecord, pipeline: Pipeline, lambdaEnd: number, signal?: AbortSignal): Promise<Handled> {
  const sentAt = Number(record.attributes.SentTimestamp) || undefined;
  let parked: ParkedEvent;
  let plan;
  try {
    ({ parked, plan } = openParked(record.body, pipeline.ctx, sentAt));
  } catch (error) {
    if (!isRelayError(error)) throw error;
    return reject(record.body, error, pipeline, undefined);
  }
  const deadline = Math.min(lambdaEnd, Date.now() + MESSAGE_BUDGET_MS);
  const outcome = await runPlan(parked.event, plan, pipeline.deps(deadline, signal), parked.resumeAtStep);
  if (outcome.ok) return 'delivered';
  if (outcome.error.retryable) {
    if (outcome.error instanceof KeyRefusedError) logger.error('Gainsight PX refused the API key (401/403): queued events stay queued until the api-key parameter is fixed');
    await backOff(record, pipeline);
    return 'retry';
  }
  return reject(parked, outcome.error, pipeline, plan.userId, outcome.completedSteps);
}

/** Hides a message that failed again for longer (by its receive count); best effort. */
async function backOff(record: SqsRecord, pipeline: Pipeline): Promise<void> {
  const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
  try {
    await pipeline.parking?.hide(record.receiptHandle, requeueDelaySeconds(receiveCount));
  } catch (error) {
    // Lambda makes it visible again after the queue's visibility timeout instead.
    logger.warn('could not back off a queued message', { code: isRelayError(error) ? error.code : 'internal' });
  }
}

/** Copies a message refused for good to the failed queue with the reason; retried when that fails. */
async function reject(
  parked: ParkedEvent | string,
  error: RelayError,
  pipeline: Pipeline,
  userId: string | undefined,
  completedSteps?: number,
): Promise<Handled> {
  const failed = pipeline.failed;
  if (!failed) {
    logger.error('queued event rejected but FAILED_QUEUE_URL is not set: message kept', { code: error.code });
    return 'retry';
  }
  const kept = typeof parked === 'string' || completedSteps === undefined ? parked : { ...parked, resumeAtStep: completedSteps };
  try {
    await failed.send(failedMessage(kept, reasonOf(error)), undefined, orderingOf(userId, undefined));
  } catch (copyError) {
    logger.error('rejected queued event could not be copied to the failed queue; it stays queued', {
      code: isRelayError(copyError) ? copyError.code : 'internal',
    });
    return 'retry';
  }
  logger.warn('queued event rejected', { code: error.code, reason: error.logReason });
  return 'rejected';
}
