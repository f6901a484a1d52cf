import type { RelayEvent } from '../events/index.ts';
import { API_KEY_HEADER } from '../gainsight/client.ts';
import type { MappingContext } from '../mapping/index.ts';
import { type Send, executeSteps } from './execute.ts';
import { type Plan, type Step, planEvent } from './plan.ts';

/** What the sender learns about one event (SPEC §4 `results[]`). */
export type EventResult =
  | { messageId?: string; type: RelayEvent['type']; status: 'delivered'; calls: number }
  | { messageId?: string; type: RelayEvent['type']; status: 'skipped'; reason: string }
  | { messageId?: string; type: RelayEvent['type']; status: 'dry-run'; requests: PlannedRequest[] };

/** A request a dry run would have sent, API key redacted. */
export interface PlannedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  /** Set on the create half of an upsert: it is only sent when the update answers 404. */
  onlyIf?: 'update answered 404';
}

export interface ProcessDeps {
  ctx: MappingContext;
  baseUrl: string;
  /** Undefined in a dry run: nothing is sent. */
  send: Send | undefined;
}

const REDACTED = '[redacted]';

function describeSteps(steps: readonly Step[], baseUrl: string): PlannedRequest[] {
  const planned = (request: Step['create'], onlyIf?: PlannedRequest['onlyIf']): PlannedRequest => ({
    method: request.method,
    url: baseUrl + request.path,
    headers: { [API_KEY_HEADER]: REDACTED, 'Content-Type': 'application/json' },
    body: request.body,
    ...(onlyIf ? { onlyIf } : {}),
  });
  return steps.flatMap((step) =>
    step.kind === 'create' ? [planned(step.create)] : [planned(step.update), planned(step.create, 'update answered 404')],
  );
}

/**
 * Carries out an event's plan: sends its calls, or in a dry run describes them.
 *
 * @throws RelayError when a call fails.
 */
export async function runPlan(event: RelayEvent, plan: Plan, deps: ProcessDeps): Promise<EventResult> {
  const base = { ...(event.messageId === undefined ? {} : { messageId: event.messageId }), type: event.type };
  if (plan.action === 'skip') return { ...base, status: 'skipped', reason: plan.reason };
  if (deps.send === undefined) {
    return { ...base, status: 'dry-run', requests: describeSteps(plan.steps, deps.baseUrl) };
  }
  const calls = await executeSteps(plan.steps, deps.send);
  return { ...base, status: 'delivered', calls };
}

/**
 * The relay's business logic for one validated event: plan the Gainsight calls, then send them.
 * Runs without middy or AWS.
 *
 * @throws RelayError when the event is invalid for Gainsight or a call fails.
 */
export async function processEvent(event: RelayEvent, deps: ProcessDeps): Promise<EventResult> {
  return runPlan(event, planEvent(event, deps.ctx), deps);
}
