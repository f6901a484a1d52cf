import { Buffer } from 'node:buffer';
import { createHash, createHmac } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Capture, captureOutput, emittedMetrics, saveEnv } from '../support/capture.ts';
import { type FakeGainsight, startFakeGainsight } from '../support/fake-gainsight.ts';
import { type FakeSsm, startFakeSsm } from '../support/fake-ssm.ts';
import { type Handler, type HttpAnswer, awsTestEnv, call, httpApiEvent, loadHandler } from '../support/lambda.ts';

/**
 * Issue 12, security defects of the request path, each proved fixed through the real handler
 * (handler.ts, re-imported per environment) against the loopback fakes of Gainsight PX and SSM
 * (real @aws-sdk/client-ssm through @middy/ssm). docs/security.md: authentication comes first, /health,
 * write keys, fail closed, stale configuration, https base URL, keyed user hash.
 *
 * The logger and the metrics run as in Lambda (JSON lines and EMF on stdout, captured), so the
 * tests can read what an operator would see.
 */

const PREFIX = '/gainsight-px-relay/request-path';
const SECRET = 'rp-webhook-secret-SENTINEL-1c9e';
const WRITE_KEY = 'rp-write-key-SENTINEL-7ab2';
const PRODUCT_KEY = 'AP-REQUEST-PATH-1';
const NAMESPACE = 'GainsightPxRelay';
const TIME = '2024-05-06T07:08:09.010Z';

/** What every caller gets while the secrets cannot be loaded (docs/security.md): it names nothing. */
const GENERIC_UNAVAILABLE = { error: { code: 'unavailable', message: 'The relay is temporarily unavailable; try again later' } };

const OUTPUT_ENV = { POWERTOOLS_DEV: 'false', POWERTOOLS_LOG_LEVEL: 'INFO', POWERTOOLS_METRICS_DISABLED: 'false' };
const restoreOutputEnv = saveEnv(Object.keys(OUTPUT_ENV));

let px: FakeGainsight;
let ssm: FakeSsm;
let capture: Capture;

type Json = Record<string, any>;

const basic = (key: string): string => `Basic ${Buffer.from(`${key}:`, 'utf8').toString('base64')}`;
const track = (messageId: string, userId = 'u-track') => ({ type: 'track', messageId, userId, event: 'Report Exported', properties: { format: 'csv' }, timestamp: TIME });

const logLines = (): Json[] => capture.entries().filter((entry) => typeof entry.message === 'string' && typeof entry.level === 'string');
const linesWith = (message: string): Json[] => logLines().filter((entry) => entry.message === message);
const output = (): string => capture.texts.join('\n');
const metricNames = (): string[] => emittedMetrics(capture.entries(), NAMESPACE).map((metric) => metric.name);

/** SSM parameters of a complete deployment; `omit` leaves some out, `extra` adds or replaces. */
function seedSsm(options: { omit?: string[]; extra?: Record<string, string> } = {}): void {
  const parameters: Record<string, [string, 'String' | 'SecureString']> = {
    'api-key': [px.apiKey, 'SecureString'],
    'product-key': [PRODUCT_KEY, 'String'],
    'webhook-secret': [SECRET, 'SecureString'],
  };
  for (const [name, value] of Object.entries(options.extra ?? {})) parameters[name] = [value, name === 'settings' || name === 'product-key' ? 'String' : 'SecureString'];
  for (const [name, [value, type]] of Object.entries(parameters)) {
    if (!options.omit?.includes(name)) ssm.setParameter(`${PREFIX}/${name}`, value, type);
  }
}

/** The handler of a function reading SSM under PREFIX. */
const ssmRelay = (env: Record<string, string | undefined> = {}): Promise<Handler> =>
  loadHandler({ ...awsTestEnv(ssm.endpoint), SSM_PREFIX: PREFIX, GAINSIGHT_PX_BASE_URL: px.baseUrl, ...env });

