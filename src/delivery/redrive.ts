import { KeyRefusedError, type RelayError, isRelayError } from '../errors.ts';
import { logger } from '../observability.ts';
import { type ParkedEvent, type Reason, failedMessage, laneOf, openParked, reasonOf } from './parking.ts';
import { type ProcessDeps, runPlan } from './process.ts';
import type { Queue, ReceivedMessage } from './queue.ts';

/**
 * The scheduled redrive (docs/http-contract.md): drains the parking queue in bounded time. A message is deleted
 * only after Gainsight accepted its event; one that fails retryably is hidden for longer each
 * time (exponential backoff on its receive count); one Gainsight rejects for good goes to the
 * failed queue with the reason, then is deleted. The run stops before the deadline, when the
 * queue is empty, or early when Gainsight keeps failing.
 */

export interface RedriveSummary {
  received: number;
  delivered: number;
  requeued: number;
  rejected: number;
  stoppedBy: 'empty' | 'deadline' | 'gainsight-failing';
}

export interface RedriveOptions {
  parking: Queue;
  failed: Queue | undefined;
  /** What delivering one message needs, with no Gainsight attempt after `deadline`. */
  depsFor: (deadline: number) => ProcessDeps;
  /** Epoch ms by which the run must be done. */
  deadline: number;
  /** Messages in flight at once. */
  concurrency?: number;
  /** Time one message may spend delivering. */
  messageBudgetMs?: number;
  /** Retryable failures in a row after which the run stops (Gainsight is down). */
  maxConsecutiveFailures?: number;
}

/** Backoff for a message that failed again: 1, 2, 4, … minutes, at most an hour. */
export const requeueDelaySeconds = (receiveCount: number): number => Math.min(3600, 60 * 2 ** Math.max(0, receiveCount - 1));

export async function redrive(options: RedriveOptions): Promise<RedriveSummary> {
  const concurrency = options.concurrency ?? 4;
  const messageBudgetMs = options.messageBudgetMs ?? 4000;
  const maxConsecutiveFailures = options.maxConsecutiveFailures ?? 5;
  const summary: RedriveSummary = { received: 0, delivered: 0, requeued: 0, rejected: 0, stoppedBy: 'empty' };
  let consecutiveFailures = 0;
  let keyRefusalLogged = false;

  const timeLeft = () => options.deadline - Date.now();

  const reject = async (message: ReceivedMessage, parked: ParkedEvent | string, reason: Reason): Promise<void> => {
    if (!options.failed) {
      // Without a failed queue, keep the message out of the way; SQS's own redrive policy moves
      // it to its redrive target (the failed queue in serverless.yml) after maxReceiveCount receives.
      logger.error('parked event rejected but FAILED_QUEUE_URL is not set: message kept', { code: reason.code });
      await options.parking.hide(message.receiptHandle, 3600);
      return;
    }
    await options.failed.send(failedMessage(parked, reason), undefined, { group: laneOf(message.body, message.group, 'unreadable') });
    await options.parking.delete(message.receiptHandle);
  };

  const handle = async (message: ReceivedMessage): Promise<'delivered' | 'requeued' | 'rejected'> => {
    let parked: ParkedEvent;
    let plan;
    try {
      ({ parked, plan } = openParked(message.body, options.depsFor(options.deadline).ctx, message.sentAt));
    } catch (error) {
      if (!isRelayError(error)) throw error;
      await reject(message, message.body, reasonOf(error));
      summary.rejected += 1;
      return 'rejected';
    }
    const deadline = Math.min(options.deadline, Date.now() + messageBudgetMs);
    const outcome = await runPlan(parked.event, plan, options.depsFor(deadline), parked.resumeAtStep);
    if (outcome.ok) {
      await options.parking.delete(message.receiptHandle);
      summary.delivered += 1;
      consecutiveFailures = 0;
      return 'delivered';
    }
    if (outcome.error instanceof KeyRefusedError && !keyRefusalLogged) {
      keyRefusalLogged = true;
      logger.error(
        'Gainsight PX refused the API key during redrive (401/403): put a valid REST API key with Write permission in the api-key parameter; parked events stay parked until then',
      );
    }
    if (outcome.error.retryable) {
      // Retrying later can help (Gainsight down, throttling, our key refused): back off.
      await options.parking.hide(message.receiptHandle, requeueDelaySeconds(message.receiveCount));
      summary.requeued += 1;
      consecutiveFailures += 1;
      return 'requeued';
    }
    await reject(message, { ...parked, resumeAtStep: outcome.completedSteps }, reasonOf(outcome.error as RelayError));
    summary.rejected += 1;
    consecutiveFailures = 0;
    return 'rejected';
  };

  while (true) {
    if (timeLeft() < messageBudgetMs + 1000) {
      summary.stoppedBy = 'deadline';
      break;
    }
    if (consecutiveFailures >= maxConsecutiveFailures) {
      summary.stoppedBy = 'gainsight-failing';
      break;
    }
    // Receive only what this round will handle: every receive counts towards the queue's
    // maxReceiveCount, so messages put back untried would age towards the failed queue.
    const messages = await options.parking.receive(concurrency);
    if (messages.length === 0) {
      summary.stoppedBy = 'empty';
      break;
    }
    summary.received += messages.length;
    // One user's messages one after another, in the order received (a FIFO group's order);
    // after one of them fails, the rest wait with it. Users in parallel.
    const lanes = new Map<string, ReceivedMessage[]>();
    for (const message of messages) {
      const lane = laneOf(message.body, message.group, message.receiptHandle);
      lanes.set(lane, [...(lanes.get(lane) ?? []), message]);
    }
    const runLane = async (lane: ReceivedMessage[]): Promise<void> => {
      let holding = false;
      for (const message of lane) {
        try {
          if (holding || consecutiveFailures >= maxConsecutiveFailures || timeLeft() < messageBudgetMs) {
            // Not tried in this run: visible again for the next (after the held one, in FIFO).
            await options.parking.hide(message.receiptHandle, 0);
            summary.requeued += 1;
            continue;
          }
          if ((await handle(message)) === 'requeued') holding = true;
        } catch (error) {
          // A queue call failed: the message stays in the parking queue and comes back after its
          // visibility timeout. Nothing is lost; at worst a custom event is sent again.
          logger.warn('redrive: queue call failed, message left in the parking queue', {
            code: isRelayError(error) ? error.code : 'internal',
          });
          summary.requeued += 1;
          holding = true;
        }
      }
    };
    await Promise.all([...lanes.values()].map(runLane));
  }
  return summary;
}
