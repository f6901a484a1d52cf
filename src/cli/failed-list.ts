import type { ReceivedMessage } from '../delivery/queue.ts';
import { AdminQueue } from './admin-queue.ts';
import { EXIT_OK, EXIT_PROBLEMS } from './options.ts';
import type { OutputStream } from './progress.ts';
import type { WritableOutput } from './replay.ts';
import { type FailedEntry, Sweep, describeMessage, failedAtOf, formatEntry, formatEntryJson } from './failed-queue.ts';

/**
 * `gainsight-px-relay failed list` and `failed purge`: one pass over the failed queue, printing
 * each message (or each one deleted). Both hold what they received until the pass is over, then
 * make it visible again: SQS cannot show a message without receiving (hiding) it.
 */

/** How long list and purge hide a message at a time (a heartbeat renews it while the pass lasts); they release it as soon as the pass is over. */
const PASS_VISIBILITY_SECONDS = 60;

export interface PassOptions {
  queueUrl: string;
  json: boolean;
  /** `list --show-events`: the whole event in the JSON line. */
  showEvents?: boolean;
  stdout: WritableOutput;
  stderr: OutputStream;
  /** Removes known secrets from each printed line. */
  redact: (line: string) => string;
  signal?: AbortSignal;
}

/** Writes one line, waiting for the stream to drain when it asks to. */
export async function writeLine(stdout: WritableOutput, line: string): Promise<void> {
  if (!stdout.write(`${line}\n`)) await new Promise<void>((done) => stdout.once('drain', done));
}

const printer = (options: PassOptions) => (entry: FailedEntry) =>
  writeLine(options.stdout, options.redact(options.json ? formatEntryJson(entry) : formatEntry(entry)));

const plural = (count: number, one: string, many = `${one}s`): string => `${count} ${count === 1 ? one : many}`;

/** The closing note about what the pass did not see, from SQS's count of messages still visible. */
async function unseenNote(queue: AdminQueue, limitReached: boolean, sweep: Sweep): Promise<string | undefined> {
  const left = await queue.depth();
  if (!sweep.complete) {
    return `the pass stopped before the end of the queue: SQS kept handing back only messages already seen (their visibility ran out); about ${plural(left ?? 0, 'message')} visible, some maybe never looked at; run again`;
  }
  if (!left) return undefined;
  if (limitReached) return `about ${plural(left, 'more message')} not shown (--limit)`;
  return queue.fifo
    ? `about ${plural(left, 'more message')} not shown: a FIFO queue hands out none of a user's later messages while earlier ones are held; run again after replaying or purging those`
    : `about ${plural(left, 'more message')} arrived during the pass or were not handed out; run again to see them`;
}

/** Releases the pass's messages and says so when SQS could not release some. */
async function finish(sweep: Sweep, stderr: OutputStream): Promise<void> {
  const stuck = await sweep.release();
  if (stuck > 0) stderr.write(`warning: ${plural(stuck, 'message')} could not be made visible again; they reappear within ${PASS_VISIBILITY_SECONDS} s\n`);
}

export async function listFailed(options: PassOptions & { limit: number }): Promise<number> {
  const queue = new AdminQueue(options.queueUrl);
  const sweep = new Sweep(queue, { visibilitySeconds: PASS_VISIBILITY_SECONDS, stopped: () => options.signal?.aborted === true });
  const print = printer(options);
  const counts = { failed: 0, moved: 0, foreign: 0 };
  let listed = 0;
  let note: string | undefined;
  try {
    while (listed < options.limit) {
      const batch = await sweep.next(Math.min(10, options.limit - listed));
      if (batch.length === 0) break;
      for (const message of batch) {
        sweep.hold(message);
        const entry = describeMessage(message, options.showEvents);
        counts[entry.record] += 1;
        listed += 1;
        await print(entry);
      }
    }
    note = await unseenNote(queue, listed >= options.limit, sweep);
  } finally {
    await finish(sweep, options.stderr);
  }
  const kinds = [
    counts.failed > 0 ? `${counts.failed} rejected by Gainsight or unreadable` : undefined,
    counts.moved > 0 ? `${counts.moved} moved here by SQS` : undefined,
    counts.foreign > 0 ? `${counts.foreign} not from the relay` : undefined,
  ].filter((part) => part !== undefined);
  options.stderr.write(`listed ${plural(listed, 'message')}${kinds.length > 0 ? ` (${kinds.join(', ')})` : ''}; all are in the queue as before\n`);
  if (note) options.stderr.write(`${note}\n`);
  return EXIT_OK;
}

export async function purgeFailed(options: PassOptions & { cutoff: number; dryRun: boolean }): Promise<number> {
  const queue = new AdminQueue(options.queueUrl);
  const sweep = new Sweep(queue, { visibilitySeconds: PASS_VISIBILITY_SECONDS, stopped: () => options.signal?.aborted === true });
  const print = printer(options);
  let purged = 0;
  let younger = 0;
  let undated = 0;
  let notDeleted = 0;
  let note: string | undefined;
  try {
    while (true) {
      const batch = await sweep.next(10);
      if (batch.length === 0) break;
      const old: { message: ReceivedMessage; entry: FailedEntry }[] = [];
      for (const message of batch) {
        const entry = describeMessage(message);
        const at = failedAtOf(entry);
        // Only what the relay wrote and dated is judged; anything else stays for a human.
        if (entry.record !== 'foreign' && at !== undefined && at < options.cutoff) old.push({ message, entry });
        else {
          sweep.hold(message);
          if (at === undefined || entry.record === 'foreign') undated += 1;
          else younger += 1;
        }
      }
      if (options.dryRun) for (const { message } of old) sweep.hold(message);
      else if (old.length > 0) {
        // Deleted as the pass goes: in a FIFO queue that lets SQS hand out the user's next ones.
        for (const { message } of old) sweep.forget(message);
        const deleted = await queue.deleteAll(old.map(({ message }) => message.receiptHandle));
        notDeleted += old.length - deleted;
      }
      purged += old.length;
      for (const { entry } of old) await print(entry);
    }
    if (options.dryRun || !sweep.complete) note = await unseenNote(queue, false, sweep);
  } finally {
    await finish(sweep, options.stderr);
  }
  const before = new Date(options.cutoff).toISOString();
  const kept = `kept ${younger} younger, ${undated} without a failure time`;
  if (options.dryRun) {
    options.stderr.write(`purge --dry-run: would delete ${plural(purged, 'message')} that failed before ${before}; ${kept}; nothing was deleted\n`);
  } else {
    options.stderr.write(`purge: deleted ${plural(purged - notDeleted, 'message')} that failed before ${before}; ${kept}\n`);
    if (notDeleted > 0) options.stderr.write(`${plural(notDeleted, 'message')} could not be deleted and stay in the queue\n`);
  }
  if (note) options.stderr.write(`${note}\n`);
  return notDeleted > 0 || !sweep.complete ? EXIT_PROBLEMS : EXIT_OK;
}
