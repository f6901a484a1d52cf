import type { Context } from 'aws-lambda';
import type { RelayConfig } from './config/relay-config.ts';
import { type PreparedEvent, deliverBatch } from './delivery/batch.ts';
import { parkedMessage } from './delivery/parking.ts';
import { planEvent } from './delivery/plan.ts';
import type { EventFailure, EventOutcome, EventResult, ProcessDeps } from './delivery/process.ts';
import { CUSTOM_EVENT_TYPES, RecentIds } from './delivery/dedupe.ts';
import type { Queue } from './delivery/queue.ts';
import type { Transport } from './delivery/retry.ts';
import { type RedriveSummary, redrive } from './delivery/redrive.ts';
import { type RelayError, ValidationError, isRelayError } from './errors.ts';
import { type RelayEvent, parseEvent } from './events/index.ts';
import { GainsightClient } from './gainsight/client.ts';
import { checkGainsight, healthAnswer } from './http/health.ts';
import { type HttpResponse, errorBody, json } from './http/responses.ts';
import type { RelayState } from './http/state.ts';
import type { MappingContext } from './mapping/index.ts';
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

/** Parking must end before middy's early timeout (500 ms before the Lambda's end) answers 503. */
const MIDDY_TIMEOUT_MARGIN_MS = 600;

/** When the Lambda will be stopped (epoch ms); unknown outside Lambda. */
function lambdaEndOf(context: Partial<Context>): number {
  return typeof context.getRemainingTimeInMillis === 'function'
    ? Date.now() + context.getRemainingTimeInMillis()
    : Number.POSITIVE_INFINITY;
}

