import type { Context } from 'aws-lambda';
import type { RelayConfig } from './config/relay-config.ts';
import { type PreparedEvent, deliverBatch } from './delivery/batch.ts';
import { parkedMessage } from './delivery/parking.ts';
import { planEvent } from './delivery/plan.ts';
import type { EventFailure, EventOutcome, EventResult, ProcessDeps } from './delivery/process.ts';
import type { Queue } from './delivery/queue.ts';
import type { Transport } from './delivery/retry.ts';
import { type RedriveSummary, redrive } from './delivery/redrive.ts';
import { type RelayError, ValidationError, isRelayError } from './errors.ts';
import { type RelayEvent, parseEvent } from './events/index.ts';
import { GainsightClient } from './gainsight/client.ts';
import { checkGainsight, healthAnswer } from './http/health.ts';
import { type HttpResponse, errorBody, json } from './http/responses.ts';
import type { RelayState } from './http/state.ts';
import { type MappingContext, resolveUserId } from './mapping/index.ts';
import { type MetricOutcome, count, logger, recordEvents, recordGainsightCall, userHash } from './observability.ts';

/**
 * The handler behind the middy chain. By the time it runs, the invocation is classified, the
 * configuration loaded, the sender authenticated and the body decoded (see handler.ts).
 */

/** Time kept back from the Lambda's deadline to answer after the last call. */
const SAFETY_MARGIN_MS = 1000;
/** Time kept back from the delivery budget to park what could not be delivered. */
const PARKING_RESERVE_MS = 600;
/** Parking may run this far past the budget; the answer still comes within budget + 1 s. */
const PARKING_GRACE_MS = 600;

export interface RelayOptions {
  /** DELIVERY_BUDGET_MS: how long one request may spend delivering. */
  budgetMs: number;
  /** DEAD_LETTER_QUEUE_URL: where undeliverable events are parked. */
  parking?: Queue;
  /** FAILED_QUEUE_URL: where the redrive puts events Gainsight rejected for good. */
  failed?: Queue;
}

export type ScheduledSummary =
  | { ok: true; action: 'scheduled' | 'refresh' | 'redrive'; dataCenter: string; dryRun: boolean; redrive?: RedriveSummary | 'no-queue' | 'dry-run' }
  | { ok: false; error: { code: string; message: string } };

let client: GainsightClient | undefined;

/** One client per container (and per key/base URL), so keep-alive connections are reused. */
function clientFor(config: RelayConfig): GainsightClient | undefined {
  if (config.dryRun || config.apiKey === undefined) return undefined;
  if (client === undefined || client.baseUrl !== config.baseUrl || !client.hasKey(config.apiKey)) {
    client = new GainsightClient({ baseUrl: config.baseUrl, apiKey: config.apiKey });
  }
  return client;
}

/** Epoch ms by which work must end: the budget from `startedAt`, and the Lambda's deadline. */
function deadlineOf(startedAt: number, budgetMs: number, context: Partial<Context>): number {
  const lambdaEnd =
    typeof context.getRemainingTimeInMillis === 'function'
      ? Date.now() + context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS
      : Number.POSITIVE_INFINITY;
  return Math.min(startedAt + budgetMs, lambdaEnd);
}

/** The client's `send`, timed: every attempt's latency and status class become metrics. */
function timedTransport(gainsight: GainsightClient): Transport {
  return async (request, signal) => {
    const started = performance.now();
    try {
      const response = await gainsight.send(request, signal);
      recordGainsightCall(performance.now() - started, response.status);
      return response;
    } catch (error) {
      recordGainsightCall(performance.now() - started, undefined);
      throw error;
    }
  };
}

function depsFor(config: RelayConfig, deadline: number, signal: AbortSignal | undefined): ProcessDeps {
  const gainsight = clientFor(config);
  return {
    ctx: { settings: config.settings, productKey: config.productKey },
    baseUrl: config.baseUrl,
    transport: gainsight && timedTransport(gainsight),
    deadline,
    ...(signal ? { signal } : {}),
  };
}

/** Validates and plans every event before anything is sent: an invalid batch sends nothing. */
function prepare(rawEvents: readonly unknown[], ctx: MappingContext): PreparedEvent[] {
  const problems: Record<string, unknown>[] = [];
  const prepared: PreparedEvent[] = [];
  rawEvents.forEach((raw, index) => {
    try {
      const event = parseEvent(raw);
      prepared.push({ event, plan: planEvent(event, ctx) });
    } catch (error) {
      if (!isRelayError(error)) throw error;
      const messageId = (raw as { messageId?: unknown } | null)?.messageId;
      problems.push({
        index,
        ...(typeof messageId === 'string' ? { messageId } : {}),
        code: error.code,
        message: error.message,
        ...(error.details === undefined ? {} : { details: error.details }),
      });
    }
  });
  if (problems.length === 0) return prepared;
  const first = problems[0] as { code: string; message: string; details?: unknown };
  if (rawEvents.length === 1) throw new ValidationError(first.message, { code: first.code, details: first.details });
  throw new ValidationError(`${problems.length} of ${rawEvents.length} events are invalid; nothing was sent`, {
    code: 'invalid_events',
    details: { events: problems },
  });
}

