import { type GainsightResponse, classifyFailure, isSuccess } from '../gainsight/client.ts';
import type { GainsightRequest } from '../gainsight/types.ts';
import type { Step } from './plan.ts';

/** Sends one request and returns Gainsight's answer; the seam where retries plug in. */
export type Send = (request: GainsightRequest) => Promise<GainsightResponse>;

/**
 * Runs a plan's steps in order and returns how many calls were made.
 *
 * An upsert PUTs first and POSTs only on 404. If that POST answers 400, Gainsight's "possible
 * duplicate", the object appeared meanwhile (a concurrent event created it, or an earlier answer
 * was lost), so the update is sent once more instead of rejecting the event; should that PUT
 * fail too, the POST's answer is what the sender learns.
 *
 * @throws RelayError for the first step Gainsight did not accept.
 */
export async function executeSteps(steps: readonly Step[], send: Send): Promise<number> {
  let calls = 0;
  const call = async (request: GainsightRequest): Promise<GainsightResponse> => {
    calls += 1;
    return send(request);
  };

  for (const step of steps) {
    if (step.kind === 'create') {
      const created = await call(step.create);
      if (!isSuccess(created.status)) throw classifyFailure(step.create, created);
      continue;
    }
    const updated = await call(step.update);
    if (isSuccess(updated.status)) continue;
    if (updated.status !== 404) throw classifyFailure(step.update, updated);

    const created = await call(step.create);
    if (isSuccess(created.status)) continue;
    if (created.status !== 400) throw classifyFailure(step.create, created);

    const retried = await call(step.update);
    if (isSuccess(retried.status)) continue;
    const retriedError = classifyFailure(step.update, retried);
    throw retriedError.retryable ? retriedError : classifyFailure(step.create, created);
  }
  return calls;
}