/** The handler configured from the environment (npm start, tests): no SSM. */
const envRelay = (env: Record<string, string | undefined> = {}): Promise<Handler> =>
  loadHandler({ PX_API_KEY: px.apiKey, PX_PRODUCT_KEY: PRODUCT_KEY, WEBHOOK_SECRET: SECRET, GAINSIGHT_PX_BASE_URL: px.baseUrl, ...env });

const postEvents = (handler: Handler, body: unknown, secret: string | null = SECRET, headers: Record<string, string> = {}): Promise<HttpAnswer> =>
  call(handler, httpApiEvent({ secret, body, headers }));

const postTracking = (handler: Handler, path: string, body: unknown, headers: Record<string, string> = {}, rawBody?: string): Promise<HttpAnswer> =>
  call(handler, httpApiEvent({ path, secret: null, headers, ...(rawBody === undefined ? { body } : { rawBody }) }));

/** `GET /health?deep=1` (httpApiEvent builds no query string). */
const deepHealth = (handler: Handler, secret: string | null): Promise<HttpAnswer> =>
  call(handler, { ...httpApiEvent({ method: 'GET', path: '/health', secret }), rawQueryString: 'deep=1' });

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  Object.assign(process.env, OUTPUT_ENV);
  px = await startFakeGainsight();
});
afterAll(async () => {
  restoreOutputEnv();
  await px.close();
});
beforeEach(async () => {
  px.reset();
  ssm = await startFakeSsm();
  capture = captureOutput();
});
afterEach(async () => {
  capture.restore();
  vi.restoreAllMocks();
  await ssm.close();
});

describe('Defect "an open endpoint by misconfiguration": a deployed function without SSM_PREFIX fails closed', () => {
  const deployedEnv = (ssmPrefix: string | undefined) => ({
    AWS_LAMBDA_FUNCTION_NAME: 'gainsight-px-relay-prod-relay',
    SSM_PREFIX: ssmPrefix,
    PX_API_KEY: px.apiKey,
    PX_PRODUCT_KEY: PRODUCT_KEY,
    WEBHOOK_SECRET: SECRET,
    DRY_RUN: 'true',
    GAINSIGHT_PX_BASE_URL: px.baseUrl,
  });

  for (const [label, prefix] of [
    ['blank', ''],
    ['unset', undefined],
  ] as const) {
    it(`answers every POST /events 503 unavailable naming nothing, with or without a bearer, when SSM_PREFIX is ${label}`, async () => {
      const handler = await loadHandler(deployedEnv(prefix));

      const answers = [
        await postEvents(handler, track('fc-none'), null),
        await postEvents(handler, track('fc-wrong'), 'not-the-secret'),
        await postEvents(handler, track('fc-env-secret'), SECRET),
        await postEvents(handler, [track('fc-batch-1'), track('fc-batch-2')], SECRET),
      ];

      for (const answer of answers) {
        expect(answer.status).toBe(503);
        expect(answer.body).toEqual(GENERIC_UNAVAILABLE);
        expect(answer.text).not.toMatch(/SSM|PREFIX|WEBHOOK|PX_|api-key|parameter/i);
      }
      expect(px.requests).toEqual([]);
      expect(ssm.calls).toEqual([]);
    });
  }

  it('logs why it refuses: SSM_PREFIX is not set', async () => {
    const handler = await loadHandler(deployedEnv(''));

    await postEvents(handler, track('fc-log'), SECRET);

    const [line] = linesWith('configuration could not be loaded');
    expect(line).toMatchObject({ level: 'ERROR', code: 'configuration_error' });
    expect(String(line?.reason)).toContain('SSM_PREFIX');
    expect(output()).not.toContain(SECRET);
  });

  it('still fails closed with IS_OFFLINE=false: only a true IS_OFFLINE means serverless-offline', async () => {
    const handler = await loadHandler({ ...deployedEnv(''), IS_OFFLINE: 'false', DRY_RUN: undefined });

    const withSecret = await postEvents(handler, track('fc-offline-false'), SECRET);
    const anonymous = await postEvents(handler, track('fc-offline-false-anon'), null);

    for (const answer of [withSecret, anonymous]) {
      expect(answer.status).toBe(503);
      expect(answer.body).toEqual(GENERIC_UNAVAILABLE);
    }
    const [line] = linesWith('configuration could not be loaded');
    expect(line).toMatchObject({ level: 'ERROR', code: 'configuration_error' });
    expect(String(line?.reason)).toContain('SSM_PREFIX');
    expect(px.requests).toEqual([]);
    expect(ssm.calls).toEqual([]);
    expect(output()).not.toContain(SECRET);
  });

  it('uses the env configuration under serverless-offline (IS_OFFLINE set), as npm start does', async () => {
    const handler = await loadHandler({ ...deployedEnv(''), IS_OFFLINE: 'true', DRY_RUN: undefined });

    const delivered = await postEvents(handler, track('fc-offline'), SECRET);
    const refused = await postEvents(handler, track('fc-offline-anon'), null);

    expect(delivered.status).toBe(200);
    expect(delivered.body.results).toEqual([{ messageId: 'fc-offline', type: 'track', status: 'delivered', calls: 1, attempts: 1 }]);
    expect(px.calls()).toEqual(['POST /events/custom']);
    expect(refused.status).toBe(401);
  });

  it('still requires the SSM secrets in a dry run, never the env ones', async () => {
    seedSsm({ omit: ['api-key', 'product-key'] });
    const handler = await ssmRelay({
      AWS_LAMBDA_FUNCTION_NAME: 'gainsight-px-relay-prod-relay',
      DRY_RUN: 'true',
      PX_API_KEY: px.apiKey,
      PX_PRODUCT_KEY: PRODUCT_KEY,
      WEBHOOK_SECRET: 'env-secret-never-used',
    });

    const envSecret = await postEvents(handler, track('fc-dry-env'), 'env-secret-never-used');
    const ssmSecret = await postEvents(handler, track('fc-dry-ssm'), SECRET);

    expect(envSecret.status).toBe(401);
    expect(ssmSecret.status).toBe(503);
    expect(ssmSecret.body.error.code).toBe('configuration_error');
    expect(ssmSecret.body.error.message).toContain(`${PREFIX}/api-key`);
    expect(ssmSecret.body.error.message).toContain(`${PREFIX}/product-key`);
    expect(px.requests).toEqual([]);
  });
});

