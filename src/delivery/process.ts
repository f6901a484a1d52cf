import { type RelayError, UnavailableError, isRelayError } from '../errors.ts';
import type { RelayEvent } from '../events/index.ts';
import { API_KEY_HEADER } from '../gainsight/client.ts';
import type { MappingContext } from '../mapping/index.ts';
import { type Progress, executeSteps } from './execute.ts';
import type { Plan, Step } from './plan.ts';
import { type AttemptLog, type Gate, type RetryPolicy, type Transport, withRetries } from './retry.ts';

/** What the sender learns about one event (docs/http-contract.md `results[]`). */
export type EventResult =
  | {
      messageId?: string;
      type: RelayEvent['type'];
      status: 'delivered';
      calls: number;
      attempts: number;
      /** A resend of an event this container already delivered: not sent again. */
      duplicate?: true;
    }
  | { messageId?: string; type: RelayEvent['type']; status: 'skipped'; reason: string }
  | { messageId?: string; type: RelayEvent['type']; status: 'dry-run'; requests: PlannedRequest[] };

/** Why an event was not delivered, and how far it got (enough to park it and resume later). */
export interface EventFailure {
  event: RelayEvent;
  error: RelayError;
  attempts: number;
  /** Epoch ms of the first failed attempt. */
  firstFailureAt: number;
  /** Steps of the plan already done; a redrive starts after them. */
  completedSteps: number;
  calls: number;
  durationMs: number;
}

export type EventOutcome = { ok: true; result: EventResult; durationMs: number } | ({ ok: false } & EventFailure);

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
  transport: Transport | undefined;
  /** Epoch ms: no Gainsight attempt starts or is waited for after this. */
  deadline: number;
  signal?: AbortSignal;
  policy?: RetryPolicy;
  /** Waits for a free call slot (GAINSIGHT_MAX_IN_FLIGHT). */
  gate?: Gate;
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
 * Carries out an event's plan from step `fromStep` on: sends its calls with retries inside the
 * deadline, or in a dry run describes them. Never throws for a delivery failure: it returns it,
 * with what is needed to park the event and resume.
 */
export async function runPlan(event: RelayEvent, plan: Plan, deps: ProcessDeps, fromStep = 0): Promise<EventOutcome> {
  const started = performance.now();
  const base = { ...(event.messageId === undefined ? {} : { messageId: event.messageId }), type: event.type };
  if (plan.action === 'skip') return { ok: true, result: { ...base, status: 'skipped', reason: plan.reason }, durationMs: 0 };
  const steps = plan.steps.slice(fromStep);
  if (deps.transport === undefined) {
    return { ok: true, result: { ...base, status: 'dry-run', requests: describeSteps(steps, deps.baseUrl) }, durationMs: 0 };
  }
  const log: AttemptLog = { attempts: 0 };
  const progress: Progress = { calls: 0, completedSteps: 0 };
  const send = withRetries(deps.transport, {
    deadline: deps.deadline,
    log,
    ...(deps.signal ? { signal: deps.signal } : {}),
    ...(deps.policy ? { policy: deps.policy } : {}),
    ...(deps.gate ? { gate: deps.gate } : {}),
  });
  try {
    await executeSteps(steps, send, progress);
    return {
      ok: true,
      result: { ...base, status: 'delivered', calls: progress.calls, attempts: log.attempts },
      durationMs: performance.now() - started,
    };
  } catch (error) {
    return {
      ok: false,
      event,
      error: isRelayError(error)
        ? error
        : new UnavailableError('Unexpected failure while delivering the event', { code: 'internal', cause: error }),
      attempts: log.attempts,
      firstFailureAt: log.firstFailureAt ?? Date.now(),
      completedSteps: fromStep + progress.completedSteps,
      calls: progress.calls,
      durationMs: performance.now() - started,
    };
  }
}