/** An event's line in the answer. */
type ResultEntry =
  | EventResult
  | { messageId?: string; type: RelayEvent['type']; status: 'queued'; reason: string }
  | { messageId?: string; type: RelayEvent['type']; status: 'failed'; error: ReturnType<typeof errorBody>['error'] };

/** The final state of one event after delivery and, if needed, parking. */
type Settled = { entry: ResultEntry; failure?: RelayError };

const idOf = (event: RelayEvent) => (event.messageId === undefined ? {} : { messageId: event.messageId });

/**
 * Parks every retryable failure, one message per event. An event whose parking failed stays
 * failed: nothing is acknowledged that is not delivered, parked or skipped.
 */
async function settle(outcomes: readonly EventOutcome[], parking: Queue | undefined, parkBy: number): Promise<Settled[]> {
  return Promise.all(
    outcomes.map(async (outcome): Promise<Settled> => {
      if (outcome.ok) return { entry: outcome.result };
      let failure: EventFailure = outcome;
      if (parking && outcome.error.retryable) {
        try {
          await parking.send(parkedMessage(outcome), AbortSignal.timeout(Math.max(100, parkBy - Date.now())));
          return { entry: { ...idOf(outcome.event), type: outcome.event.type, status: 'queued', reason: outcome.error.code } };
        } catch (error) {
          logger.error('event could not be parked', { code: isRelayError(error) ? error.code : 'internal' });
          failure = outcome;
        }
      }
      return {
        entry: { ...idOf(failure.event), type: failure.event.type, status: 'failed', error: errorBody(failure.error).error },
        failure: failure.error,
      };
    }),
  );
}

/**
 * The answer for a batch (SPEC §4), worst outcome first:
 * - 503 (or 429 when Gainsight only throttled): an event failed retryably and is not parked;
 * - 400: Gainsight (or planning) rejected an event for good;
 * - 202: everything else was delivered or skipped, and at least one event is parked;
 * - 200: every event was delivered or skipped.
 * The body lists every event's outcome, so a sender of a batch can tell which ones landed.
 */
export function answerFor(settled: readonly Settled[]): HttpResponse {
  const results = settled.map((item) => item.entry);
  const failures = settled.flatMap((item) => (item.failure ? [item.failure] : []));
  if (failures.length === 0) {
    return json(results.some((entry) => entry.status === 'queued') ? 202 : 200, { results });
  }
  const retryable = failures.filter((error) => error.retryable);
  const deciding = retryable.find((error) => error.statusCode !== 429) ?? retryable[0] ?? (failures[0] as RelayError);
  const status = retryable.length === 0 ? 400 : retryable.every((error) => error.statusCode === 429) ? 429 : 503;
  const message =
    settled.length === 1 ? deciding.message : `${failures.length} of ${settled.length} events failed: ${deciding.message}`;
  const retryAfter = (deciding as { retryAfterSeconds?: number }).retryAfterSeconds;
  return json(
    status,
    { error: { code: deciding.code, message, details: { results } } },
    status === 429 && retryAfter !== undefined ? { 'retry-after': String(Math.ceil(retryAfter)) } : {},
  );
}

/** A failed event is `rejected` when retrying cannot help, else `failed` (the sender retries). */
const metricOutcome = (status: ResultEntry['status'], failure: RelayError | undefined): MetricOutcome =>
  status === 'failed' ? (failure?.retryable ? 'failed' : 'rejected') : status;

/** Attempts beyond the first of each call. */
const retriesOf = (outcome: EventOutcome): number =>
  outcome.ok
    ? outcome.result.status === 'delivered'
      ? outcome.result.attempts - outcome.result.calls
      : 0
    : Math.max(0, outcome.attempts - outcome.calls);

