import { type GainsightResponse, classify } from '../gainsight/classify.ts';
import type { GainsightRequest } from '../gainsight/types.ts';
import type { Step } from './plan.ts';

/** Sends one request and returns Gainsight's answer; the seam where retries plug in. */
export type Send = (request: GainsightRequest) => Promise<GainsightResponse>;

/** How far a plan got: calls made, and steps fully done (a redrive resumes after them). */
export interface Progress {
  calls: number;
  completedSteps: number;
}

/**
 * Runs a plan's steps in order, recording progress as it goes. Each call is retried in place by
 * `send`, so a failure midway never repeats the steps before it.
 *
 * An upsert PUTs first and POSTs only on 404. If that POST answers 400, Gainsight's "possible
 * duplicate", the object appeared meanwhile (a concurrent event created it, or an earlier answer
 * was lost), so the update is sent once more instead of rejecting the event; should that PUT
 * fail too, the POST's answer is what the sender learns.
 *
 * @throws RelayError for the first step Gainsight did not accept.
 */
export async function executeSteps(
  steps: readonly Step[],
  send: Send,
  progress: Progress = { calls: 0, completedSteps: 0 },
): Promise<Progress> {
  const call = async (request: GainsightRequest): Promise<GainsightResponse> => {
    progress.calls += 1;
    return send(request);
  };
  for (const step of steps) {
    await runStep(step, call);
    progress.completedSteps += 1;
  }
  return progress;
}

/** @throws the classifier's error unless Gainsight accepted the call. */
function accept(request: GainsightRequest, response: GainsightResponse): void {
  const verdict = classify(request, response);
  if (verdict.next !== 'success') throw verdict.error;
}

async function runStep(step: Step, call: Send): Promise<void> {
  if (step.kind === 'create') return accept(step.create, await call(step.create));

  const updated = await call(step.update);
  if (updated.status !== 404) return accept(step.update, updated);

  const created = await call(step.create);
  if (created.status !== 400) return accept(step.create, created);

  const retried = await call(step.update);
  const verdict = classify(step.update, retried);
  if (verdict.next === 'success') return;
  // The PUT after a duplicate POST was refused for good: the POST's answer says why.
  if (verdict.next === 'rejected') accept(step.create, created);
  throw verdict.error;
}
