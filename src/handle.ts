import type { Context } from 'aws-lambda';
import type { Served } from './config/loader.ts';
import type { RelayConfig } from './config/relay-config.ts';
import { type BatchResponse, consume } from './consume.ts';
import { deadlinesOf } from './delivery/budget.ts';
import { type HousekeepingSummary, housekeeping } from './housekeeping.ts';
import type { HttpResponse } from './http/answer.ts';
import { relayEvents } from './http/events.ts';
import { checkGainsight, healthAnswer } from './http/health.ts';
import { isEventsRoute } from './http/routes.ts';
import type { RelayState } from './http/state.ts';
import { count } from './observability.ts';
import { type PipelineOptions, pipelineFor } from './pipeline.ts';

/**
 * The handler behind the middy chain. By the time it runs, the invocation is routed, the caller
 * authenticated, the body decoded and the configuration valid (handler.ts); this picks the unit
 * of work: a request's events, the deep health check, a batch of queued events (the consumer),
 * or the housekeeping run.
 */
export function createHandler(options: PipelineOptions) {
  return async function handle(state: RelayState, context: Context, opts?: { signal?: AbortSignal }): Promise<HttpResponse | HousekeepingSummary | BatchResponse> {
    const invocation = state.invocation;
    const config = state.config as RelayConfig;
    const pipeline = pipelineFor(config, options);
    if (invocation?.kind === 'http' && isEventsRoute(invocation.route)) {
      const request = { rawEvents: state.rawEvents ?? [], sentEvents: state.sentEvents, receivedAt: state.receivedAt, route: invocation.route };
      return relayEvents(request, config, pipeline, context, opts?.signal);
    }
    if (invocation?.kind === 'http') {
      // The deep health check (plain GET /health was answered by the route step).
      count('DeepHealthChecks');
      return healthAnswer({
        configuration: { ok: true, dataCenter: config.settings.dataCenter, dryRun: config.dryRun, ...(state.served?.stale ? { stale: true } : {}) },
        gainsight: await checkGainsight(pipeline, deadlinesOf(state.receivedAt, pipeline.budgetMs, context, false).deliverBy, opts?.signal),
      });
    }
    if (invocation?.kind === 'sqs') return consume(invocation.records, pipeline, context, opts?.signal);
    const action = invocation?.kind === 'action' ? invocation.action : 'scheduled';
    return housekeeping(action, state.served as Served, config, pipeline, context, opts?.signal);
  };
}
