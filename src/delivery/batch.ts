import type { RelayEvent } from '../events/index.ts';
import type { Plan } from './plan.ts';
import { type EventOutcome, type ProcessDeps, runPlan } from './process.ts';

/** A validated event with its plan, and the step to start from (0 unless resumed). */
export interface PreparedEvent {
  event: RelayEvent;
  plan: Plan;
  fromStep?: number;
}

/**
 * How many users' events are worked on at once. Gainsight calls in flight are capped separately,
 * process-wide, at GAINSIGHT_MAX_IN_FLIGHT (src/pipeline.ts): fleet limits, docs/scaling.md.
 */
const DEFAULT_CONCURRENCY = 8;

/**
 * Delivers a batch. Events of the same user run one after another, in the order sent (an
 * identify must land before the group that links that user); different users run in parallel.
 * Every event gets its own outcome: one failure does not stop the others.
 */
export async function deliverBatch(
  prepared: readonly PreparedEvent[],
  deps: ProcessDeps,
  concurrency = DEFAULT_CONCURRENCY,
): Promise<EventOutcome[]> {
  if (prepared.length === 1) {
    // One event per request is RudderStack's webhook: no lanes to plan.
    const { event, plan, fromStep } = prepared[0] as PreparedEvent;
    return [await runPlan(event, plan, deps, fromStep ?? 0)];
  }
  const outcomes: EventOutcome[] = new Array(prepared.length);
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
      const { event, plan, fromStep } = prepared[index] as PreparedEvent;
      outcomes[index] = await runPlan(event, plan, deps, fromStep ?? 0);
    }
  };
  const workers = Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
    for (let lane = queue.shift(); lane !== undefined; lane = queue.shift()) await runLane(lane);
  });
  await Promise.all(workers);
  return outcomes;
}
