import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// The logger and metrics singletons read these when src/observability.ts is imported: one JSON
// line per entry, at every level, so the test can read what an operator would.
vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  process.env.POWERTOOLS_DEV = 'false';
});

import { readEnv } from '../../src/config/env.ts';
import { ConfigurationLoader, type Served, loaderFor } from '../../src/config/loader.ts';
import { type LoadedConfiguration, buildConfiguration, envValues } from '../../src/config/relay-config.ts';
import { ConfigurationError, UnavailableError } from '../../src/errors.ts';
import { METRICS_NAMESPACE, metrics } from '../../src/observability.ts';
import { type Capture, captureOutput, emittedMetrics } from '../support/capture.ts';

const PREFIX = '/gainsight-px-relay/test';
const API_KEY = 'px-key-VALUE-0001';
const PRODUCT_KEY = 'AP-PRODUCT-0001-2';
const SECRET = 'hook-secret-VALUE-0001';
const ROTATED_SECRET = 'hook-secret-VALUE-0002';
const SECRETS = [API_KEY, PRODUCT_KEY, SECRET, ROTATED_SECRET];

const TTL_MS = 300_000;
const HOUR_MS = 3_600_000;

const ENV_SECRETS = { PX_API_KEY: API_KEY, PX_PRODUCT_KEY: PRODUCT_KEY, WEBHOOK_SECRET: SECRET };

/**
 * What the loader builds from SSM under PREFIX. The values are written as the variables of the
 * same meaning (`PX_SETTINGS` for the settings parameter, …); `undefined` removes one.
 */
const loadedFrom = (overrides: Record<string, string | undefined> = {}): LoadedConfiguration => {
  const env = readEnv({ ...ENV_SECRETS, ...overrides });
  return buildConfiguration(env, { kind: 'ssm', prefix: PREFIX }, envValues(env));
};

/** SSM failing as the reader reports it: the SDK error as cause (its message quotes a value). */
const ssmDown = (): UnavailableError =>
  new UnavailableError(`SSM Parameter Store is unavailable (GetParameters ${PREFIX}/api-key, …)`, {
    code: 'ssm_unavailable',
    cause: Object.assign(new Error(`Rate exceeded for ${SECRET}`), {
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 400 },
    }),
  });

/** The configuration cannot be built: the webhook secret is missing, so nobody can be authenticated. */
const secretMissing = (): ConfigurationError => new ConfigurationError(`SSM parameter is missing or empty: ${PREFIX}/webhook-secret`);

let clock = 0;

/** A read whose answer the test sets (`answer`), recording the time of every read. */
const scripted = (first: LoadedConfiguration | Error) => {
  const source = {
    answer: first,
    reads: [] as number[],
    read: async (): Promise<LoadedConfiguration> => {
      source.reads.push(clock);
      if (source.answer instanceof Error) throw source.answer;
      return source.answer;
    },
  };
  return source;
};

const makeLoader = (read: () => Promise<LoadedConfiguration>, random = 0): ConfigurationLoader =>
  new ConfigurationLoader(read, { ttlMs: TTL_MS, now: () => clock, random: () => random });

/** A loader that loaded a good configuration at 0, and whose reads now answer `next`. */
const afterGoodLoad = async (next: LoadedConfiguration | Error) => {
  const source = scripted(loadedFrom());
  const loader = makeLoader(source.read);
  const good = (await getAt(loader, 0)) as Served;
  source.answer = next;
  return { source, loader, good };
};

/** Asks the loader at `at`, swallowing a rejection (the caller would answer 503). */
const getAt = async (loader: ConfigurationLoader, at: number, refresh = false): Promise<Served | Error> => {
  clock = at;
  return loader.get(refresh).catch((error: Error) => error);
};

/** A request every 100 ms from `from` (inclusive) to `to` (exclusive). */
const trafficBetween = async (loader: ConfigurationLoader, from: number, to: number): Promise<void> => {
  for (let at = from; at < to; at += 100) await getAt(loader, at);
};

let capture: Capture;