describe('Defect "configuration before authentication": unauthenticated callers learn nothing and cannot drive SSM', () => {
  const INVALID_SETTINGS = JSON.stringify({ dataCenter: 'MARS' });

  it('answers an unauthenticated request 401 without any settings detail', async () => {
    seedSsm({ extra: { settings: INVALID_SETTINGS } });
    const handler = await ssmRelay();

    const missing = await postEvents(handler, track('cf-anon'), null);
    const wrong = await postEvents(handler, track('cf-wrong'), 'guess');

    for (const answer of [missing, wrong]) {
      expect(answer.status).toBe(401);
      expect(answer.body.error.code).toBe('unauthorized');
      expect(answer.text).not.toMatch(/settings|dataCenter|MARS|configuration|request-path/i);
    }
    expect(px.requests).toEqual([]);
  });

  it('tells an authenticated caller the configuration error, naming the setting', async () => {
    seedSsm({ extra: { settings: INVALID_SETTINGS } });
    const handler = await ssmRelay();

    const answer = await postEvents(handler, track('cf-auth'), SECRET);

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('configuration_error');
    expect(answer.body.error.message).toMatch(/^Invalid settings: dataCenter/);
    expect(px.requests).toEqual([]);
  });

  it('reads SSM once for 20 unauthenticated requests while the settings are invalid', async () => {
    seedSsm({ extra: { settings: INVALID_SETTINGS } });
    const handler = await ssmRelay();

    const statuses: number[] = [];
    for (let index = 0; index < 20; index += 1) {
      statuses.push((await postEvents(handler, track(`cf-flood-${index}`), index % 2 === 0 ? null : 'guess')).status);
    }

    expect(statuses).toEqual(Array(20).fill(401));
    expect(ssm.calls).toHaveLength(1);
    expect(ssm.calls[0]?.target).toBe('AmazonSSM.GetParameters');
  });

  it('answers everyone 503 unavailable, naming nothing, while the webhook-secret parameter is missing', async () => {
    seedSsm({ omit: ['webhook-secret'] });
    const handler = await ssmRelay();

    const anonymous = await postEvents(handler, track('cf-nosecret-anon'), null);
    const bearer = await postEvents(handler, track('cf-nosecret-bearer'), SECRET);

    for (const answer of [anonymous, bearer]) {
      expect(answer.status).toBe(503);
      expect(answer.body).toEqual(GENERIC_UNAVAILABLE);
    }
    expect(px.requests).toEqual([]);
  });
});

