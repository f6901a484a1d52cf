import type { MiddlewareObj } from '@middy/core';
import type { ConfigurationLoader } from '../config/loader.ts';
import { type RelayError, UnavailableError, isRelayError } from '../errors.ts';
import { stateOf } from './state.ts';

/**
 * The configuration on the request path, in two steps around authentication (docs/http-contract.md):
 * `loadConfiguration` fetches what the loader serves (the credentials first of all), and
 * `requireConfiguration`, once the caller is authenticated, refuses to go on without a valid
 * configuration, telling that caller why.
 */

/**
 * Before authentication: the loader's credentials. When they cannot be served, every caller gets
 * the same 503 `unavailable`, naming no parameter, path or setting (the log has the cause).
 * Scheduled and manual runs refresh (the loader still honours its backoff) and see the real error.
 */
export function loadConfiguration(loader: ConfigurationLoader): MiddlewareObj {
  return {
    before: async function loadConfigurationBefore(request) {
      const state = stateOf(request);
      const invocation = state.invocation;
      if (invocation === undefined) return;
      try {
        // The schedule and manual runs refresh; requests and queue batches use the cache.
        state.served = await loader.get(invocation.kind === 'scheduled' || invocation.kind === 'action');
      } catch (error) {
        if (invocation.kind !== 'http') throw error;
        throw unavailable(error);
      }
    },
  };
}

const unavailable = (cause: unknown): RelayError =>
  new UnavailableError('The relay is temporarily unavailable; try again later', { code: 'unavailable', cause, logMessage: isRelayError(cause) ? cause.logReason : 'configuration could not be loaded' });

/** After authentication: the valid configuration, or its error for this authenticated caller. */
export function requireConfiguration(): MiddlewareObj {
  return {
    before: function requireConfigurationBefore(request) {
      const state = stateOf(request);
      const config = state.served?.config;
      if (config === undefined) return;
      if (config instanceof Error) throw config;
      state.config = config;
    },
  };
}