beforeEach(() => {
  clock = 0;
  capture = captureOutput();
  metrics.publishStoredMetrics(); // start from an empty metrics buffer
  capture.clear();
});

afterEach(() => {
  vi.useRealTimers();
  capture.restore();
});

/** The captured log entries with this message. */
const logged = (message: string) => capture.entries().filter((entry) => entry.message === message);

describe('ConfigurationLoader: the cache', () => {
  it('reuses a good load for its lifetime, with one read', async () => {
    // Prepare
    const source = scripted(loadedFrom());
    const loader = makeLoader(source.read);
    // Act
    const first = await getAt(loader, 0);
    const last = await getAt(loader, TTL_MS - 1);
    // Assess
    expect(source.reads).toEqual([0]);
    expect(last).toBe(first);
    expect(first).toMatchObject({ loadedAt: 0, stale: false, credentials: { webhookSecrets: [SECRET] } });
  });

  it('reads again once the lifetime is over', async () => {
    // Prepare
    const { source, loader } = await afterGoodLoad(loadedFrom({ WEBHOOK_SECRET: ROTATED_SECRET }));
    // Act
    const served = await getAt(loader, TTL_MS);
    // Assess
    expect(source.reads).toEqual([0, TTL_MS]);
    expect(served).toMatchObject({ loadedAt: TTL_MS, stale: false, credentials: { webhookSecrets: [ROTATED_SECRET] } });
  });

  it('shares one read between concurrent requests', async () => {
    // Prepare
    const reads: ((loaded: LoadedConfiguration) => void)[] = [];
    const loader = makeLoader(() => new Promise((resolve) => void reads.push(resolve)));
    // Act
    const pending = [loader.get(), loader.get(), loader.get(true)];
    for (const release of reads) release(loadedFrom());
    const served = await Promise.all(pending);
    // Assess
    expect(reads).toHaveLength(1);
    expect(served[1]).toBe(served[0]);
    expect(served[2]).toBe(served[0]);
  });

  it('shares one failed read between concurrent requests, which all fail with its error', async () => {
    // Prepare
    const reads: ((error: Error) => void)[] = [];
    const loader = makeLoader(() => new Promise((_resolve, reject) => void reads.push(reject)));
    const down = ssmDown();
    // Act
    const pending = [loader.get(), loader.get()].map((promise) => promise.catch((error: unknown) => error));
    for (const fail of reads) fail(down);
    const errors = await Promise.all(pending);
    // Assess
    expect(reads).toHaveLength(1);
    expect(errors).toEqual([down, down]);
  });

  it('reads at once on refresh, ignoring the lifetime', async () => {
    // Prepare
    const { source, loader } = await afterGoodLoad(loadedFrom({ WEBHOOK_SECRET: ROTATED_SECRET }));
    // Act
    const refreshed = await getAt(loader, 1000, true);
    const next = await getAt(loader, 1001);
    // Assess
    expect(source.reads).toEqual([0, 1000]);
    expect(refreshed).toMatchObject({ credentials: { webhookSecrets: [ROTATED_SECRET] } });
    expect(next).toBe(refreshed);
  });

  it('logs the warnings of a load once, however often it is loaded', async () => {
    // Prepare
    const source = scripted(loadedFrom());
    const loader = makeLoader(source.read);
    // Act
    await getAt(loader, 0);
    await getAt(loader, TTL_MS);
    // Assess
    expect(source.reads).toHaveLength(2);
    expect(logged(`${PREFIX}/write-keys is not set: the webhook secrets also serve as tracking-API write keys`)).toHaveLength(1);
  });
});