describe('Defect "configuration before authentication": a tracking-API body is 401 until its writeKey is verified', () => {
  const oneTrack = { batch: [{ type: 'track', messageId: 'tk-1', userId: 'u-tk', event: 'Exported', timestamp: TIME }] };
  const tooLarge = JSON.stringify({ writeKey: WRITE_KEY, ...oneTrack, padding: 'x'.repeat(600 * 1024) });
  const cases: { name: string; rawBody: string; headers?: Record<string, string>; withKey: { status: number; code: string } }[] = [
    { name: 'malformed JSON', rawBody: `{"writeKey":"${WRITE_KEY}","batch":[`, withKey: { status: 400, code: 'malformed_json' } },
    {
      name: 'a body that is not gzip although labelled so',
      rawBody: `{"writeKey":"${WRITE_KEY}"} not gzip`,
      headers: { 'content-encoding': 'gzip' },
      withKey: { status: 400, code: 'malformed_gzip' },
    },
    { name: 'a body over 512 KiB', rawBody: tooLarge, withKey: { status: 413, code: 'payload_too_large' } },
    { name: 'a JSON array instead of an object', rawBody: JSON.stringify([{ writeKey: WRITE_KEY, ...oneTrack }]), withKey: { status: 400, code: 'invalid_body' } },
  ];

  for (const { name, rawBody, headers, withKey } of cases) {
    it(`answers ${name} 401 without an Authorization header, ${withKey.status} with a valid Basic write key`, async () => {
      const handler = await envRelay({ WRITE_KEYS: WRITE_KEY });

      const anonymous = await postTracking(handler, '/v1/batch', undefined, headers ?? {}, rawBody);
      const authenticated = await postTracking(handler, '/v1/batch', undefined, { ...headers, authorization: basic(WRITE_KEY) }, rawBody);

      expect(anonymous.status).toBe(401);
      expect(anonymous.body.error.code).toBe('unauthorized');
      expect(authenticated.status).toBe(withKey.status);
      expect(authenticated.body.error.code).toBe(withKey.code);
      expect(px.requests).toEqual([]);
    });
  }

  it('accepts a well-formed body whose writeKey is a write key (gzipped too)', async () => {
    const handler = await envRelay({ WRITE_KEYS: WRITE_KEY });
    const gzipped = gzipSync(Buffer.from(JSON.stringify({ writeKey: WRITE_KEY, ...oneTrack }))).toString('base64');

    const plain = await postTracking(handler, '/v1/batch', { writeKey: WRITE_KEY, ...oneTrack });
    const compressed = await call(
      handler,
      { ...httpApiEvent({ path: '/v1/batch', secret: null, headers: { 'content-encoding': 'gzip' } }), body: gzipped, isBase64Encoded: true },
    );

    expect(plain.status).toBe(200);
    expect(plain.body.results).toEqual([{ messageId: 'tk-1', type: 'track', status: 'delivered', calls: 1, attempts: 1 }]);
    // The same event again: delivered already, answered without a second call.
    expect(compressed.status).toBe(200);
    expect(compressed.body.results).toEqual([{ messageId: 'tk-1', type: 'track', status: 'delivered', calls: 0, attempts: 0, duplicate: true }]);
    expect(px.calls()).toEqual(['POST /events/custom']);
  });
});

