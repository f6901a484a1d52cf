import type { Context } from 'aws-lambda';

/**
 * The time a request may spend, from two limits: the delivery budget (`DELIVERY_BUDGET_MS`,
 * under the sender's own timeout) and the Lambda's end. The numbers below keep an answer within
 * budget + 1 s, and parking finished before middy's early timeout answers 503 instead.
 */

/** Time kept back from the Lambda's end to answer after the last call. */
const SAFETY_MARGIN_MS = 1000;
/** Time kept back from the delivery budget to park what could not be delivered. */
export const PARKING_RESERVE_MS = 600;
/** Parking may run this far past the budget. */
const PARKING_GRACE_MS = 600;
/** middy answers 503 this long before the Lambda's end (`timeoutEarlyInMillis` in handler.ts). */
export const MIDDY_TIMEOUT_EARLY_MS = 500;
/** Parking must end this long before the Lambda's end, i.e. before middy's timeout. */
const MIDDY_TIMEOUT_MARGIN_MS = MIDDY_TIMEOUT_EARLY_MS + 100;

/** When the Lambda will be stopped (epoch ms); unknown outside Lambda. */
export function lambdaEndOf(context: Partial<Context>): number {
  return typeof context.getRemainingTimeInMillis === 'function' ? Date.now() + context.getRemainingTimeInMillis() : Number.POSITIVE_INFINITY;
}

/** The deadlines of one request that began at `startedAt`. */
export interface Deadlines {
  /** No Gainsight attempt starts or is waited for after this. */
  deliverBy: number;
  /** Parking must be done by then. */
  parkBy: number;
}

export function deadlinesOf(startedAt: number, budgetMs: number, context: Partial<Context>, parking: boolean): Deadlines {
  const lambdaEnd = lambdaEndOf(context);
  const reserve = parking ? PARKING_RESERVE_MS : 0;
  const deliverBy = Math.min(startedAt + budgetMs - reserve, lambdaEnd - SAFETY_MARGIN_MS);
  return { deliverBy, parkBy: Math.min(deliverBy + reserve + PARKING_GRACE_MS, lambdaEnd - MIDDY_TIMEOUT_MARGIN_MS) };
}

/** The deadline of a housekeeping run: the Lambda's end less the margin, or 10 s outside Lambda. */
export function housekeepingDeadline(context: Partial<Context>): number {
  const end = lambdaEndOf(context) - SAFETY_MARGIN_MS;
  return Number.isFinite(end) ? end : Date.now() + 10_000;
}