describe('ConfigurationLoader: backoff after a failed load', () => {
  it('reads after 1 s, 2 s, 4 s, 8 s, 16 s, 30 s: 6 reads in a minute of requests every 100 ms', async () => {
    // Prepare
    const source = scripted(ssmDown());
    const loader = makeLoader(source.read, 0);
    // Act
    await trafficBetween(loader, 0, 60_000);
    // Assess
    expect(source.reads).toEqual([0, 1000, 3000, 7000, 15_000, 31_000]);
  });

  it('waits 1.2 times as long with the most jitter', async () => {
    // Prepare
    const source = scripted(ssmDown());
    const loader = makeLoader(source.read, 1);
    // Act
    await trafficBetween(loader, 0, 60_000);
    // Assess: waits of 1.2 s, 2.4 s, 4.8 s, 9.6 s, 19.2 s; the sixth (38.4 s, capped to 30 s) ends past the minute
    expect(source.reads).toEqual([0, 1200, 3600, 8400, 18_000, 37_200]);
  });

  it('never waits more than 30 s between reads', async () => {
    // Prepare
    const source = scripted(ssmDown());
    const loader = makeLoader(source.read, 0);
    // Act
    await trafficBetween(loader, 0, 150_000);
    // Assess
    expect(source.reads).toEqual([0, 1000, 3000, 7000, 15_000, 31_000, 61_000, 91_000, 121_000]);
  });

  it('never waits more than 30 s between reads with the most jitter either: the jitter is capped too', async () => {
    // Prepare
    const source = scripted(ssmDown());
    const loader = makeLoader(source.read, 1);
    // Act
    await trafficBetween(loader, 0, 200_000);
    // Assess
    expect(source.reads).toEqual([0, 1200, 3600, 8400, 18_000, 37_200, 67_200, 97_200, 127_200, 157_200, 187_200]);
    const waits = source.reads.slice(1).map((at, index) => at - (source.reads[index] as number));
    expect(Math.max(...waits)).toBe(30_000);
    expect(logged('configuration could not be loaded').map((line) => line.nextAttemptInMs)).toEqual([
      1200, 2400, 4800, 9600, 19_200, 30_000, 30_000, 30_000, 30_000, 30_000, 30_000,
    ]);
  });

  it('answers every request in between with the failure, without reading', async () => {
    // Prepare
    const down = ssmDown();
    const source = scripted(down);
    const loader = makeLoader(source.read);
    // Act
    const answers = [await getAt(loader, 0), await getAt(loader, 500), await getAt(loader, 999)];
    // Assess
    expect(answers).toEqual([down, down, down]);
    expect(source.reads).toEqual([0]);
  });

  it('backs off after a configuration error too, whatever the traffic', async () => {
    // Prepare
    const source = scripted(loadedFrom({ PX_SETTINGS: '{not json' }));
    const loader = makeLoader(source.read, 0);
    // Act
    await trafficBetween(loader, 0, 8000);
    // Assess
    expect(source.reads).toEqual([0, 1000, 3000, 7000]);
  });

  it('starts again from 1 s after a good load', async () => {
    // Prepare
    const source = scripted(ssmDown());
    const loader = makeLoader(source.read, 0);
    await trafficBetween(loader, 0, 3100); // fails at 0, 1000, 3000
    source.answer = loadedFrom();
    await getAt(loader, 7000); // good
    source.answer = ssmDown();
    // Act
    await trafficBetween(loader, 7000 + TTL_MS, 7000 + TTL_MS + 3100);
    // Assess
    expect(source.reads).toEqual([0, 1000, 3000, 7000, 7000 + TTL_MS, 8000 + TTL_MS, 10_000 + TTL_MS]);
  });

  it('honours the backoff on refresh', async () => {
    // Prepare
    const { source, loader, good } = await afterGoodLoad(ssmDown());
    // Act
    const failed = await getAt(loader, 1000, true);
    const during = await getAt(loader, 1500, true);
    const after = await getAt(loader, 2000, true);
    // Assess
    expect(source.reads).toEqual([0, 1000, 2000]);
    // Within the lifetime, the good load keeps serving, not stale.
    expect([failed, during, after]).toEqual([good, good, good]);
  });

  it('logs each failed load with its cause and the next attempt, never a value', async () => {
    // Prepare
    const source = scripted(ssmDown());
    const loader = makeLoader(source.read, 0);
    // Act
    await trafficBetween(loader, 0, 1100);
    // Assess
    const lines = logged('configuration could not be loaded');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 'ERROR',
      code: 'ssm_unavailable',
      reason: `SSM Parameter Store is unavailable (GetParameters ${PREFIX}/api-key, …)`,
      cause: { name: 'ThrottlingException', httpStatus: 400 },
      consecutiveFailures: 1,
      nextAttemptInMs: 1000,
    });
    expect(lines[1]).toMatchObject({ consecutiveFailures: 2, nextAttemptInMs: 2000 });
    const output = capture.texts.join('\n');
    for (const value of SECRETS) expect(output).not.toContain(value);
    expect(output).not.toContain('Rate exceeded');
  });

  it('logs a configuration error with the parameter it names', async () => {
    // Prepare
    const source = scripted(secretMissing());
    const loader = makeLoader(source.read);
    // Act
    await getAt(loader, 0);
    // Assess
    expect(logged('configuration could not be loaded')).toEqual([
      expect.objectContaining({ code: 'configuration_error', reason: `SSM parameter is missing or empty: ${PREFIX}/webhook-secret`, consecutiveFailures: 1 }),
    ]);
  });
});

