import { ConfigurationError, isRelayError } from '../errors.ts';
import { type RelayEnv, readEnv } from './env.ts';

export type { RelayConfig } from './relay-config.ts';
export type { RelayEnv } from './env.ts';
export { loaderFor } from './loader.ts';

/** Reads the environment once per container; a bad one becomes a 503 per request, not a crash. */
export function loadEnv(source: Record<string, string | undefined> = process.env): RelayEnv | ConfigurationError {
  try {
    return readEnv(source);
  } catch (error) {
    return isRelayError(error) && error instanceof ConfigurationError ? error : new ConfigurationError('Invalid environment', { cause: error });
  }
}
