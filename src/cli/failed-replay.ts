import { type ParkedEvent, type Reason, failedMessage, laneOf, openParked, readFailedQueueMessage, reasonOf } from '../delivery/parking.ts';
import { runPlan } from '../delivery/process.ts';
import { MAX_VISIBILITY_SECONDS, type ReceivedMessage } from '../delivery/queue.ts';
import { AdminQueue } from './admin-queue.ts';
import { KeyRefusedError, isRelayError } from '../errors.ts';
import { buildPipeline } from '../pipeline.ts';
import type { CliConfig } from './config.ts';
import { Sweep, describeMessage, formatEntry } from './failed-queue.ts';
import { writeLine } from './failed-list.ts';
import { RateLimiter } from './pacing.ts';
import { type OutputStream, type OutcomeRow, ProgressReporter, formatCount, outcomeLines, progressTarget } from './progress.ts';
import type { WritableOutput } from './replay.ts';

/**
 * `gainsight-px-relay failed replay`: sends the failed queue's events again, after the operator
 * fixed the cause, with the relay's own checks, plan, retries and client (as the redrive sends a
 * parked event, from its resume step). A message is deleted only after Gainsight accepted its
 * event. One Gainsight rejects again stays, with the new reason: SQS cannot edit a message, so
 * the new record is sent first and the old one deleted after. One that still fails (5xx, 429,
 * timeout, a refused key) stays as it was, and holds back that user's later messages.
 */

export interface FailedReplayOptions {
  config: CliConfig;
  queueUrl: string;
  rate: number;
  concurrency: number;
  /** Time one message may spend on retries. */
  budgetMs: number;
  /** Print the planned requests (stdout, one JSON line per message); change nothing. */
  dryRun: boolean;
  stdout: WritableOutput;
  stderr: OutputStream;
  redact: (line: string) => string;
  isTTY?: boolean;
  progressIntervalMs?: number;
  /** Stop gracefully: receive nothing more and start no other message; those in flight finish. */
  signal?: AbortSignal;
  /** Stop now: calls in flight are aborted (their messages stay). */
  abortSignal?: AbortSignal;
  /** Retryable failures in a row after which the run stops (Gainsight is down); default 5. */
  maxConsecutiveFailures?: number;
}

export interface FailedReplayCounts {
  delivered: number;
  /** Nothing to send with the current settings (e.g. a page event with pageEvents off): deleted. */
  skipped: number;
  /** Dry run: requests printed. */
  planned: number;
  /** Refused again for good: in the queue with the new reason. */
  rejected: number;
  /** Refused again, but the new reason could not be stored: left with the old one. */
  kept: number;
  /** Still failing after the retries (or a queue call failed): left as it was. */
  failing: number;
  /** Not tried: an earlier message of the same user is still failing, or the run stopped. */
  waiting: number;
  /** Not a relay message: left for a human. */
  foreign: number;
  /** Handled, but someone else received the message meanwhile: it could not be deleted and stays. */
  lost: number;
}

export interface FailedReplaySummary {
  dryRun: boolean;
  received: number;
  counts: FailedReplayCounts;
  /** `incomplete`: receives kept bringing back only messages already seen, and the pass gave up. */
  stoppedBy: 'empty' | 'incomplete' | 'interrupted' | 'gainsight-failing' | 'key-refused';
  /** When the pass stopped early: SQS's count of messages still visible then (not tried, or seen again). */
  visibleLeft?: number;
  elapsedMs: number;
}

type Outcome = keyof FailedReplayCounts;

/** A received message, read: the parked message it carries (as text), and its user's lane. */
interface Prepared {
  message: ReceivedMessage;
  /** Undefined for a message that is not the relay's. */
  parked?: { body: string; original: ParkedEvent | string };
  /** One user's messages are tried one after another, in the order received. */
  lane: string;
  /** The FIFO group of a new record of it, as the redrive chooses it. */
  group: string;
}

function prepare(message: ReceivedMessage): Prepared {
  const read = readFailedQueueMessage(message.body);
  if (read.kind === 'foreign') return { message, lane: message.receiptHandle, group: message.group ?? 'unreadable' };
  const original = read.kind === 'moved' ? read.parked : read.failed.parked;
  const body = read.kind === 'moved' ? message.body : typeof original === 'string' ? original : JSON.stringify(original);
  return {
    message,
    parked: { body, original },
    lane: laneOf(body, message.group, message.receiptHandle),
    group: laneOf(body, message.group, 'unreadable'),
  };
}

/** Time one message may take besides its retry budget: the last attempt's timeout, pacing, the SQS calls (send, delete). */
const MESSAGE_MARGIN_MS = 30_000;
/** Time a batch may take besides its messages (the receive, the lanes starting). */
const BATCH_MARGIN_SECONDS = 60;
/** The shortest visibility timeout of a replay (its value before it depended on the options). */
const MIN_REPLAY_VISIBILITY_SECONDS = 600;

/**
 * How long a replay hides what it receives: long enough for the worst case of a batch, where all
 * of its messages are one user's, handled one after another, each using its whole budget. A
 * heartbeat renews it while the run lasts, and the run makes the messages it keeps visible again
 * when it ends; so this is how long they stay hidden when the process is killed. At most SQS's 12 h.
 */
