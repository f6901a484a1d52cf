import { type RelayError, UnavailableError, isRelayError } from '../errors.ts';
import type { RelayEvent } from '../events/index.ts';
import type { Plan } from './plan.ts';
import { type EventResult, type ProcessDeps, runPlan } from './process.ts';

/** One event's outcome in a batch: its result, or the error that stopped it. */
export type BatchOutcome =
  | { ok: true; result: EventResult }
  | { ok: false; event: RelayEvent; error: RelayError };

/** How many users' events are in flight at once (Gainsight allows about 200 requests/s). */
const DEFAULT_CONCURRENCY = 8;

/**
 * Delivers a batch. Events of the same user run one after another, in the order sent (an
 * identify must land before the group that links that user); different users run in parallel.
 * Every event gets its own outcome: one failure does not stop the others.
 */
/** A validated event with its plan. */
export interface PreparedEvent {
  event: RelayEvent;
  plan: Plan;
}

export async function deliverBatch(
  prepared: readonly PreparedEvent[],
  deps: ProcessDeps,
  concurrency = DEFAULT_CONCURRENCY,
): Promise<BatchOutcome[]> {
  const outcomes: BatchOutcome[] = new Array(prepared.length);
  const lanes = new Map<string, number[]>();
  prepared.forEach(({ plan }, index) => {
    const key = plan.userId ?? `#${index}`;
    const lane = lanes.get(key);
    if (lane) lane.push(index);
    else lanes.set(key, [index]);
  });

  const queue = [...lanes.values()];
  const runLane = async (indexes: number[]): Promise<void> => {
    for (const index of indexes) {
      const { event, plan } = prepared[index] as PreparedEvent;
      try {
        outcomes[index] = { ok: true, result: await runPlan(event, plan, deps) };
      } catch (error) {
        outcomes[index] = {
          ok: false,
          event,
          error: isRelayError(error)
            ? error
            : new UnavailableError('Unexpected failure while delivering the event', { code: 'internal', cause: error }),
        };
      }
    }
  };
  const workers = Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
    for (let lane = queue.shift(); lane !== undefined; lane = queue.shift()) await runLane(lane);
  });
  await Promise.all(workers);
  return outcomes;
}
