import type { Request } from '@middy/core';
import ssm from '@middy/ssm';
import { clearCache } from '@middy/util';
import { UnavailableError } from '../errors.ts';
import { type ConfigSource, type RawConfigValues, VALUE_KEYS, nameOf } from './relay-config.ts';

/**
 * Reading the secrets and settings from SSM Parameter Store with `@middy/ssm`: one
 * `GetParameters` call (WithDecryption) for the five names, no prefetch at import time (a
 * missing parameter would otherwise crash the process before any request). When to read — the
 * cache lifetime, the backoff after a failure, serving the last good values — is the loader's
 * decision (`loader.ts`), so middy's own cache is cleared before every read it asks for.
 */

const CACHE_KEY = 'gainsight-px-relay-ssm';

const KEYS = VALUE_KEYS;


/** Why SSM could not be read, for the log: the SDK error's name and code, never a value. */
export interface SsmFailure {
  name: string;
  code?: string;
  httpStatus?: number;
}

export function describeSsmFailure(error: unknown): SsmFailure {
  const known = error as { name?: unknown; code?: unknown; Code?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
  const name = typeof known?.name === 'string' ? known.name : 'Error';
  const code = typeof known?.code === 'string' ? known.code : typeof known?.Code === 'string' ? known.Code : undefined;
  const httpStatus = typeof known?.$metadata?.httpStatusCode === 'number' ? known.$metadata.httpStatusCode : undefined;
  return { name, ...(code === undefined ? {} : { code }), ...(httpStatus === undefined ? {} : { httpStatus }) };
}

const isMissingParameter = (reason: unknown): boolean => reason instanceof Error && reason.message.startsWith('InvalidParameter ');

/**
 * A reader of the parameters under `prefix`.
 *
 * @returns a function that reads them once; a parameter that does not exist is `undefined`. It
 * throws {@link UnavailableError} (code `ssm_unavailable`, the SDK error as `cause`) when SSM
 * cannot be read.
 */
export function ssmReader(prefix: string, requestTimeoutMs = 1500, giveUpMs = 2 * requestTimeoutMs + 500): () => Promise<RawConfigValues> {
  const source: ConfigSource = { kind: 'ssm', prefix };
  const names = Object.fromEntries(KEYS.map((key) => [key, nameOf(source, key)])) as Record<(typeof KEYS)[number], string>;
  const fetcher = ssm({
    fetchData: names,
    cacheKey: CACHE_KEY,
    cacheExpiry: -1,
    disablePrefetch: true,
    setToContext: false,
    awsClientOptions: {
      maxAttempts: 2,
      requestHandler: { connectionTimeout: requestTimeoutMs, requestTimeout: requestTimeoutMs, throwOnRequestTimeout: true },
    },
  });

  const unavailable = (cause: unknown) =>
    new UnavailableError(`SSM Parameter Store is unavailable (GetParameters ${Object.values(names).join(', ')})`, { code: 'ssm_unavailable', cause });

  const fetchAll = async (): Promise<PromiseSettledResult<unknown>[]> => {
    const request = { event: {}, context: {}, response: undefined, error: undefined, internal: {} } as unknown as Request;
    await (fetcher.before as (request: Request) => Promise<void>)(request);
    const internal = request.internal as Record<string, unknown>;
    return Promise.allSettled(KEYS.map((key) => internal[key]));
  };

  return async function readSsm(): Promise<RawConfigValues> {
    clearCache([CACHE_KEY]);
    // The SDK comes from the Lambda runtime, whose version is not ours: where its HTTP handler
    // ignores throwOnRequestTimeout, a hung call would not end. This bound always does.
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`GetParameters did not answer within ${giveUpMs} ms`)), giveUpMs);
    });
    let settled: PromiseSettledResult<unknown>[];
    try {
      settled = await Promise.race([fetchAll(), gaveUp]);
    } catch (error) {
      throw unavailable(error);
    } finally {
      clearTimeout(timer);
      clearCache([CACHE_KEY]);
    }
    // A parameter that does not exist stays undefined: the builder decides what is required.
    const values: Partial<RawConfigValues> = {};
    for (const [index, outcome] of settled.entries()) {
      const key = KEYS[index] as (typeof KEYS)[number];
      if (outcome.status === 'fulfilled') values[key] = outcome.value;
      else if (!isMissingParameter(outcome.reason)) throw unavailable(outcome.reason);
    }
    return values as RawConfigValues;
  };
}
