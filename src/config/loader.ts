import { ConfigurationError, type RelayError, UnavailableError, isRelayError } from '../errors.ts';
import { count, logger } from '../observability.ts';
import { type RelayEnv, isDeployed } from './env.ts';
import { type LoadedConfiguration, buildConfiguration, envValues } from './relay-config.ts';
import { describeSsmFailure, ssmReader } from './ssm.ts';

/**
 * When to load the configuration, and what to serve meanwhile (docs/http-contract.md, docs/configuration.md) — decided here only:
 * - a good load is reused for `SSM_CACHE_TTL_SECONDS`;
 * - after a failed load (SSM failing, a parameter missing, settings invalid) the next attempt
 *   waits 1 s, doubling with each consecutive failure, plus up to 20 % jitter, never more than
 *   30 s, whoever asks and however often: unauthenticated traffic cannot drive SSM calls;
 * - while SSM cannot be read, the last good load keeps serving for up to an hour past its
 *   lifetime, with a warning per failed attempt and a `ConfigurationStale` metric per use;
 * - every failed load logs its cause (error name and code, parameter names; never a value).
 */

export interface LoaderOptions {
  ttlMs: number;
  /** How long past its lifetime a good load may serve while refreshes fail. */
  staleMs?: number;
  now?: () => number;
  random?: () => number;
}

/** What a request gets: the configuration, when it was read, and whether past its lifetime. */
export type Served = LoadedConfiguration & { loadedAt: number; stale: boolean };

const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
const STALE_MS = 60 * 60 * 1000;

interface Failure {
  error: RelayError;
  /** Set when the credentials loaded but the rest did not: authenticated callers learn why. */
  loaded?: LoadedConfiguration;
  /** When the failed read ended, and when the next may start (epoch ms). */
  at: number;
  retryAt: number;
  count: number;
}

export class ConfigurationLoader {
  readonly #read: () => Promise<LoadedConfiguration>;
  readonly #ttlMs: number;
  readonly #staleMs: number;
  readonly #now: () => number;
  readonly #random: () => number;
  #good: { loaded: LoadedConfiguration; at: number; served: Served } | undefined;
  #failure: Failure | undefined;
  #inflight: Promise<Served> | undefined;
  readonly #warned = new Set<string>();

  constructor(read: () => Promise<LoadedConfiguration>, options: LoaderOptions) {
    this.#read = read;
    this.#ttlMs = options.ttlMs;
    this.#staleMs = options.staleMs ?? STALE_MS;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /**
   * The configuration for one invocation. `refresh` (the scheduled run) ignores the cache
   * lifetime, never the backoff.
   *
   * @throws RelayError when no credentials can be served: the caller answers 503 `unavailable`.
   */
  async get(refresh = false): Promise<Served> {
    const now = this.#now();
    if (this.#good && !refresh && now < this.#good.at + this.#ttlMs && this.#failure === undefined) {
      return this.#good.served;
    }
    if (this.#failure && now < this.#failure.retryAt) return this.#fallback(now);
    this.#inflight ??= this.#attempt().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #attempt(): Promise<Served> {
    let loaded: LoadedConfiguration | undefined;
    let error: RelayError;
    count('ConfigurationLoads');
    try {
      loaded = await this.#read();
      if (!(loaded.config instanceof ConfigurationError)) {
        const at = this.#now();
        const served = { ...loaded, loadedAt: at, stale: false };
        this.#good = { loaded, at, served };
        this.#failure = undefined;
        this.#warn(loaded.warnings);
        return served;
      }
      error = loaded.config;
    } catch (thrown) {
      error = isRelayError(thrown) ? thrown : new ConfigurationError('Configuration could not be loaded', { cause: thrown });
    }
    const failures = (this.#failure?.count ?? 0) + 1;
    const waitMs = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (failures - 1) * (1 + 0.2 * this.#random()));
    const now = this.#now();
    this.#failure = { error, ...(loaded ? { loaded } : {}), at: now, retryAt: now + waitMs, count: failures };
    logger.error('configuration could not be loaded', {
      code: error.code,
      reason: error.logReason,
      ...(error instanceof UnavailableError && error.cause !== undefined ? { cause: describeSsmFailure(error.cause) } : {}),
      consecutiveFailures: failures,
      nextAttemptInMs: Math.round(waitMs),
    });
    count('ConfigurationLoadFailures');
    const served = this.#fallback(now);
    if (served.stale) {
      logger.warn('serving the last good configuration past its lifetime while SSM cannot be read', {
        loadedAt: new Date((this.#good as { at: number }).at).toISOString(),
      });
    }
    return served;
  }

  /** While loads fail: the last good load if SSM is only unreachable, else the failure. */
  #fallback(now: number): Served {
    const failure = this.#failure as Failure;
    const good = this.#good;
    if (failure.error instanceof UnavailableError && good && now < good.at + this.#ttlMs + this.#staleMs) {
      if (now < good.at + this.#ttlMs) return good.served;
      count('ConfigurationStale');
      return { ...good.served, stale: true };
    }
    if (failure.loaded) return { ...failure.loaded, loadedAt: failure.at, stale: false };
    throw failure.error;
  }

  #warn(warnings: readonly string[]): void {
    for (const warning of warnings) {
      if (this.#warned.has(warning)) continue;
      this.#warned.add(warning);
      logger.warn(warning);
    }
  }
}

/**
 * The loader for this process's environment: SSM under `SSM_PREFIX`; else, outside a deployed
 * function, the `PX_*` variables; a deployed function without `SSM_PREFIX` fails closed.
 */
export function loaderFor(env: RelayEnv | ConfigurationError): ConfigurationLoader {
  if (env instanceof ConfigurationError) {
    return new ConfigurationLoader(async () => {
      throw env;
    }, { ttlMs: 0 });
  }
  const ttlMs = env.SSM_CACHE_TTL_SECONDS * 1000;
  const prefix = env.SSM_PREFIX;
  if (prefix !== undefined) {
    const read = ssmReader(prefix);
    return new ConfigurationLoader(async () => buildConfiguration(env, { kind: 'ssm', prefix }, await read()), { ttlMs });
  }
  if (isDeployed(env)) {
    return new ConfigurationLoader(async () => {
      throw new ConfigurationError('SSM_PREFIX is not set: a deployed function takes its secrets from SSM only, so every event is refused');
    }, { ttlMs });
  }
  // The environment does not change while the process runs: build once.
  const loaded = buildConfiguration(env, { kind: 'env' }, envValues(env));
  return new ConfigurationLoader(async () => loaded, { ttlMs: Number.POSITIVE_INFINITY });
}
