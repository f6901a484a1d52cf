import type { MiddlewareObj, Request } from '@middy/core';
import ssm from '@middy/ssm';
import { clearCache, getCache, modifyCache } from '@middy/util';
import { ConfigurationError, UnavailableError, isRelayError } from '../errors.ts';
import type { RelayEnv } from './env.ts';
import { type RawConfigValues, type RelayConfig, configFromSsm } from './relay-config.ts';

/**
 * Loading secrets and settings from SSM Parameter Store through `@middy/ssm`.
 *
 * Three small middlewares, used in this order:
 * 1. `expire`  — drops middy's cache once `SSM_CACHE_TTL_SECONDS` have passed. middy's own
 *    positive `cacheExpiry` refreshes with a timer that keeps the event loop alive and can reject
 *    with nobody listening, so the cache is kept "forever" and expired lazily here instead.
 * 2. `@middy/ssm` — one `GetParameters` call (WithDecryption) for the four names, no prefetch at
 *    import time (a missing parameter would otherwise crash the process before any request).
 * 3. `resolve` — awaits the values, turns failures into 503s that name the parameter, treats the
 *    optional settings parameter as absent, and builds the {@link RelayConfig}.
 */

const CACHE_KEY = 'gainsight-px-relay-ssm';

/** Parameter names below `SSM_PREFIX` (SPEC §2). */
export const SSM_PARAMETERS = {
  apiKey: 'api-key',
  productKey: 'product-key',
  webhookSecret: 'webhook-secret',
  settings: 'settings',
} as const satisfies Record<keyof RawConfigValues, string>;

type Key = keyof typeof SSM_PARAMETERS;
const KEYS = Object.keys(SSM_PARAMETERS) as Key[];

export interface SsmConfigOptions {
  env: RelayEnv;
  prefix: string;
  /** Called with the resolved config; the handler stores it on the request. */
  onConfig: (request: Request, config: RelayConfig) => void;
  /** True for invocations that must read fresh values (the scheduled refresh). */
  forceRefresh?: (request: Request) => boolean;
  /** How long one SSM call may take before it counts as unavailable. */
  requestTimeoutMs?: number;
}

let fetchedAt = 0;

/** Forces the next invocation to read SSM again (scheduled refresh, tests). */
export function expireSsmCache(): void {
  clearCache([CACHE_KEY]);
  fetchedAt = 0;
}

const isMissingParameter = (reason: unknown): boolean =>
  reason instanceof Error && reason.message.startsWith('InvalidParameter ');

export function ssmConfig(options: SsmConfigOptions): MiddlewareObj[] {
  const { env, prefix } = options;
  const ttlMs = env.SSM_CACHE_TTL_SECONDS * 1000;
  const names = Object.fromEntries(KEYS.map((key) => [key, `${prefix}/${SSM_PARAMETERS[key]}`]));

  const expire: MiddlewareObj = {
    before: function expireSsmCacheBefore(request) {
      const now = Date.now();
      if (fetchedAt === 0 || now - fetchedAt >= ttlMs || options.forceRefresh?.(request) === true) {
        clearCache([CACHE_KEY]);
        fetchedAt = now;
      }
    },
  };

  const fetch = ssm({
    fetchData: names,
    cacheKey: CACHE_KEY,
    cacheExpiry: -1,
    disablePrefetch: true,
    setToContext: false,
    awsClientOptions: {
      maxAttempts: 2,
      requestHandler: {
        connectionTimeout: options.requestTimeoutMs ?? 1500,
        requestTimeout: options.requestTimeoutMs ?? 1500,
        throwOnRequestTimeout: true,
      },
    },
  }) as MiddlewareObj;

  const resolve: MiddlewareObj = {
    before: async function resolveSsmConfigBefore(request) {
      const internal = request.internal as Record<string, unknown>;
      const settled = await Promise.allSettled(KEYS.map((key) => internal[key]));
      const values: Partial<Record<Key, unknown>> = {};
      const missing: string[] = [];
      let unavailable: unknown;
      settled.forEach((outcome, index) => {
        const key = KEYS[index] as Key;
        if (outcome.status === 'fulfilled') values[key] = outcome.value;
        else if (isMissingParameter(outcome.reason)) {
          if (key !== 'settings') missing.push(names[key] as string);
        } else unavailable ??= outcome.reason;
      });

      if (unavailable !== undefined || missing.length > 0) {
        // Read everything again next time: middy only forgets one key of a failed batch.
        expireSsmCache();
        if (unavailable !== undefined) {
          throw new UnavailableError('SSM Parameter Store is unavailable', {
            code: 'ssm_unavailable',
            cause: unavailable,
          });
        }
        throw new ConfigurationError(`SSM parameter not found: ${missing.join(', ')}`);
      }

      if (!Object.hasOwn(values, 'settings')) {
        // The settings parameter is optional. Remember that it is absent, so a container does
        // not ask SSM for it on every request until the cache expires.
        const cached = getCache(CACHE_KEY) as { value?: Record<string, unknown> };
        if (cached.value) modifyCache(CACHE_KEY, { ...cached.value, settings: Promise.resolve(undefined) });
      }

      try {
        options.onConfig(request, configFromSsm(env, prefix, values as RawConfigValues));
      } catch (error) {
        if (isRelayError(error)) expireSsmCache();
        throw error;
      }
    },
  };

  return [expire, fetch, resolve];
}