describe('Defect "configuration before authentication": after a failed SSM load the next attempt waits, whatever the traffic', () => {
  it('makes one SSM load (two HTTP calls with the SDK retry) for 40 requests, one more after ~1 s, and delivers once SSM is back', { timeout: 15_000 }, async () => {
    seedSsm();
    const handler = await ssmRelay();
    ssm.script({ status: 500, times: 4 }); // two loads of two attempts each

    const first = await Promise.all(Array.from({ length: 20 }, (_, index) => postEvents(handler, track(`bo-par-${index}`), index % 2 ? SECRET : null)));
    const then: HttpAnswer[] = [];
    for (let index = 0; index < 20; index += 1) then.push(await postEvents(handler, track(`bo-seq-${index}`), index % 2 ? SECRET : null));

    for (const answer of [...first, ...then]) {
      expect(answer.status).toBe(503);
      expect(answer.body).toEqual(GENERIC_UNAVAILABLE);
    }
    expect(ssm.calls).toHaveLength(2);
    const [failure] = linesWith('configuration could not be loaded');
    expect(failure).toMatchObject({ consecutiveFailures: 1 });
    expect(failure?.nextAttemptInMs).toBeGreaterThanOrEqual(1000);
    expect(failure?.nextAttemptInMs).toBeLessThanOrEqual(1200);

    await sleep(1250);
    const second = await postEvents(handler, track('bo-second'), null);

    expect(second.status).toBe(503);
    expect(ssm.calls).toHaveLength(4);
    expect(ssm.pendingScripts()).toBe(0); // SSM answers again from here on
    const retry = linesWith('configuration could not be loaded')[1];
    expect(retry).toMatchObject({ consecutiveFailures: 2 });
    expect(retry?.nextAttemptInMs).toBeGreaterThanOrEqual(2000);
    expect(retry?.nextAttemptInMs).toBeLessThanOrEqual(2400);

    // SSM is healthy again, but the backoff holds: no call before it ends.
    const during = await postEvents(handler, track('bo-during'), SECRET);
    expect(during.status).toBe(503);
    expect(ssm.calls).toHaveLength(4);

    await sleep(2450);
    const recovered = await postEvents(handler, track('bo-recovered'), SECRET);

    expect(recovered.status).toBe(200);
    expect(recovered.body.results).toEqual([{ messageId: 'bo-recovered', type: 'track', status: 'delivered', calls: 1, attempts: 1 }]);
    expect(ssm.calls).toHaveLength(5);
    expect(px.calls()).toEqual(['POST /events/custom']);
  });
});

describe('Defect "no stale-on-error": the last good configuration keeps serving while SSM fails', () => {
  it('delivers with the old configuration past its lifetime, with a warning and the ConfigurationStale metric', async () => {
    seedSsm();
    const handler = await ssmRelay({ SSM_CACHE_TTL_SECONDS: '1' });
    expect((await postEvents(handler, track('st-fresh'), SECRET)).status).toBe(200);
    expect(ssm.calls).toHaveLength(1);
    ssm.script({ status: 500, times: 2 });
    await sleep(1100);
    capture.clear();

    const stale = await postEvents(handler, track('st-stale'), SECRET);

    expect(stale.status).toBe(200);
    expect(stale.body.results).toEqual([{ messageId: 'st-stale', type: 'track', status: 'delivered', calls: 1, attempts: 1 }]);
    expect(ssm.calls).toHaveLength(3);
    expect(px.calls()).toEqual(['POST /events/custom', 'POST /events/custom']);
    expect(linesWith('serving the last good configuration past its lifetime while SSM cannot be read')).toEqual([
      expect.objectContaining({ level: 'WARN' }),
    ]);
    expect(metricNames()).toContain('ConfigurationStale');
  });

  it('still refuses an unauthenticated caller with the stale configuration', async () => {
    seedSsm();
    const handler = await ssmRelay({ SSM_CACHE_TTL_SECONDS: '1' });
    expect((await postEvents(handler, track('st-fresh-2'), SECRET)).status).toBe(200);
    ssm.script({ status: 500, times: 2 });
    await sleep(1100);

    const anonymous = await postEvents(handler, track('st-anon'), null);

    expect(anonymous.status).toBe(401);
    expect(px.calls()).toEqual(['POST /events/custom']);
  });
});