export function replayVisibilitySeconds(budgetMs: number, concurrency: number): number {
  const batch = Math.ceil((concurrency * (budgetMs + MESSAGE_MARGIN_MS)) / 1000) + BATCH_MARGIN_SECONDS;
  return Math.min(MAX_VISIBILITY_SECONDS, Math.max(MIN_REPLAY_VISIBILITY_SECONDS, batch));
}

/** Problems printed one by one; the rest are only counted. */
const MAX_REPORTS = 20;

export async function replayFailed(options: FailedReplayOptions): Promise<FailedReplaySummary> {
  const started = Date.now();
  const { config } = options;
  const hard = options.abortSignal;
  const summary: FailedReplaySummary = {
    dryRun: options.dryRun,
    received: 0,
    counts: { delivered: 0, skipped: 0, planned: 0, rejected: 0, kept: 0, failing: 0, waiting: 0, foreign: 0, lost: 0 },
    stoppedBy: 'empty',
    elapsedMs: 0,
  };
  let stop: FailedReplaySummary['stoppedBy'] | undefined;
  const stopped = () => stop !== undefined || options.signal?.aborted === true || hard?.aborted === true;
  const queue = new AdminQueue(options.queueUrl);
  const visibilitySeconds = replayVisibilitySeconds(options.budgetMs, options.concurrency);
  const sweep = new Sweep(queue, { visibilitySeconds, stopped });
  const limiter = new RateLimiter(options.rate);
  // Every attempt, retries included, waits for its turn: --rate caps what Gainsight sees.
  const pipeline = buildPipeline(config, { budgetMs: options.budgetMs, pace: () => limiter.take(1, hard) });
  const maxConsecutiveFailures = options.maxConsecutiveFailures ?? 5;
  let consecutiveFailures = 0;
  let reports = 0;
  const total = options.dryRun ? undefined : await queue.depth();
  const counts = summary.counts;
  const settled = () => Object.values(counts).reduce((sum, value) => sum + value, 0);
  const progress = new ProgressReporter({
    ...progressTarget(options),
    label: 'failed replay',
    unit: 'messages',
    snapshot: () => ({
      done: settled(),
      doneThisRun: settled(),
      ...(total === undefined ? {} : { total: Math.max(total, settled()) }),
      failures: counts.failing,
      rejected: counts.rejected + counts.kept,
      counts: { delivered: counts.delivered, 'rejected again': counts.rejected + counts.kept, 'still failing': counts.failing, waiting: counts.waiting },
    }),
  });
  const report = (what: string, message: ReceivedMessage, reason?: Reason): void => {
    reports += 1;
    if (reports > MAX_REPORTS) return;
    const entry = describeMessage(message);
    const line = formatEntry(reason ? { ...entry, reason } : entry);
    progress.log(options.redact(`${what}: ${line}${reports === MAX_REPORTS ? ' (further problems are only counted)' : ''}`));
  };

  const lostMessage = (message: ReceivedMessage): Outcome => {
    report('received by someone else meanwhile (failed list, purge, another replay), not deleted', message);
    return 'lost';
  };

  /** Stores the new reason, then deletes the old record: never neither, at worst both. */
  const rejectAgain = async (message: ReceivedMessage, parked: ParkedEvent | string, group: string, reason: Reason): Promise<Outcome> => {
    report('rejected again', message, reason);
    if (options.dryRun) {
      sweep.hold(message);
      return 'rejected';
    }
    // Before a new record is stored: the old one must still be this run's to delete.
    if (!(await sweep.claim(message))) return lostMessage(message);
    let sent: string | undefined;
    try {
      sent = await queue.send(failedMessage(parked, reason), undefined, { group });
    } catch (error) {
      sweep.hold(message);
      const cause = isRelayError(error) && error.cause instanceof Error ? ` (${error.cause.name}: ${error.cause.message})` : '';
      progress.log(options.redact(`  the new reason could not be stored${cause}; the message keeps its old one`));
      return 'kept';
    }
    sweep.ignore(sent);
    return (await sweep.delete(message)) ? 'rejected' : lostMessage(message);
  };

  const handle = async ({ message, parked: read, group }: Prepared & { parked: object }): Promise<Outcome> => {
    let opened;
    try {
      opened = openParked(read.body, pipeline.ctx);
    } catch (error) {
      if (!isRelayError(error)) throw error;
      return rejectAgain(message, read.original, group, reasonOf(error));
    }
    const { parked, plan } = opened;
    const outcome = await runPlan(parked.event, plan, pipeline.deps(Date.now() + options.budgetMs, hard), parked.resumeAtStep);
    if (outcome.ok) {
      if (outcome.result.status === 'dry-run') {
        sweep.hold(message);
        const line = JSON.stringify({ sqsMessageId: message.messageId, ...outcome.result });
        await writeLine(options.stdout, options.redact(line));
        return 'planned';
      }
      consecutiveFailures = 0;
      if (!(await sweep.delete(message))) return lostMessage(message);
      return outcome.result.status === 'skipped' ? 'skipped' : 'delivered';
    }
    if (outcome.error.retryable) {
      sweep.hold(message);
      consecutiveFailures += 1;
      report('still failing', message, reasonOf(outcome.error));
      if (outcome.error instanceof KeyRefusedError) stop ??= 'key-refused';
      else if (consecutiveFailures >= maxConsecutiveFailures) stop ??= 'gainsight-failing';
      return 'failing';
    }
    consecutiveFailures = 0;
    return rejectAgain(message, { ...parked, resumeAtStep: outcome.completedSteps }, group, reasonOf(outcome.error));
  };

  // Users whose earlier message still fails: their later ones wait (a FIFO queue holds them back itself).
  const blocked = new Set<string>();
  const runLane = async (lane: Prepared[]): Promise<void> => {
    for (const prepared of lane) {
      const { message, parked } = prepared;
      let outcome: Outcome;
      if (parked === undefined) {
        sweep.hold(message);
        report('not a relay message, left as it is', message);
        outcome = 'foreign';
      } else if (blocked.has(prepared.lane) || stopped()) {
        sweep.hold(message);
        outcome = 'waiting';
      } else {
        try {
          outcome = await handle({ ...prepared, parked });
        } catch (error) {
          if (!isRelayError(error)) throw error;
          // A queue call failed: the message stays where it is and comes back when its visibility runs out.
          report('queue call failed, left as it is', message);
          outcome = 'failing';
        }
      }
      counts[outcome] += 1;
      if (outcome === 'failing' || outcome === 'waiting') blocked.add(prepared.lane);
    }
  };

  const mode = options.dryRun ? 'dry run: requests printed, nothing sent or deleted' : `${options.rate}/s, concurrency ${options.concurrency}`;
  progress.log(`failed replay ${options.queueUrl} → Gainsight PX ${config.baseUrl} (config from ${config.source}), ${mode}`);
  progress.start();
  try {
    while (true) {
      const messages = await sweep.next(options.concurrency, hard);
      if (messages.length === 0) break;
      summary.received += messages.length;
      const lanes = new Map<string, Prepared[]>();
      for (const prepared of messages.map(prepare)) lanes.set(prepared.lane, [...(lanes.get(prepared.lane) ?? []), prepared]);
      await Promise.all([...lanes.values()].map(runLane));
    }
    if (!sweep.complete) summary.visibleLeft = (await queue.depth()) ?? 0;
  } finally {
    progress.stop();
    const stuck = await sweep.release();
    if (stuck > 0) options.stderr.write(`warning: ${stuck} messages could not be made visible again; they reappear within ${Math.ceil(visibilitySeconds / 60)} minutes\n`);
  }
  summary.stoppedBy = stop ?? (options.signal?.aborted || hard?.aborted ? 'interrupted' : sweep.complete ? 'empty' : 'incomplete');
  summary.elapsedMs = Date.now() - started;
  return summary;
}

