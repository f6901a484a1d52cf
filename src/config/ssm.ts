import type { MiddlewareObj, Request } from '@middy/core';
import { ConfigurationError, UnavailableError, isRelayError } from '../errors.ts';
import type { RelayEnv } from './env.ts';
import { type RawConfigValues, type RelayConfig, configFromSsm } from './relay-config.ts';
import { type GetParametersAnswer, environmentCredentials, getParameters, regionOf } from './ssm-client.ts';

/**
 * Loading secrets and settings from SSM Parameter Store: one `GetParameters` call (decrypted)
 * for the four names, made by the first invocation that needs them and shared by every
 * invocation until `SSM_CACHE_TTL_SECONDS` have passed (or a scheduled run forces a refresh).
 * The {@link RelayConfig} is built once per fetch, not once per request.
 *
 * - Nothing is fetched at import time: a missing parameter or an unreachable SSM becomes a 503
 *   for the request, never a crashed process.
 * - A failed fetch is forgotten at once, so the next request tries again.
 * - The optional settings parameter may be absent; a missing secret parameter fails closed.
 *
 * In Lambda the call goes through `ssm-client.ts` (signed `node:https`, no SDK on the cold
 * path); without credentials in the environment it goes through `@aws-sdk/client-ssm`, loaded
 * on demand, whose provider chain knows profiles, SSO and container roles.
 */

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

/** The container's cached configuration: the fetch in flight or done, and when it started. */
let cached: { startedAt: number; config: Promise<RelayConfig> } | undefined;

/** Forces the next invocation to read SSM again (scheduled refresh, tests). */
export function expireSsmCache(): void {
  cached = undefined;
}

/** `GetParameters` through the AWS SDK: used only when the environment holds no credentials. */
async function getParametersWithSdk(names: readonly string[], timeoutMs: number): Promise<GetParametersAnswer> {
  const { SSMClient, GetParametersCommand } = await import('@aws-sdk/client-ssm');
  sdkClient ??= new SSMClient({
    maxAttempts: 2,
    requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs, throwOnRequestTimeout: true },
  });
  const answer = await sdkClient.send(new GetParametersCommand({ Names: [...names], WithDecryption: true }));
  return {
    Parameters: (answer.Parameters ?? []).flatMap((parameter) =>
      parameter.Name === undefined ? [] : [{ Name: parameter.Name, Type: parameter.Type, Value: parameter.Value }],
    ),
    InvalidParameters: answer.InvalidParameters ?? [],
  };
}
let sdkClient: import('@aws-sdk/client-ssm').SSMClient | undefined;

async function fetchConfig(env: RelayEnv, prefix: string, names: Record<Key, string>, timeoutMs: number): Promise<RelayConfig> {
  const list = KEYS.map((key) => names[key]);
  let answer: GetParametersAnswer;
  try {
    const credentials = environmentCredentials();
    const region = regionOf();
    if (credentials === undefined || region === undefined) answer = await getParametersWithSdk(list, timeoutMs);
    else answer = await getParameters({ names: list, region, credentials, timeoutMs });
  } catch (error) {
    throw new UnavailableError('SSM Parameter Store is unavailable', { code: 'ssm_unavailable', cause: error });
  }

  const byName = new Map(answer.Parameters.map((parameter) => [parameter.Name, parameter.Value]));
  const missing = KEYS.filter((key) => key !== 'settings' && (answer.InvalidParameters.includes(names[key]) || !byName.has(names[key])));
  if (missing.length > 0) {
    throw new ConfigurationError(`SSM parameter not found: ${missing.map((key) => names[key]).join(', ')}`);
  }
  // Values are passed as SSM holds them (text); the settings parser reads the JSON itself.
  const values = Object.fromEntries(KEYS.map((key) => [key, byName.get(names[key])])) as unknown as RawConfigValues;
  return configFromSsm(env, prefix, values);
}

export function ssmConfig(options: SsmConfigOptions): MiddlewareObj[] {
  const { env, prefix } = options;
  const ttlMs = env.SSM_CACHE_TTL_SECONDS * 1000;
  const timeoutMs = options.requestTimeoutMs ?? 1500;
  const names = Object.fromEntries(KEYS.map((key) => [key, `${prefix}/${SSM_PARAMETERS[key]}`])) as Record<Key, string>;

  const load: MiddlewareObj = {
    before: async function loadSsmConfigBefore(request) {
      const now = Date.now();
      if (cached === undefined || now - cached.startedAt >= ttlMs || options.forceRefresh?.(request) === true) {
        const entry = { startedAt: now, config: fetchConfig(env, prefix, names, timeoutMs) };
        cached = entry;
        // Forget a failed fetch at once (only if no newer one replaced it meanwhile).
        entry.config.catch(() => {
          if (cached === entry) cached = undefined;
        });
      }
      let config: RelayConfig;
      try {
        config = await cached.config;
      } catch (error) {
        if (isRelayError(error)) throw error;
        throw new UnavailableError('SSM Parameter Store is unavailable', { code: 'ssm_unavailable', cause: error });
      }
      options.onConfig(request, config);
    },
  };

  return [load];
}