describe('Defect "SSM failures are not explained in the logs": the cause is logged, never a value', () => {
  it('logs the SDK error name and HTTP status of an SSM failure, and no secret', async () => {
    seedSsm({ extra: { 'write-keys': WRITE_KEY } });
    const handler = await ssmRelay({ SSM_CACHE_TTL_SECONDS: '1' });
    expect((await postEvents(handler, track('cause-ok'), SECRET)).status).toBe(200);
    ssm.script({ status: 500, times: 2 });
    await sleep(1100); // past the cache lifetime: the next request reads SSM

    await postEvents(handler, track('cause-stale'), SECRET);

    expect(linesWith('configuration could not be loaded')).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        code: 'ssm_unavailable',
        cause: { name: 'InternalServerError', httpStatus: 500 },
        consecutiveFailures: 1,
        nextAttemptInMs: expect.any(Number),
      }),
    ]);
    for (const value of [SECRET, WRITE_KEY, px.apiKey]) expect(output()).not.toContain(value);
  });

  it('logs a throttled SSM as ThrottlingException with status 400', async () => {
    seedSsm();
    const handler = await ssmRelay();
    ssm.script({ status: 400, body: { __type: 'ThrottlingException', message: 'Rate exceeded' }, times: 2 });

    const answer = await postEvents(handler, track('cause-throttled'), SECRET);

    expect(answer.status).toBe(503);
    expect(answer.body).toEqual(GENERIC_UNAVAILABLE);
    expect(linesWith('configuration could not be loaded')[0]).toMatchObject({ cause: { name: 'ThrottlingException', httpStatus: 400 } });
  });

  it('names a missing parameter in the log, not its value', async () => {
    seedSsm({ omit: ['api-key'] });
    const handler = await ssmRelay();

    const answer = await postEvents(handler, track('cause-missing'), SECRET);

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('configuration_error');
    expect(String(linesWith('configuration could not be loaded')[0]?.reason)).toContain(`${PREFIX}/api-key`);
    expect(output()).not.toContain(SECRET);
  });
});

describe('Defect "configuration before authentication": GET /health?deep=1 requires the bearer secret', () => {
  it('answers plain GET /health 200 without touching SSM or Gainsight', async () => {
    seedSsm();
    const handler = await ssmRelay();

    const answer = await call(handler, httpApiEvent({ method: 'GET', path: '/health', secret: null }));

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ status: 'ok', version: expect.any(String) });
    expect(ssm.calls).toEqual([]);
    expect(px.requests).toEqual([]);
  });

  it('answers the deep check 401 without the secret and 200 with it', async () => {
    seedSsm();
    const handler = await ssmRelay();

    const anonymous = await deepHealth(handler, null);
    const wrong = await deepHealth(handler, 'guess');
    const authenticated = await deepHealth(handler, SECRET);

    expect(anonymous.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(anonymous.text).not.toContain('checks');
    expect(authenticated.status).toBe(200);
    expect(authenticated.body).toEqual({
      status: 'ok',
      version: expect.any(String),
      checks: { configuration: { ok: true, dataCenter: 'US', dryRun: false }, gainsight: { ok: true, status: 200 } },
    });
    expect(px.calls()).toEqual(['GET /accounts']);
  });

  it('refuses a write key on the deep check when write keys are configured', async () => {
    seedSsm({ extra: { 'write-keys': WRITE_KEY } });
    const handler = await ssmRelay();

    const answer = await deepHealth(handler, WRITE_KEY);

    expect(answer.status).toBe(401);
    expect(px.requests).toEqual([]);
  });
});