/** Epoch ms by which work must end: the budget from `startedAt`, and the Lambda's deadline. */
function deadlineOf(startedAt: number, budgetMs: number, context: Partial<Context>): number {
  return Math.min(startedAt + budgetMs, lambdaEndOf(context) - SAFETY_MARGIN_MS);
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

/** An event that failed validation or planning, with where it stood in the request. */
interface Problem {
  index: number;
  messageId?: string;
  type: string;
  error: RelayError;
}

/** Validates and plans every event before anything is sent. */
function prepareAll(rawEvents: readonly unknown[], ctx: MappingContext): { prepared: (PreparedEvent & { index: number })[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const prepared: (PreparedEvent & { index: number })[] = [];
  rawEvents.forEach((raw, index) => {
    try {
      const event = parseEvent(raw);
      prepared.push({ event, plan: planEvent(event, ctx), index });
    } catch (error) {
      if (!isRelayError(error)) throw error;
      const { messageId, type } = (raw ?? {}) as { messageId?: unknown; type?: unknown };
      problems.push({
        index,
        ...(typeof messageId === 'string' ? { messageId } : {}),
        type: typeof type === 'string' ? type.slice(0, 40) : 'unknown',
        error,
      });
    }
  });
  return { prepared, problems };
}

/** `POST /events` is all or nothing: one invalid event and nothing is sent (400). */
function rejectInvalid(problems: readonly Problem[], total: number): ValidationError {
  const listed = problems.map(({ index, messageId, error }) => ({
    index,
    ...(messageId === undefined ? {} : { messageId }),
    code: error.code,
    message: error.message,
    ...(error.details === undefined ? {} : { details: error.details }),
  }));
  const first = problems[0] as Problem;
  if (total === 1) return new ValidationError(first.error.message, { code: first.error.code, details: first.error.details });
  return new ValidationError(`${problems.length} of ${total} events are invalid; nothing was sent`, {
    code: 'invalid_events',
    details: { events: listed },
  });
}

/** Custom events this container delivered lately, by message id (see RecentIds). */
const recentlyDelivered = new RecentIds();

const isCustomEvent = (event: RelayEvent): boolean => CUSTOM_EVENT_TYPES.has(event.type);

/** An event's line in the answer. */
type ResultEntry =
  | EventResult
  | { messageId?: string; type: RelayEvent['type']; status: 'queued'; reason: string }
  | { messageId?: string; type: string; status: 'failed'; error: ReturnType<typeof errorBody>['error'] };

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
      const failure: EventFailure = outcome;
      if (parking && outcome.error.retryable) {
        try {
          await parking.send(parkedMessage(outcome), AbortSignal.timeout(Math.max(100, parkBy - Date.now())));
          return { entry: { ...idOf(outcome.event), type: outcome.event.type, status: 'queued', reason: outcome.error.code } };
        } catch (error) {
          logger.error('event could not be parked', { code: isRelayError(error) ? error.code : 'internal' });
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
export function answerFor(settled: readonly Settled[], options: { queuedStatus?: 200 | 202 } = {}): HttpResponse {
  const results = settled.map((item) => item.entry);
  const failures = settled.flatMap((item) => (item.failure ? [item.failure] : []));
  if (failures.length === 0) {
    return json(results.some((entry) => entry.status === 'queued') ? (options.queuedStatus ?? 202) : 200, { results });
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
const retriesOf = (outcome: EventOutcome | undefined): number =>
  outcome === undefined
    ? 0
    : outcome.ok
      ? outcome.result.status === 'delivered'
        ? outcome.result.attempts - outcome.result.calls
        : 0
      : Math.max(0, outcome.attempts - outcome.calls);

/** One event of a request, whatever became of it. */
interface EventRecord {
  event?: RelayEvent;
  /** The user id its plan resolved (logged as a hash). */
  userId?: string;
  outcome?: EventOutcome;
  settled: Settled;
}

function logOutcomes(records: readonly EventRecord[]): void {
  let keyRefused = false;
  for (const { event, userId, outcome, settled } of records) {
    const { entry, failure } = settled;
    const fields = {
      messageId: entry.messageId,
      // An invalid event's type is whatever the sender wrote: logs and metrics say `invalid`.
      type: event ? entry.type : 'invalid',
      user: userHash(userId),
      outcome: metricOutcome(entry.status, failure),
      ...(outcome ? { latencyMs: Math.round(outcome.durationMs) } : {}),
      ...(outcome?.ok && outcome.result.status === 'delivered'
        ? { calls: outcome.result.calls, attempts: outcome.result.attempts, ...(outcome.result.duplicate ? { duplicate: true } : {}) }
        : {}),
      ...(outcome && !outcome.ok ? { calls: outcome.calls, attempts: outcome.attempts } : {}),
      ...(failure ? { code: failure.code, reason: failure.logReason } : outcome && !outcome.ok ? { code: outcome.error.code } : {}),
    };
    if (outcome && !outcome.ok && outcome.error.code === 'gainsight_auth') keyRefused = true;
    if (entry.status === 'failed') logger.warn(`event ${fields.outcome}`, fields);
    else logger.info(`event ${entry.status}`, fields);
  }
  recordEvents(
    records.map(({ event, settled: { entry, failure } }) => ({ type: event ? entry.type : 'invalid', outcome: metricOutcome(entry.status, failure) })),
  );
  count('Retries', records.reduce((sum, { outcome }) => sum + retriesOf(outcome), 0));
  count('EventsParked', records.filter(({ settled }) => settled.entry.status === 'queued').length);
  if (keyRefused) {
    logger.error(
      'Gainsight PX refused the API key (401/403): put a valid REST API key with Write permission in the api-key parameter (or PX_API_KEY); events are parked or answered 503 until then',
    );
  }
}

/**
 * `POST /events` and the tracking API: validate, plan, deliver (with retries), park what could
 * not be delivered, answer.
 *
 * - `POST /events` is all or nothing on validation: one invalid event and nothing is sent (400).
 * - The tracking API (`/v1/*`) delivers the valid events of a batch and reports the invalid ones
 *   (an SDK drops a batch answered 4xx, so the valid events must not wait on the invalid ones),
 *   and answers 200 rather than 202 for parked events, as the SDKs expect.
 * - On the tracking API, a custom event this container delivered lately is not sent again: an
 *   SDK retrying a partly delivered batch. (RudderStack's webhook resends only events that were
 *   not acknowledged, so `POST /events` needs no such memory.)
 */
async function relayEvents(state: RelayState, options: RelayOptions, context: Partial<Context>, signal?: AbortSignal): Promise<HttpResponse> {
  const config = state.config as RelayConfig;
  const tracking = state.invocation?.kind === 'http' && state.invocation.route === 'tracking';
  const ctx: MappingContext = { settings: config.settings, productKey: config.productKey };
  const rawEvents = state.rawEvents ?? [];
  const { prepared, problems } = prepareAll(rawEvents, ctx);
  if (problems.length > 0 && !tracking) throw rejectInvalid(problems, rawEvents.length);
  // One event per request (RudderStack's webhook): its message id correlates every log line.
  const only = rawEvents.length === 1 ? prepared[0]?.event.messageId : undefined;
  if (only !== undefined) logger.setCorrelationId(only);

  const remembered = (event: RelayEvent): boolean => tracking && event.messageId !== undefined && isCustomEvent(event);
  const fresh = prepared.filter(({ event }) => !(remembered(event) && recentlyDelivered.has(event.messageId as string)));
  const reserve = options.parking ? PARKING_RESERVE_MS : 0;
  const deadline = deadlineOf(state.receivedAt, options.budgetMs - reserve, context);
  const outcomes = await deliverBatch(fresh, depsFor(config, deadline, signal));
  const parkBy = Math.min(deadline + reserve + PARKING_GRACE_MS, lambdaEndOf(context) - MIDDY_TIMEOUT_MARGIN_MS);
  const settled = await settle(outcomes, options.parking, parkBy);

  const records: EventRecord[] = new Array(rawEvents.length);
  fresh.forEach(({ event, plan, index }, position) => {
    const outcome = outcomes[position] as EventOutcome;
    const done = settled[position] as Settled;
    if (done.entry.status === 'delivered' && remembered(event)) recentlyDelivered.add(event.messageId as string);
    records[index] = { event, userId: plan.userId, outcome, settled: done };
  });
  for (const { event, plan, index } of prepared) {
    if (records[index] !== undefined) continue;
    const duplicate: EventResult = { ...idOf(event), type: event.type, status: 'delivered', calls: 0, attempts: 0, duplicate: true };
    records[index] = { event, userId: plan.userId, settled: { entry: duplicate } };
  }
  for (const { index, messageId, type, error } of problems) {
    const entry: ResultEntry = { ...(messageId === undefined ? {} : { messageId }), type, status: 'failed', error: errorBody(error).error };
    records[index] = { settled: { entry, failure: error } };
  }
  logOutcomes(records);
  return answerFor(
    records.map((record) => record.settled),
    tracking ? { queuedStatus: 200 } : {},
  );
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