describe('ConfigurationLoader: serving the last good load while SSM cannot be read', () => {
  it('serves it stale past its lifetime, with a warning and a ConfigurationStale metric', async () => {
    // Prepare
    const { source, loader, good } = await afterGoodLoad(ssmDown());
    // Act
    const served = await getAt(loader, TTL_MS);
    // Assess
    expect(source.reads).toEqual([0, TTL_MS]);
    expect(good).toMatchObject({ loadedAt: 0, stale: false });
    expect(served).toEqual({ ...good, loadedAt: 0, stale: true });
    expect(logged('serving the last good configuration past its lifetime while SSM cannot be read')).toEqual([
      expect.objectContaining({ level: 'WARN', loadedAt: new Date(0).toISOString() }),
    ]);
    metrics.publishStoredMetrics();
    expect(emittedMetrics(capture.entries(), METRICS_NAMESPACE).filter((metric) => metric.name === 'ConfigurationStale')).toEqual([
      expect.objectContaining({ value: 1 }),
    ]);
  });

  it('serves it stale until one hour past its lifetime, then fails', async () => {
    // Prepare
    const down = ssmDown();
    const { loader } = await afterGoodLoad(down);
    // Act
    const lastStale = await getAt(loader, TTL_MS + HOUR_MS - 1);
    const expired = await getAt(loader, TTL_MS + HOUR_MS);
    // Assess
    expect(lastStale).toMatchObject({ stale: true, credentials: { webhookSecrets: [SECRET] } });
    expect(expired).toBe(down);
  });

  it('serves it stale between reads too, while the backoff runs', async () => {
    // Prepare
    const { source, loader } = await afterGoodLoad(ssmDown());
    await getAt(loader, TTL_MS);
    // Act
    const between = await getAt(loader, TTL_MS + 500);
    // Assess
    expect(source.reads).toEqual([0, TTL_MS]);
    expect(between).toMatchObject({ stale: true });
  });

  it('stops serving it stale as soon as a read succeeds', async () => {
    // Prepare
    const { source, loader } = await afterGoodLoad(ssmDown());
    await getAt(loader, TTL_MS);
    source.answer = loadedFrom({ WEBHOOK_SECRET: ROTATED_SECRET });
    // Act
    const served = await getAt(loader, TTL_MS + 1000);
    // Assess
    expect(served).toMatchObject({ loadedAt: TTL_MS + 1000, stale: false, credentials: { webhookSecrets: [ROTATED_SECRET] } });
  });

  it('has nothing to serve when no load ever succeeded', async () => {
    // Prepare
    const down = ssmDown();
    const loader = makeLoader(scripted(down).read);
    // Act
    const answer = await getAt(loader, 0);
    // Assess
    expect(answer).toBe(down);
  });
});

