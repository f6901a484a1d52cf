import type { Request } from '@middy/core';
import type { Served } from '../config/loader.ts';
import type { RelayConfig } from '../config/relay-config.ts';
import type { Invocation } from './invocation.ts';

const BRAND: unique symbol = Symbol('gainsight-px-relay.state');

/**
 * What the middlewares learn about one invocation. The first middleware replaces middy's
 * `request.event` with this object (keeping the original as `raw`), so the handler receives
 * typed, already checked input instead of re-reading the Lambda event.
 */
export interface RelayState {
  readonly [BRAND]: true;
  /** The Lambda event as received. */
  readonly raw: unknown;
  /** When the invocation began (epoch ms): the delivery budget counts from here. */
  readonly receivedAt: number;
  invocation?: Invocation;
  /** What the configuration loader served: the credentials, and the configuration or its error. */
  served?: Served;
  /** The configuration, once the caller is authenticated and it is known to be valid. */
  config?: RelayConfig;
  /** The raw events of the request body, not yet validated. */
  rawEvents?: unknown[];
  /** The events as the sender sent them, when normalising changed them (tracking API). */
  sentEvents?: unknown[];
  /** Tracking API: the batch envelope's own fields (or the single call's write key). */
  envelope?: { writeKey?: unknown };
  /** Tracking API without an Authorization header: the body's write key is still to check. */
  writeKeyPending?: boolean;
}

const isState = (value: unknown): value is RelayState =>
  typeof value === 'object' && value !== null && (value as Partial<RelayState>)[BRAND] === true;

/** Starts the invocation's state; called once, by the first relay middleware. */
export function beginState(request: Request): RelayState {
  const state: RelayState = { [BRAND]: true, raw: request.event, receivedAt: Date.now() };
  request.event = state;
  return state;
}

/** The invocation's state (an empty one if the first middleware never ran). */
export function stateOf(request: Request): RelayState {
  return isState(request.event) ? request.event : { [BRAND]: true, raw: request.event, receivedAt: Date.now() };
}