describe('Defect "one secret list for two doors": write keys open /v1/* only, webhook secrets POST /events only', () => {
  const sdkTrack = (messageId: string, extra: Json = {}) => ({ userId: 'u-wk', event: 'Exported', messageId, timestamp: TIME, ...extra });

  it('accepts a write key on /v1/track and refuses the webhook secret there', async () => {
    seedSsm({ extra: { 'write-keys': `${WRITE_KEY},second-write-key` } });
    const handler = await ssmRelay();

    const writeKey = await postTracking(handler, '/v1/track', sdkTrack('wk-basic'), { authorization: basic(WRITE_KEY) });
    const secondKey = await postTracking(handler, '/v1/track', sdkTrack('wk-second'), { authorization: basic('second-write-key') });
    const secretBasic = await postTracking(handler, '/v1/track', sdkTrack('wk-secret-basic'), { authorization: basic(SECRET) });
    const secretBearer = await postTracking(handler, '/v1/track', sdkTrack('wk-secret-bearer'), { authorization: `Bearer ${SECRET}` });
    const secretInBody = await postTracking(handler, '/v1/track', sdkTrack('wk-secret-body', { writeKey: SECRET }));

    expect(writeKey.status).toBe(200);
    expect(secondKey.status).toBe(200);
    expect([secretBasic.status, secretBearer.status, secretInBody.status]).toEqual([401, 401, 401]);
    expect(px.calls()).toEqual(['POST /events/custom', 'POST /events/custom']);
  });

  it('accepts the webhook secret on POST /events and refuses a write key there', async () => {
    seedSsm({ extra: { 'write-keys': WRITE_KEY } });
    const handler = await ssmRelay();

    const secret = await postEvents(handler, track('wk-events-secret'), SECRET);
    const writeKey = await postEvents(handler, track('wk-events-key'), WRITE_KEY);

    expect(secret.status).toBe(200);
    expect(writeKey.status).toBe(401);
    expect(px.calls()).toEqual(['POST /events/custom']);
  });

  it('lets the webhook secret serve /v1/* without a write-keys parameter, warning once per container', async () => {
    seedSsm();
    const handler = await ssmRelay({ SSM_CACHE_TTL_SECONDS: '1' });

    // Each request past the previous load's lifetime, so that each loads the configuration again.
    const answers = [await postTracking(handler, '/v1/track', sdkTrack('wk-shared-1'), { authorization: basic(SECRET) })];
    await sleep(1100);
    answers.push(await postTracking(handler, '/v1/track', sdkTrack('wk-shared-2'), { authorization: `Bearer ${SECRET}` }));
    await sleep(1100);
    answers.push(await postEvents(handler, track('wk-shared-3'), SECRET));

    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(ssm.calls).toHaveLength(3); // three loads…
    expect(linesWith(`${PREFIX}/write-keys is not set: the webhook secrets also serve as tracking-API write keys`)).toEqual([
      expect.objectContaining({ level: 'WARN' }), // …one warning
    ]);
  });

  it('refuses every /v1/* request, the webhook secret and an empty Basic user included, when the write-keys parameter exists but is blank', async () => {
    seedSsm({ extra: { 'write-keys': ' , ' } });
    const handler = await ssmRelay();

    const refused = [
      await postTracking(handler, '/v1/track', sdkTrack('wk-blank-secret-basic'), { authorization: basic(SECRET) }),
      await postTracking(handler, '/v1/track', sdkTrack('wk-blank-secret-bearer'), { authorization: `Bearer ${SECRET}` }),
      await postTracking(handler, '/v1/track', sdkTrack('wk-blank-secret-body', { writeKey: SECRET })),
      await postTracking(handler, '/v1/track', sdkTrack('wk-blank-empty-basic'), { authorization: basic('') }),
      await postTracking(handler, '/v1/track', sdkTrack('wk-blank-empty-body', { writeKey: '' })),
      await postTracking(handler, '/v1/track', sdkTrack('wk-blank-none')),
    ];
    const webhook = await postEvents(handler, track('wk-blank-events'), SECRET);

    expect(refused.map((answer) => answer.status)).toEqual([401, 401, 401, 401, 401, 401]);
    for (const answer of refused) expect(answer.body.error.code).toBe('unauthorized');
    // The webhook route keeps its secret.
    expect(webhook.status).toBe(200);
    expect(px.calls()).toEqual(['POST /events/custom']);
    expect(ssm.calls).toHaveLength(1);
    expect(linesWith(`${PREFIX}/write-keys is empty: the tracking API refuses every request`)).toEqual([expect.objectContaining({ level: 'WARN' })]);
    expect(linesWith(`${PREFIX}/write-keys is not set: the webhook secrets also serve as tracking-API write keys`)).toEqual([]);
  });
});