function logOutcomes(prepared: readonly PreparedEvent[], outcomes: readonly EventOutcome[], settled: readonly Settled[]): void {
  let keyRefused = false;
  outcomes.forEach((outcome, index) => {
    const entry = (settled[index] as Settled).entry;
    const fields = {
      messageId: entry.messageId,
      type: entry.type,
      user: userHash(resolveUserId((prepared[index] as PreparedEvent).event)),
      outcome: metricOutcome(entry.status, (settled[index] as Settled).failure),
      latencyMs: Math.round(outcome.durationMs),
      ...(outcome.ok && outcome.result.status === 'delivered' ? { calls: outcome.result.calls, attempts: outcome.result.attempts } : {}),
      ...(!outcome.ok ? { calls: outcome.calls, attempts: outcome.attempts, code: outcome.error.code, reason: outcome.error.logReason } : {}),
    };
    if (!outcome.ok && outcome.error.code === 'gainsight_auth') keyRefused = true;
    if (entry.status === 'failed') logger.warn(`event ${fields.outcome}`, fields);
    else logger.info(`event ${entry.status}`, fields);
  });
  recordEvents(settled.map(({ entry, failure }) => ({ type: entry.type, outcome: metricOutcome(entry.status, failure) })));
  count('Retries', outcomes.reduce((sum, outcome) => sum + retriesOf(outcome), 0));
  count('EventsParked', settled.filter(({ entry }) => entry.status === 'queued').length);
  if (keyRefused) {
    logger.error(
      'Gainsight PX refused the API key (401/403): put a valid REST API key with Write permission in the api-key parameter (or PX_API_KEY); events are parked or answered 503 until then',
    );
  }
}

/** `POST /events`: validate, plan, deliver (with retries), park what could not be delivered, answer. */
async function relayEvents(state: RelayState, options: RelayOptions, context: Partial<Context>, signal?: AbortSignal): Promise<HttpResponse> {
  const config = state.config as RelayConfig;
  const ctx: MappingContext = { settings: config.settings, productKey: config.productKey };
  const prepared = prepare(state.rawEvents ?? [], ctx);
  // One event per request (RudderStack's webhook): its message id correlates every log line.
  const only = prepared.length === 1 ? prepared[0]?.event.messageId : undefined;
  if (only !== undefined) logger.setCorrelationId(only);
  const reserve = options.parking ? PARKING_RESERVE_MS : 0;
  const deadline = deadlineOf(state.receivedAt, options.budgetMs - reserve, context);
  const outcomes = await deliverBatch(prepared, depsFor(config, deadline, signal));
  const settled = await settle(outcomes, options.parking, deadline + reserve + PARKING_GRACE_MS);
  logOutcomes(prepared, outcomes, settled);
  return answerFor(settled);
}

/** Scheduled and manual runs: settings were just re-read; redrive parked events when possible. */
async function housekeeping(
  state: RelayState,
  options: RelayOptions,
  context: Partial<Context>,
  signal?: AbortSignal,
): Promise<ScheduledSummary> {
  const config = state.config as RelayConfig;
  const action: 'scheduled' | 'refresh' | 'redrive' = state.invocation?.kind === 'action' ? state.invocation.action : 'scheduled';
  const base = { ok: true as const, action, dataCenter: config.settings.dataCenter, dryRun: config.dryRun };
  count('HousekeepingRuns');
  if (action === 'refresh') {
    logger.info('settings refreshed', base);
    return base;
  }
  if (!options.parking) return { ...base, redrive: 'no-queue' };
  // A dry run would receive parked events without sending them: leave the queue alone.
  if (config.dryRun) return { ...base, redrive: 'dry-run' };
  const deadline = deadlineOf(Date.now(), Number.POSITIVE_INFINITY, context);
  const { deadline: _unused, ...deps } = depsFor(config, deadline, signal);
  const summary = await redrive({
    parking: options.parking,
    failed: options.failed,
    deps,
    deadline: Number.isFinite(deadline) ? deadline : Date.now() + 10_000,
  });
  logger.info('redrive finished', { ...summary });
  count('EventsRedriven', summary.delivered);
  count('RedriveRequeued', summary.requeued);
  count('RedriveRejected', summary.rejected);
  return { ...base, redrive: summary };
}

/** Creates the handler that middy wraps. */
export function createRelayHandler(options: RelayOptions) {
  return async function relayHandler(
    state: RelayState,
    context: Context,
    opts?: { signal?: AbortSignal },
  ): Promise<HttpResponse | ScheduledSummary> {
    const invocation = state.invocation;
    if (invocation?.kind === 'http' && invocation.route === 'health') {
      const config = state.config as RelayConfig;
      count('DeepHealthChecks');
      return healthAnswer({
        configuration: { ok: true, dataCenter: config.settings.dataCenter, dryRun: config.dryRun },
        gainsight: await checkGainsight(config, opts?.signal),
      });
    }
    if (invocation?.kind === 'http') return relayEvents(state, options, context, opts?.signal);
    return housekeeping(state, options, context, opts?.signal);
  };
}
