import type { Context } from 'aws-lambda';
import type { Served } from './config/loader.ts';
import type { RelayConfig } from './config/relay-config.ts';
import { housekeepingDeadline } from './delivery/budget.ts';
import { type RedriveSummary, redrive } from './delivery/redrive.ts';
import { count, logger } from './observability.ts';
import type { Pipeline } from './pipeline.ts';

/**
 * The housekeeping run: the EventBridge schedule, and the manual `{"action":"refresh"}` /
 * `{"action":"redrive"}` invocations. The configuration was just re-read (the loader's refresh);
 * the run redrives parked events when there is a parking queue. It returns a summary, never throws.
 */

export type HousekeepingAction = 'scheduled' | 'refresh' | 'redrive';

export type HousekeepingSummary =
  | {
      ok: true;
      action: HousekeepingAction;
      dataCenter: string;
      dryRun: boolean;
      /** When the configuration in use was read, and whether it is served past its lifetime (SSM failing). */
      configuration: { loadedAt: string; stale: boolean };
      redrive?: RedriveSummary | 'no-queue' | 'dry-run';
    }
  | { ok: false; error: { code: string; message: string } };

export async function housekeeping(
  action: HousekeepingAction,
  served: Pick<Served, 'loadedAt' | 'stale'>,
  config: RelayConfig,
  pipeline: Pipeline,
  context: Partial<Context>,
  signal?: AbortSignal,
): Promise<HousekeepingSummary> {
  const configuration = { loadedAt: new Date(served.loadedAt).toISOString(), stale: served.stale };
  const base = { ok: true as const, action, dataCenter: config.settings.dataCenter, dryRun: config.dryRun, configuration };
  count('HousekeepingRuns');
  if (action === 'refresh') {
    // Within the loader's backoff after a failed read, this is the configuration read before.
    logger.info('configuration refreshed', base);
    return base;
  }
  if (!pipeline.parking) return { ...base, redrive: 'no-queue' };
  // A dry run would receive parked events without sending them: leave the queue alone.
  if (config.dryRun) return { ...base, redrive: 'dry-run' };
  const deadline = housekeepingDeadline(context);
  const summary = await redrive({
    parking: pipeline.parking,
    failed: pipeline.failed,
    depsFor: (by) => pipeline.deps(by, signal),
    deadline,
  });
  logger.info('redrive finished', { ...summary });
  count('EventsRedriven', summary.delivered);
  count('RedriveRequeued', summary.requeued);
  count('RedriveRejected', summary.rejected);
  return { ...base, redrive: summary };
}