describe('Defect "redirects followed with the key" (configuration side): GAINSIGHT_PX_BASE_URL must be https except loopback', () => {
  it('answers an authenticated caller 503 configuration_error for a plain-http base URL and sends nothing', async () => {
    const fetchSpy = vi.spyOn(globalThis, 'fetch').mockImplementation(async () => {
      throw new Error('this test must not reach the network');
    });
    const handler = await envRelay({ GAINSIGHT_PX_BASE_URL: 'http://api.example.test/v1' });

    const authenticated = await postEvents(handler, track('https-auth'), SECRET);
    const anonymous = await postEvents(handler, track('https-anon'), null);

    expect(authenticated.status).toBe(503);
    expect(authenticated.body).toEqual({
      error: { code: 'configuration_error', message: 'GAINSIGHT_PX_BASE_URL must be an https:// URL (http:// only for a loopback host)' },
    });
    expect(anonymous.status).toBe(401);
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(px.requests).toEqual([]);
  });

  it('delivers to an http://127.0.0.1 base URL', async () => {
    expect(px.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const handler = await envRelay();

    const answer = await postEvents(handler, track('https-loopback'), SECRET);

    expect(answer.status).toBe(200);
    expect(px.calls()).toEqual(['POST /events/custom']);
  });
});

describe('Defect "logs carry an unkeyed SHA-256 of the user id": logs name users by HMAC', () => {
  const USER_ID = 'person-SENTINEL-42@example.test';
  const hmacHash = (material: string): string => {
    const logKey = createHmac('sha256', 'gainsight-px-relay/log-user-hash').update(material, 'utf8').digest();
    return createHmac('sha256', logKey).update(USER_ID, 'utf8').digest('hex').slice(0, 16);
  };
  const plainHash = createHash('sha256').update(USER_ID, 'utf8').digest('hex');

  it('names the user by HMAC keyed with the API key, never by the plain hash', async () => {
    seedSsm();
    const handler = await ssmRelay();

    const answer = await postEvents(handler, track('hmac-1', USER_ID), SECRET);

    expect(answer.status).toBe(200);
    expect(linesWith('event delivered')).toEqual([expect.objectContaining({ messageId: 'hmac-1', user: hmacHash(px.apiKey) })]);
    expect(output()).not.toContain(plainHash.slice(0, 16));
    expect(output()).not.toContain(USER_ID);
  });

  it('keys the HMAC with the webhook secret when there is no API key (local dry run)', async () => {
    const handler = await envRelay({ PX_API_KEY: undefined });

    const answer = await postEvents(handler, track('hmac-2', USER_ID), SECRET);

    expect(answer.status).toBe(200);
    expect(answer.body.results[0].status).toBe('dry-run');
    expect(linesWith('event dry-run')).toEqual([expect.objectContaining({ messageId: 'hmac-2', user: hmacHash(SECRET) })]);
    expect(output()).not.toContain(plainHash.slice(0, 16));
    expect(px.requests).toEqual([]);
  });
});
