import type { Context } from 'aws-lambda';
import type { RelayConfig } from './config/relay-config.ts';
import { type BatchOutcome, type PreparedEvent, deliverBatch } from './delivery/batch.ts';
import type { Send } from './delivery/execute.ts';
import { planEvent } from './delivery/plan.ts';
import type { EventResult } from './delivery/process.ts';
import { type RelayError, ValidationError, isRelayError } from './errors.ts';
import { type RelayEvent, parseEvent } from './events/index.ts';
import { GainsightClient } from './gainsight/client.ts';
import { type HttpResponse, errorBody, json } from './http/responses.ts';
import type { RelayState } from './http/state.ts';
import type { MappingContext } from './mapping/index.ts';
import { logger } from './observability.ts';

/**
 * The handler behind the middy chain. By the time it runs, the invocation is classified, the
 * configuration loaded, the sender authenticated and the body decoded (see handler.ts).
 */

/** Time kept back from the Lambda's deadline to answer after the last Gainsight call. */
const SAFETY_MARGIN_MS = 1000;

export interface RelayOptions {
  /** DELIVERY_BUDGET_MS: how long one request may spend delivering. */
  budgetMs: number;
}

export type ScheduledSummary = { ok: true; action: 'refresh'; dataCenter: string; dryRun: boolean };

let client: GainsightClient | undefined;

/** One client per container (and per key/base URL), so keep-alive connections are reused. */
function clientFor(config: RelayConfig): GainsightClient | undefined {
  if (config.dryRun || config.apiKey === undefined) return undefined;
  if (client === undefined || client.baseUrl !== config.baseUrl || !client.hasKey(config.apiKey)) {
    client = new GainsightClient({ baseUrl: config.baseUrl, apiKey: config.apiKey });
  }
  return client;
}

/**
 * Aborts when the delivery budget (counted from the request's arrival, so time spent loading
 * configuration counts too), the Lambda's own deadline or middy's signal runs out.
 */
function deliverySignal(state: RelayState, budgetMs: number, context: Partial<Context>, signal: AbortSignal | undefined): AbortSignal {
  const budgetLeft = budgetMs - (Date.now() - state.receivedAt);
  const lambdaLeft =
    typeof context.getRemainingTimeInMillis === 'function'
      ? context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS
      : Number.POSITIVE_INFINITY;
  const timeout = AbortSignal.timeout(Math.max(1, Math.min(budgetLeft, lambdaLeft)));
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
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
      const messageId = typeof (raw as { messageId?: unknown })?.messageId === 'string' ? (raw as { messageId: string }).messageId : undefined;
      problems.push({ index, ...(messageId ? { messageId } : {}), code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) });
    }
  });
  if (problems.length > 0) {
    const first = problems[0] as { message: string; code: string };
    throw new ValidationError(
      rawEvents.length === 1 ? first.message : `${problems.length} of ${rawEvents.length} events are invalid; nothing was sent`,
      { code: rawEvents.length === 1 ? first.code : 'invalid_events', details: rawEvents.length === 1 ? (problems[0] as { details?: unknown }).details : { events: problems } },
    );
  }
  return prepared;
}

type ResultEntry = EventResult | { messageId?: string; type: RelayEvent['type']; status: 'failed'; error: ReturnType<typeof errorBody>['error'] };

function entryOf(outcome: BatchOutcome): ResultEntry {
  if (outcome.ok) return outcome.result;
  const { event, error } = outcome;
  return {
    ...(event.messageId === undefined ? {} : { messageId: event.messageId }),
    type: event.type,
    status: 'failed',
    error: errorBody(error).error,
  };
}

/**
 * The answer for a delivered batch (SPEC §4): 200 when every event was delivered or skipped;
 * otherwise the status that makes the sender do the right thing — 503 (or 429 when Gainsight
 * only throttled) if any event can succeed later, else 400. The body lists every event's outcome.
 */
export function answerFor(outcomes: readonly BatchOutcome[]): HttpResponse {
  const failures = outcomes.filter((outcome): outcome is Extract<BatchOutcome, { ok: false }> => !outcome.ok);
  const results = outcomes.map(entryOf);
  if (failures.length === 0) return json(200, { results });

  const retryable = failures.filter((failure) => failure.error.retryable);
  const deciding: RelayError = ((retryable.find((failure) => failure.error.statusCode !== 429) ?? retryable[0] ?? failures[0]) as {
    error: RelayError;
  }).error;
  const status = retryable.length > 0 ? (retryable.every((f) => f.error.statusCode === 429) ? 429 : 503) : 400;
  const message =
    outcomes.length === 1 ? deciding.message : `${failures.length} of ${outcomes.length} events failed: ${deciding.message}`;
  const retryAfter = (deciding as { retryAfterSeconds?: number }).retryAfterSeconds;
  return json(
    status,
    { error: { code: deciding.code, message, details: { results } } },
    status === 429 && retryAfter !== undefined ? { 'retry-after': String(Math.ceil(retryAfter)) } : {},
  );
}

function logOutcomes(outcomes: readonly BatchOutcome[]): void {
  for (const outcome of outcomes) {
    const entry = entryOf(outcome);
    const fields = {
      messageId: entry.messageId,
      type: entry.type,
      outcome: entry.status,
      ...(entry.status === 'delivered' ? { calls: entry.calls } : {}),
      ...(entry.status === 'failed' ? { code: entry.error.code, reason: entry.error.message } : {}),
    };
    if (entry.status === 'failed') logger.warn('event failed', fields);
    else logger.info(`event ${entry.status}`, fields);
  }
}

/** `POST /events`: validate, plan, deliver, answer. */
async function relayEvents(state: RelayState, options: RelayOptions, context: Partial<Context>, signal?: AbortSignal): Promise<HttpResponse> {
  const config = state.config as RelayConfig;
  const ctx: MappingContext = { settings: config.settings, productKey: config.productKey };
  const prepared = prepare(state.rawEvents ?? [], ctx);
  const gainsight = clientFor(config);
  const deadline = deliverySignal(state, options.budgetMs, context, signal);
  const send: Send | undefined = gainsight && ((request) => gainsight.send(request, deadline));
  const outcomes = await deliverBatch(prepared, { ctx, baseUrl: config.baseUrl, send });
  logOutcomes(outcomes);
  return answerFor(outcomes);
}

/** Creates the handler that middy wraps. */
export function createRelayHandler(options: RelayOptions) {
  return async function relayHandler(
    state: RelayState,
    context: Context,
    opts?: { signal?: AbortSignal },
  ): Promise<HttpResponse | ScheduledSummary> {
    const invocation = state.invocation;
    if (invocation?.kind === 'http') return relayEvents(state, options, context, opts?.signal);
    // Scheduled and manual runs: the configuration middleware has just re-read SSM.
    const config = state.config as RelayConfig;
    const summary: ScheduledSummary = { ok: true, action: 'refresh', dataCenter: config.settings.dataCenter, dryRun: config.dryRun };
    logger.info('settings refreshed', { ...summary });
    return summary;
  };
}