export const failedReplayExitCode = (summary: FailedReplaySummary): number => {
  const { rejected, kept, failing, waiting, foreign, lost } = summary.counts;
  return summary.stoppedBy === 'empty' && rejected + kept + failing + waiting + foreign + lost === 0 ? 0 : 1;
};

export function formatFailedReplaySummary(summary: FailedReplaySummary): string {
  const c = summary.counts;
  const why: Record<FailedReplaySummary['stoppedBy'], string> = {
    empty: 'went through the whole failed queue',
    incomplete: `stopped before the end of the failed queue: SQS kept handing back only messages already seen (their visibility ran out); about ${formatCount(summary.visibleLeft ?? 0)} messages were visible, some maybe never tried; run again`,
    interrupted: 'interrupted; the messages not tried stay in the failed queue',
    'gainsight-failing': 'Gainsight PX kept failing; the remaining messages stay in the failed queue',
    'key-refused': 'Gainsight PX refused the API key; fix it and run again (the messages stay)',
  };
  const rows: OutcomeRow[] = [
    ['received', summary.received, ''],
    ['delivered', c.delivered, 'deleted from the failed queue'],
    ['skipped', c.skipped, 'nothing to send with the current settings; deleted'],
    ['planned', c.planned, 'dry run: requests printed, nothing sent or deleted'],
    ['rejected', c.rejected, summary.dryRun ? 'would be refused: not a valid event now' : 'refused again; in the failed queue with the new reason'],
    ['kept', c.kept, 'refused again; the new reason could not be stored, left with the old one'],
    ['failing', c.failing, 'still failing after retries; left in the failed queue'],
    ['waiting', c.waiting, "not tried: an earlier message of the user still fails, or the run stopped"],
    ['foreign', c.foreign, 'not a relay message; left for a human'],
    ['lost', c.lost, 'handled, but received by someone else meanwhile (failed list, purge, another replay): not deleted, still in the failed queue; a later replay sends it again'],
  ];
  return [
    `failed replay finished in ${(summary.elapsedMs / 1000).toFixed(1)}s: ${why[summary.stoppedBy]}`,
    ...outcomeLines(rows, ([name, value]) => value > 0 || name === 'received' || name === 'delivered', 11),
  ].join('\n');
}
