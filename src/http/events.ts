import type { Context } from 'aws-lambda';
import type { RelayConfig } from '../config/relay-config.ts';
import { deliverBatch } from '../delivery/batch.ts';
import { deadlinesOf } from '../delivery/budget.ts';
import { type Acknowledged, AcknowledgedEvents, CUSTOM_EVENT_TYPES } from '../delivery/dedupe.ts';
import { type Prepared, prepareAll, rejectRequest } from '../delivery/prepare.ts';
import { type EventRecord, recordOutcomes } from '../delivery/record.ts';
import { enqueueAll } from '../delivery/enqueue.ts';
import { orderingOf } from '../delivery/parking.ts';
import type { EventOutcome } from '../delivery/process.ts';
import { type ResultEntry, type Settled, failedEntry, settleAll } from '../delivery/settle.ts';
import type { RelayEvent } from '../events/index.ts';
import { logger } from '../observability.ts';
import type { Pipeline } from '../pipeline.ts';
import { type HttpResponse, answerEvents } from './answer.ts';
import type { EventsRoute } from './routes.ts';

/** The line of an event this container already acknowledged: as before, marked `duplicate`. */
function resent(event: RelayEvent, before: Acknowledged): ResultEntry {
  const id = event.messageId === undefined ? {} : { messageId: event.messageId };
  return before === 'delivered'
    ? { ...id, type: event.type, status: 'delivered', calls: 0, attempts: 0, duplicate: true }
    : { ...id, type: event.type, status: 'queued', reason: 'already parked', duplicate: true };
}

/**
 * `POST /events` and the tracking API, once the sender is authenticated and the body decoded:
 * validate and plan every event, skip what this container already acknowledged, deliver (with
 * retries inside the budget) and settle (park or copy what failed) — or, in queued mode, put
 * every event on the parking queue for the consumer — record, answer.
 */
export async function relayEvents(
  request: {
    rawEvents: readonly unknown[];
    /** The events as sent, when decoding normalised them: what the memory of delivered events compares. */
    sentEvents?: readonly unknown[] | undefined;
    receivedAt: number;
    route: EventsRoute;
  },
  config: RelayConfig,
  pipeline: Pipeline,
  context: Partial<Context>,
  signal?: AbortSignal,
): Promise<HttpResponse> {
  const { rawEvents, route } = request;
  const { prepared, invalid } = prepareAll(rawEvents, pipeline.ctx);
  if (invalid.length > 0 && route.invalidEvents === 'reject-request') throw rejectRequest(invalid, rawEvents.length);
  // One event per request (RudderStack's webhook): its message id correlates every log line.
  const only = rawEvents.length === 1 ? prepared[0]?.event.messageId : undefined;
  if (only !== undefined) logger.setCorrelationId(only);

  const sent = request.sentEvents ?? rawEvents;
  const keys = prepared.map(({ event, index }) => (config.dryRun ? undefined : AcknowledgedEvents.keyOf(event.messageId, sent[index])));
  const fresh: (Prepared & { key: string | undefined })[] = [];
  const records: EventRecord[] = new Array(rawEvents.length);
  prepared.forEach((item, position) => {
    const key = keys[position];
    const before = key === undefined ? undefined : pipeline.acknowledged.recall(key);
    if (before === undefined) {
      fresh.push({ ...item, key });
      return;
    }
    records[item.index] = { valid: true, user: pipeline.hashUser(item.plan.userId), settled: { entry: resent(item.event, before) } };
  });

  const { deliverBy, parkBy } = deadlinesOf(request.receivedAt, pipeline.budgetMs, context, pipeline.parking !== undefined);
  let outcomes: (EventOutcome | undefined)[] = [];
  let settled: Settled[];
  if (pipeline.queued && pipeline.parking && !config.dryRun) {
    settled = await enqueueAll(fresh, pipeline.parking, parkBy);
  } else {
    outcomes = await deliverBatch(fresh, pipeline.deps(deliverBy, signal));
    const items = fresh.map(({ event, plan, key }, position) => ({
      outcome: outcomes[position] as EventOutcome,
      // Only a failed event is parked or copied: only it needs its FIFO place (a digest).
      ordering: outcomes[position]?.ok ? undefined : orderingOf(plan.userId, key),
      mayPark: route.parks === 'all' || CUSTOM_EVENT_TYPES.has(event.type),
    }));
    settled = await settleAll(items, { parking: pipeline.parking, failed: pipeline.failed, by: parkBy });
  }

  fresh.forEach(({ plan, index, key }, position) => {
    const done = settled[position] as NonNullable<(typeof settled)[number]>;
    if (key !== undefined && (done.entry.status === 'delivered' || done.entry.status === 'queued')) pipeline.acknowledged.remember(key, done.entry.status);
    records[index] = { valid: true, user: pipeline.hashUser(plan.userId), outcome: outcomes[position], settled: done };
  });
  for (const { index, messageId, type, error } of invalid) records[index] = { valid: false, settled: failedEntry(messageId, type, error) };
  recordOutcomes(records);
  return answerEvents(
    records.map((record) => record.settled),
    route,
  );
}
