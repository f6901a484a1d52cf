import type { MiddlewareObj, Request } from '@middy/core';
import { ConfigurationError, isRelayError } from '../errors.ts';
import { stateOf } from '../http/state.ts';
import { logger } from '../observability.ts';
import { type RelayEnv, readEnv } from './env.ts';
import { type RelayConfig, configFromEnv } from './relay-config.ts';
import { ssmConfig } from './ssm.ts';

export type { RelayConfig } from './relay-config.ts';
export type { RelayEnv } from './env.ts';

/** Reads the environment once per container; a bad one becomes a 503 per request, not a crash. */
export function loadEnv(source: Record<string, string | undefined> = process.env): RelayEnv | ConfigurationError {
  try {
    return readEnv(source);
  } catch (error) {
    return isRelayError(error) && error instanceof ConfigurationError
      ? error
      : new ConfigurationError('Invalid environment', { cause: error });
  }
}

const needsConfig = (request: Request): boolean => stateOf(request).invocation !== undefined;

const warnOnce = (() => {
  const seen = new Set<string>();
  return (warnings: readonly string[]) => {
    for (const warning of warnings) {
      if (seen.has(warning)) continue;
      seen.add(warning);
      logger.warn(warning);
    }
  };
})();

function keep(request: Request, config: RelayConfig): void {
  warnOnce(config.warnings);
  stateOf(request).config = config;
}

/**
 * Middlewares that put the {@link RelayConfig} on the request state: from SSM Parameter Store
 * when `SSM_PREFIX` is set (SPEC §2), else from `PX_*` environment variables.
 */
export function configuration(env: RelayEnv | ConfigurationError): MiddlewareObj[] {
  if (env instanceof ConfigurationError) {
    return [{ before: function invalidEnvironment() { throw env; } }];
  }
  const prefix = env.SSM_PREFIX;
  if (prefix !== undefined) {
    return ssmConfig({
      env,
      prefix,
      onConfig: keep,
      forceRefresh: (request) => stateOf(request).invocation?.kind !== 'http',
    });
  }
  let cached: RelayConfig | undefined;
  return [
    {
      before: function environmentConfig(request) {
        if (!needsConfig(request)) return;
        cached ??= configFromEnv(env);
        keep(request, cached);
      },
    },
  ];
}
