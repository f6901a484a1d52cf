import { Queue, type ReceiveOptions, type ReceivedMessage } from '../delivery/queue.ts';
import { type RedriveSummary, redrive } from '../delivery/redrive.ts';
import { buildPipeline } from '../pipeline.ts';
import type { CliConfig } from './config.ts';
import { RateLimiter } from './pacing.ts';
import { type OutputStream, ProgressReporter, formatCount, progressTarget } from './progress.ts';

/**
 * `gainsight-px-relay redrive`: drains the parking queue on demand with the relay's own redrive
 * (src/delivery/redrive.ts), round after round until the queue is empty, Gainsight keeps failing,
 * or the operator interrupts. Each message is deleted only after Gainsight accepted its event;
 * one Gainsight rejects for good goes to the failed queue with the reason; one that still fails
 * is hidden with the redrive's backoff, so the run ends instead of spinning on it.
 */

export interface RedriveCommandOptions {
  config: CliConfig;
  queueUrl: string;
  failedQueueUrl?: string;
  /** Gainsight requests per second. */
  rate: number;
  concurrency: number;
  stderr: OutputStream;
  isTTY?: boolean;
  progressIntervalMs?: number;
  /** Stop gracefully: receive nothing more, finish the messages in hand. */
  signal?: AbortSignal;
  /** Stop now: calls in flight are aborted (their messages stay parked). */
  abortSignal?: AbortSignal;
  /** Length of one redrive round; default 10 minutes. */
  roundMs?: number;
}

export interface RedriveCommandSummary extends Omit<RedriveSummary, 'stoppedBy'> {
  stoppedBy: RedriveSummary['stoppedBy'] | 'interrupted';
  rounds: number;
  elapsedMs: number;
}

/** The parking queue, watched: progress as messages are received, deleted or hidden. */
class WatchedQueue extends Queue {
  received = 0;
  deleted = 0;
  hidden = 0;

  constructor(
    url: string,
    readonly stopped: () => boolean,
  ) {
    super(url);
  }

  override async receive(max: number, signal?: AbortSignal, options?: ReceiveOptions): Promise<ReceivedMessage[]> {
    if (this.stopped()) return [];
    const messages = await super.receive(max, signal, options);
    this.received += messages.length;
    return messages;
  }

  override async delete(receiptHandle: string): Promise<void> {
    await super.delete(receiptHandle);
    this.deleted += 1;
  }

  override async hide(receiptHandle: string, seconds: number): Promise<void> {
    await super.hide(receiptHandle, seconds);
    this.hidden += 1;
  }
}

export async function redriveCommand(options: RedriveCommandOptions): Promise<RedriveCommandSummary> {
  const started = Date.now();
  const { config } = options;
  const stopped = () => options.signal?.aborted === true || options.abortSignal?.aborted === true;
  const parking = new WatchedQueue(options.queueUrl, stopped);
  const limiter = new RateLimiter(options.rate);
  // Every attempt, retries included, waits for its turn: --rate caps what Gainsight sees.
  const pipeline = buildPipeline(config, {
    budgetMs: 4000,
    failedQueueUrl: options.failedQueueUrl,
    pace: () => limiter.take(1, options.abortSignal),
  });
  const failed = pipeline.failed;
  const total: RedriveCommandSummary = {
    received: 0,
    delivered: 0,
    requeued: 0,
    rejected: 0,
    stoppedBy: 'empty',
    rounds: 0,
    elapsedMs: 0,
  };
  const progress = new ProgressReporter({
    ...progressTarget(options),
    label: 'redrive',
    unit: 'messages',
    snapshot: () => ({
      done: parking.deleted + parking.hidden,
      doneThisRun: parking.deleted + parking.hidden,
      failures: parking.hidden,
      counts: { received: parking.received, deleted: parking.deleted, 'hidden again': parking.hidden },
    }),
  });
  progress.log(
    `redrive ${options.queueUrl} → Gainsight PX ${config.baseUrl} (config from ${config.source}), ${options.rate}/s, concurrency ${options.concurrency}` +
      (failed ? `, rejected events to ${failed.url}` : ', no failed queue: rejected events stay parked (hidden for an hour)'),
  );
  progress.start();
  try {
    while (!stopped()) {
      total.rounds += 1;
      const round = await redrive({
        parking,
        failed,
        depsFor: (deadline) => pipeline.deps(deadline, options.abortSignal),
        deadline: Date.now() + (options.roundMs ?? 10 * 60_000),
        // No more in flight than the rate lets start within an attempt's timeout: a call waiting
        // for its permit must not time out before it is sent (as replay does).
        concurrency: Math.max(1, Math.min(options.concurrency, Math.floor(options.rate * 2))),
      });
      total.received += round.received;
      total.delivered += round.delivered;
      total.requeued += round.requeued;
      total.rejected += round.rejected;
      total.stoppedBy = round.stoppedBy;
      if (round.stoppedBy !== 'deadline') break;
    }
  } finally {
    progress.stop();
  }
  if (stopped()) total.stoppedBy = 'interrupted';
  total.elapsedMs = Date.now() - started;
  return total;
}

export const redriveExitCode = (summary: RedriveCommandSummary): number =>
  summary.stoppedBy === 'empty' && summary.rejected === 0 && summary.requeued === 0 ? 0 : 1;

export function formatRedriveSummary(summary: RedriveCommandSummary): string {
  const seconds = (summary.elapsedMs / 1000).toFixed(1);
  const why: Record<RedriveCommandSummary['stoppedBy'], string> = {
    empty:
      summary.requeued > 0
        ? 'the parking queue is empty, apart from messages hidden until their next retry'
        : 'the parking queue is empty',
    deadline: 'time ran out',
    'gainsight-failing': 'Gainsight PX kept failing; the remaining messages stay parked',
    interrupted: 'interrupted; the remaining messages stay parked',
  };
  const rows: [string, number, string][] = [
    ['received', summary.received, ''],
    ['delivered', summary.delivered, 'deleted from the parking queue'],
    ['rejected', summary.rejected, 'refused for good; moved to the failed queue with the reason'],
    ['requeued', summary.requeued, 'still failing; hidden with backoff, retried by a later run'],
  ];
  const width = Math.max(...rows.map(([, value]) => formatCount(value).length));
  return [
    `redrive finished in ${seconds}s: ${why[summary.stoppedBy]}`,
    ...rows.map(([name, value, note]) => `  ${`${name}:`.padEnd(11)}${formatCount(value).padStart(width)}${value > 0 && note ? `  (${note})` : ''}`),
  ].join('\n');
}