describe('ConfigurationLoader: configuration errors are not served stale', () => {
  it.each([
    ['the settings are invalid', { PX_SETTINGS: '{not json' }, 'Settings are not valid JSON'],
    ['a parameter is missing', { PX_API_KEY: undefined }, `SSM parameter is missing or empty: ${PREFIX}/api-key`],
  ])('serves the new credentials with the error as configuration when %s', async (_label, overrides, message) => {
    // Prepare
    const { loader } = await afterGoodLoad(loadedFrom({ ...overrides, WEBHOOK_SECRET: ROTATED_SECRET }));
    // Act
    const served = await getAt(loader, TTL_MS);
    // Assess
    expect(served).toMatchObject({ stale: false, credentials: { webhookSecrets: [ROTATED_SECRET] } });
    const config = (served as Served).config;
    expect(config).toBeInstanceOf(ConfigurationError);
    expect((config as ConfigurationError).message).toBe(message);
  });

  it('serves the same failed load during the backoff', async () => {
    // Prepare
    const failed = loadedFrom({ PX_SETTINGS: '{not json' });
    const source = scripted(failed);
    const loader = makeLoader(source.read);
    // Act
    const first = await getAt(loader, 0);
    const between = await getAt(loader, 500);
    // Assess
    expect(source.reads).toEqual([0]);
    // loadedAt: when the read was made, not when it was served again
    expect(first).toEqual({ ...failed, loadedAt: 0, stale: false });
    expect(between).toEqual({ ...failed, loadedAt: 0, stale: false });
  });

  it('fails without credentials, even with a good load behind it, when the webhook secret is missing', async () => {
    // Prepare
    const missing = secretMissing();
    const { loader } = await afterGoodLoad(missing);
    // Act
    const answer = await getAt(loader, TTL_MS);
    // Assess
    expect(answer).toBe(missing);
  });
});

describe('loaderFor', () => {
  it('fails closed in a deployed function without SSM_PREFIX, on every request, ignoring the env secrets', async () => {
    // Prepare
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(0);
    const loader = loaderFor(readEnv({ ...ENV_SECRETS, AWS_LAMBDA_FUNCTION_NAME: 'gainsight-px-relay-prod-relay' }));
    const answers: unknown[] = [];
    // Act: a first load, a request during the backoff, and a load after it
    answers.push(await loader.get().catch((error: unknown) => error));
    answers.push(await loader.get(true).catch((error: unknown) => error));
    vi.setSystemTime(5000);
    answers.push(await loader.get().catch((error: unknown) => error));
    // Assess
    expect(answers).toHaveLength(3);
    expect(logged('configuration could not be loaded').map((line) => line.consecutiveFailures)).toEqual([1, 2]);
    for (const answer of answers) {
      expect(answer).toBeInstanceOf(ConfigurationError);
      expect((answer as ConfigurationError).message).toContain('SSM_PREFIX');
    }
    const output = `${capture.texts.join('\n')} ${answers.map(String).join(' ')}`;
    for (const value of SECRETS) expect(output).not.toContain(value);
  });

  it.each([
    ['under serverless-offline', { AWS_LAMBDA_FUNCTION_NAME: 'gainsight-px-relay-local-relay', IS_OFFLINE: 'true' }],
    ['outside Lambda (tests, the CLI)', {}],
  ])('uses the env values %s', async (_label, where: Record<string, string>) => {
    // Prepare
    const loader = loaderFor(readEnv({ ...ENV_SECRETS, ...where }));
    // Act
    const served = await loader.get();
    // Assess
    expect(served.stale).toBe(false);
    expect(served.credentials.webhookSecrets).toEqual([SECRET]);
    expect(served.config).toMatchObject({ apiKey: API_KEY, productKey: PRODUCT_KEY, dryRun: false });
  });

  it('builds the env configuration once', async () => {
    // Prepare
    const loader = loaderFor(readEnv(ENV_SECRETS));
    // Act
    const first = await loader.get();
    const second = await loader.get(true);
    // Assess
    expect(second.config).toBe(first.config);
  });

  it('fails every request with the error of an invalid environment', async () => {
    // Prepare
    const invalid = new ConfigurationError('Invalid environment: DRY_RUN: expected true or false');
    const loader = loaderFor(invalid);
    // Act
    const answers = [await loader.get().catch((error: unknown) => error), await loader.get().catch((error: unknown) => error)];
    // Assess
    expect(answers).toEqual([invalid, invalid]);
  });
});
