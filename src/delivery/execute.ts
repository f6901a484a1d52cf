import { type GainsightResponse, classifyFailure, isSuccess } from '../gainsight/client.ts';
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

async function runStep(step: Step, call: Send): Promise<void> {
  if (step.kind === 'create') {
    const created = await call(step.create);
    if (!isSuccess(created.status)) throw classifyFailure(step.create, created);
    return;
  }
  const updated = await call(step.update);
  if (isSuccess(updated.status)) return;
  if (updated.status !== 404) throw classifyFailure(step.update, updated);

  const created = await call(step.create);
  if (isSuccess(created.status)) return;
  if (created.status !== 400) throw classifyFailure(step.create, created);

  const retried = await call(step.update);
  if (isSuccess(retried.status)) return;
  const retriedError = classifyFailure(step.update, retried);
  throw retriedError.retryable ? retriedError : classifyFailure(step.create, created);
}
