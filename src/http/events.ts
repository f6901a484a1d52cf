import type { Context } from 'aws-lambda';
import type { RelayConfig } from '../config/relay-config.ts';
import { deliverBatch } from '../delivery/batch.ts';
import { deadlinesOf } from '../delivery/budget.ts';
import { DeliveredEvents } from '../delivery/dedupe.ts';
import { type Prepared, prepareAll, rejectRequest } from '../delivery/prepare.ts';
import type { EventResult } from '../delivery/process.ts';
import { type EventRecord, recordOutcomes } from '../delivery/record.ts';
import { failedEntry, settleAll } from '../delivery/settle.ts';
import { logger } from '../observability.ts';
import type { Pipeline } from '../pipeline.ts';
import { type HttpResponse, answerEvents } from './answer.ts';
import type { RoutePolicy } from './routes.ts';

/**
 * `POST /events` and the tracking API, once the sender is authenticated and the body decoded:
 * validate and plan every event, skip what this container already delivered, deliver (with
 * retries inside the budget), settle (park or copy what failed), record, answer.
 */
export async function relayEvents(
  request: {
    rawEvents: readonly unknown[];
    /** The events as sent, when decoding normalised them: what the memory of delivered events compares. */
    sentEvents?: readonly unknown[] | undefined;
    receivedAt: number;
    route: RoutePolicy;
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
  const keys = prepared.map(({ event, index }) => (config.dryRun ? undefined : DeliveredEvents.keyOf(event.messageId, sent[index])));
  const fresh: (Prepared & { key: string | undefined })[] = [];
  const records: EventRecord[] = new Array(rawEvents.length);
  prepared.forEach((item, position) => {
    const key = keys[position];
    const { event, plan, index } = item;
    if (key === undefined || !pipeline.delivered.has(key)) {
      fresh.push({ ...item, key });
      return;
    }
    const duplicate: EventResult = { ...(event.messageId === undefined ? {} : { messageId: event.messageId }), type: event.type, status: 'delivered', calls: 0, attempts: 0, duplicate: true };
    records[index] = { valid: true, user: pipeline.hashUser(plan.userId), settled: { entry: duplicate } };
  });

  const { deliverBy, parkBy } = deadlinesOf(request.receivedAt, pipeline.budgetMs, context, pipeline.parking !== undefined);
  const outcomes = await deliverBatch(fresh, pipeline.deps(deliverBy, signal));
  const settled = await settleAll(outcomes, { parking: pipeline.parking, failed: pipeline.failed, by: parkBy });

  fresh.forEach(({ plan, index, key }, position) => {
    const done = settled[position] as NonNullable<(typeof settled)[number]>;
    if (key !== undefined && done.entry.status === 'delivered') pipeline.delivered.add(key);
    records[index] = { valid: true, user: pipeline.hashUser(plan.userId), outcome: outcomes[position], settled: done };
  });
  for (const { index, messageId, type, error } of invalid) records[index] = { valid: false, settled: failedEntry(messageId, type, error) };
  recordOutcomes(records);
  return answerEvents(
    records.map((record) => record.settled),
    route,
  );
}
