import { type OutcomeRow, formatCount, outcomeLines } from './progress.ts';

/** What a replay run settled, how it ended, and the summary it prints. */

export type StopReason = 'end' | 'interrupted' | 'target-refused' | 'target-failing' | 'input-error' | 'quota-spent';

export interface ReplayCounts {
  delivered: number;
  skipped: number;
  /** Relay mode: parked by the relay for its own redrive (answered 202). */
  queued: number;
  /** Dry run: events whose requests were printed. */
  planned: number;
  /** Left out by --since / --until / --types. */
  filtered: number;
  /** Gainsight (or the relay) refused the event for good. */
  rejected: number;
  /** Not JSON, not a valid event, or too large. */
  invalid: number;
  /** Still failing after the retries (Gainsight down, throttling): the next run tries again. */
  failed: number;
  /** Settled by an earlier run: not sent again. */
  alreadyDone: number;
}

export interface ReplaySummary {
  counts: ReplayCounts;
  stoppedBy: StopReason;
  message?: string;
  elapsedMs: number;
  /** Objects read to their end (this run and before) out of all. */
  objects: { finished: number; total: number };
  /** Gainsight calls this run made (relay mode: estimated), and today's against the share. */
  calls?: { thisRun: number; today: number; limit: number };
  checkpointPath?: string;
  rejectedPath?: string;
}

export const exitCodeOf = (summary: ReplaySummary): number =>
  summary.stoppedBy === 'end' && summary.counts.rejected + summary.counts.invalid + summary.counts.failed === 0 ? 0 : 1;

/** The final summary, one outcome per line. */
export function formatSummary(summary: ReplaySummary): string {
  const c = summary.counts;
  const seeFile = summary.rejectedPath ? '; see the rejected file' : '';
  const rows: OutcomeRow[] = [
    ['delivered', c.delivered, ''],
    ['skipped', c.skipped, 'page/screen with pageEvents off, alias'],
    ['queued', c.queued, 'parked by the relay; its redrive delivers them'],
    ['planned', c.planned, 'dry run: requests printed, nothing sent'],
    ['filtered', c.filtered, 'left out by --since / --until / --types'],
    ['rejected', c.rejected, `refused for good${seeFile}`],
    ['invalid', c.invalid, `not JSON or not a valid event${seeFile}`],
    ['failed', c.failed, 'still failing after retries; rerun to try again'],
    ['already done', c.alreadyDone, 'settled by an earlier run, not sent again'],
  ];
  const lines = outcomeLines(
    rows,
    ([name, value]) => value > 0 || (name === 'delivered' && c.planned === 0) || (name === 'failed' && summary.stoppedBy !== 'end'),
    14,
  );
  const seconds = (summary.elapsedMs / 1000).toFixed(1);
  const head =
    summary.stoppedBy === 'end'
      ? `replay finished in ${seconds}s`
      : `replay stopped after ${seconds}s: ${summary.message ?? summary.stoppedBy}`;
  const calls = summary.calls;
  const usage = [
    summary.objects.total > 1 ? `objects: ${formatCount(summary.objects.finished)}/${formatCount(summary.objects.total)} finished` : undefined,
    calls && calls.thisRun > 0
      ? `Gainsight calls: ${formatCount(calls.thisRun)} this run; today (UTC) ${formatCount(calls.today)}/${formatCount(calls.limit)} of the share`
      : undefined,
  ];
  const files = [
    ...usage,
    summary.rejectedPath ? `rejected events: ${summary.rejectedPath}` : undefined,
    summary.checkpointPath
      ? summary.stoppedBy === 'end' && c.failed === 0
        ? `checkpoint: ${summary.checkpointPath} (complete; a rerun sends nothing again)`
        : `checkpoint: ${summary.checkpointPath} (rerun the same command to continue)`
      : undefined,
  ].filter((line): line is string => line !== undefined);
  return [head, ...lines, ...files].join('\n');
}
