import { Buffer } from 'node:buffer';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ssmReader } from '../../src/config/ssm.ts';
import { UnavailableError } from '../../src/errors.ts';
import { type Capture, captureWhile, saveEnv } from '../support/capture.ts';
import { type FakeGainsight, startFakeGainsight } from '../support/fake-gainsight.ts';
import { type FakeSsm, startFakeSsm } from '../support/fake-ssm.ts';
import { type Handler, type HttpAnswer, awsTestEnv, call, httpApiEvent, lambdaContext, loadHandler, scheduledEvent } from '../support/lambda.ts';

/**
 * Secrets and settings from SSM Parameter Store, through the real AWS SDK against a loopback
 * fake speaking the AWS JSON 1.1 protocol (selected with AWS_ENDPOINT_URL_SSM).
 */

const PREFIX = '/gainsight-px-relay/test';
const SECRET = 'ssm-webhook-secret';
const identify = { type: 'identify', messageId: 'm1', userId: 'u1', traits: { email: 'u1@example.test' } };
/** Every parameter the relay reads, in the order of its one GetParameters call. */
const NAMES = ['api-key', 'product-key', 'webhook-secret', 'write-keys', 'settings'].map((name) => `${PREFIX}/${name}`);
/** What every caller gets while the secrets cannot be loaded (docs/security.md): it names nothing. */
const GENERIC_UNAVAILABLE = { error: { code: 'unavailable', message: 'The relay is temporarily unavailable; try again later' } };
/** Past the first backoff after a failed load: 1 s plus up to 20 % jitter (docs/security.md). */
const PAST_FIRST_BACKOFF_MS = 1250;
/** Logs at INFO as JSON on stdout, as in Lambda, for the tests that read them. */
const LOG_ENV = { POWERTOOLS_LOG_LEVEL: 'INFO', POWERTOOLS_DEV: 'false' };

let px: FakeGainsight;
let ssm: FakeSsm;

async function relay(extraEnv: Record<string, string> = {}): Promise<Handler> {
  return loadHandler({
    ...awsTestEnv(ssm.endpoint),
    SSM_PREFIX: PREFIX,
    GAINSIGHT_PX_BASE_URL: px.baseUrl,
    ...extraEnv,
  });
}

const post = (handler: Handler, secret: string | null = SECRET) =>
  call(handler, httpApiEvent({ secret, body: identify }));

/** Callers without a valid credential for POST /events (which accepts Bearer only). */
const unauthenticated: ((handler: Handler) => Promise<HttpAnswer>)[] = [
  (handler) => post(handler, null),
  (handler) => post(handler, 'not-a-secret'),
  (handler) =>
    call(handler, httpApiEvent({ secret: null, headers: { authorization: `Basic ${Buffer.from(`${SECRET}:`).toString('base64')}` }, body: identify })),
];
/** Those, and a caller with the webhook secret. */
const mixed = [...unauthenticated, (handler: Handler) => post(handler, SECRET)];

/** The relay's 'configuration could not be loaded' lines: one per failed load. */
const failedLoads = (capture: Capture) => capture.entries().filter((entry) => entry.message === 'configuration could not be loaded');

/** Posts once to a fresh handler logging as in Lambda; returns its failed-load lines and all it wrote. */
async function postOnceLogged(): Promise<{ loads: ReturnType<typeof failedLoads>; written: string }> {
  const capture = await captureWhile(async () => {
    await post(await relay(LOG_ENV));
  });
  return { loads: failedLoads(capture), written: capture.texts.join('\n') };
}

beforeAll(async () => {
  px = await startFakeGainsight();
});
afterAll(() => px.close());
beforeEach(async () => {
  px.reset();
  ssm = await startFakeSsm({
    parameters: {
      [`${PREFIX}/api-key`]: { value: px.apiKey, type: 'SecureString' },
      [`${PREFIX}/product-key`]: { value: 'AP-SSM-1', type: 'String' },
      [`${PREFIX}/webhook-secret`]: { value: `${SECRET},older-secret`, type: 'SecureString' },
    },
  });
});
const restoreLogEnv = saveEnv(Object.keys(LOG_ENV));
afterEach(async () => {
  await ssm.close();
  // loadHandler leaves the logger's variables set: the next handler must start from the defaults.
  restoreLogEnv();
});

describe('loading', () => {
  it('reads all five parameters in one decrypting GetParameters call and delivers with them', async () => {
    const handler = await relay();

    const answer = await post(handler);

    expect(answer.status).toBe(200);
    expect(ssm.calls).toHaveLength(1);
    expect(ssm.calls[0]?.target).toBe('AmazonSSM.GetParameters');
    expect(ssm.calls[0]?.body).toEqual({ Names: NAMES, WithDecryption: true });
    expect(px.requests[0]?.headers['x-aptrinsic-api-key']).toBe(px.apiKey);
    expect(px.requests[1]?.body).toMatchObject({ propertyKeys: ['AP-SSM-1'] });
  });

  it('accepts any of the comma-separated webhook secrets and refuses others', async () => {
    const handler = await relay();

    const older = await post(handler, 'older-secret');
    const wrong = await post(handler, 'not-a-secret');

    expect(older.status).toBe(200);
    expect(wrong.status).toBe(401);
  });

  it('applies the settings parameter (data center override, attribute map)', async () => {
    ssm.setParameter(`${PREFIX}/settings`, JSON.stringify({ userAttributeMap: [{ from: 'plan', to: 'planTier' }] }));
    const handler = await relay();

    const answer = await call(
      handler,
      httpApiEvent({ secret: SECRET, body: { ...identify, traits: { plan: 'gold', hobby: 'chess' } } }),
    );

    expect(answer.status).toBe(200);
    expect(px.requests[0]?.body).toMatchObject({ customAttributes: { planTier: 'gold' } });
  });

  it('never answers GET /health from SSM', async () => {
    const handler = await relay();

    const answer = await call(handler, httpApiEvent({ method: 'GET', path: '/health', secret: null }));

    expect(answer.status).toBe(200);
    expect(ssm.calls).toHaveLength(0);
  });
});

describe('caching', () => {
  it('asks SSM once for many warm invocations within the cache lifetime', async () => {
    const handler = await relay();

    for (let index = 0; index < 5; index += 1) expect((await post(handler)).status).toBe(200);

    expect(ssm.calls).toHaveLength(1);
  });

  it('asks SSM once for 20 unauthenticated requests, answering each 401', async () => {
    const handler = await relay();

    const answers = [];
    for (let index = 0; index < 20; index += 1) answers.push(await unauthenticated[index % unauthenticated.length]!(handler));

    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(401));
    expect(answers.map((answer) => answer.body.error.code)).toEqual(Array(20).fill('unauthorized'));
    expect(ssm.calls.map((recorded) => recorded.target)).toEqual(['AmazonSSM.GetParameters']);
    expect(px.requests).toEqual([]);
  });

  it('remembers that the optional settings parameter is absent instead of asking again', async () => {
    const handler = await relay();

    await post(handler);
    await post(handler);
    await post(handler);

    expect(ssm.requestedNames().filter((name) => name.endsWith('/settings'))).toHaveLength(1);
  });

  it('reads SSM again once SSM_CACHE_TTL_SECONDS have passed (1 s, the shortest lifetime)', async () => {
    const handler = await relay({ SSM_CACHE_TTL_SECONDS: '1' });

    await post(handler);
    await post(handler);
    const withinLifetime = ssm.calls.length;
    await sleep(1100);
    await post(handler);

    expect(withinLifetime).toBe(1);
    expect(ssm.calls).toHaveLength(2);
  });

  it('refuses SSM_CACHE_TTL_SECONDS=0 as an invalid environment: every caller gets the generic 503, and SSM is never read', async () => {
    const handler = await relay({ SSM_CACHE_TTL_SECONDS: '0' });

    const answers = [await post(handler), await post(handler, null), await post(handler, 'not-a-secret')];

    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.body).toEqual(GENERIC_UNAVAILABLE);
    }
    expect(ssm.calls).toEqual([]);
    expect(px.requests).toEqual([]);
  });

  it('picks up a rotated webhook secret after the cache expires', async () => {
    const handler = await relay({ SSM_CACHE_TTL_SECONDS: '1' });
    expect((await post(handler)).status).toBe(200);

    ssm.setParameter(`${PREFIX}/webhook-secret`, 'rotated-secret', 'SecureString');
    const beforeExpiry = await post(handler, SECRET);
    await sleep(1100);

    expect(beforeExpiry.status).toBe(200);
    expect((await post(handler, SECRET)).status).toBe(401);
    expect((await post(handler, 'rotated-secret')).status).toBe(200);
    expect(ssm.calls).toHaveLength(2);
  });

  it('re-reads settings on every scheduled run and returns a summary with the configuration it read', async () => {
    const handler = await relay();
    await post(handler);
    ssm.setParameter(`${PREFIX}/settings`, JSON.stringify({ dataCenter: 'EU' }));

    const runStarted = Date.now();
    const summary = (await handler(scheduledEvent(), lambdaContext())) as Record<string, any>;
    const runEnded = Date.now();

    expect(summary).toEqual({
      ok: true,
      action: 'scheduled',
      dataCenter: 'EU',
      dryRun: false,
      configuration: { loadedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), stale: false },
      redrive: 'no-queue',
    });
    // Read by this run, not the request before it.
    const loadedAt = Date.parse(summary.configuration.loadedAt);
    expect(loadedAt).toBeGreaterThanOrEqual(runStarted);
    expect(loadedAt).toBeLessThanOrEqual(runEnded);
    expect(ssm.calls).toHaveLength(2);
  });

  it('reports the last good configuration as stale in a scheduled run while SSM fails past its lifetime', async () => {
    const handler = await relay({ SSM_CACHE_TTL_SECONDS: '1' });
    const firstLoadStarted = Date.now();
    expect((await post(handler)).status).toBe(200);
    const firstLoadEnded = Date.now();
    ssm.script({ status: 500, times: 2 }); // one load: the SDK's attempt and its one retry
    await sleep(1100);

    const summary = (await handler(scheduledEvent(), lambdaContext())) as Record<string, any>;

    expect(summary).toEqual({
      ok: true,
      action: 'scheduled',
      dataCenter: 'US',
      dryRun: false,
      configuration: { loadedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), stale: true },
      redrive: 'no-queue',
    });
    // When the configuration served was read: by the first request, not by this run.
    const loadedAt = Date.parse(summary.configuration.loadedAt);
    expect(loadedAt).toBeGreaterThanOrEqual(firstLoadStarted);
    expect(loadedAt).toBeLessThanOrEqual(firstLoadEnded);
    expect(ssm.calls).toHaveLength(3);
  });

  it('reads SSM at once on a manual refresh, within the cache lifetime, and logs "configuration refreshed" with the summary', async () => {
    await captureWhile(async (capture) => {
      const handler = await relay(LOG_ENV);
      await post(handler);
      ssm.setParameter(`${PREFIX}/settings`, JSON.stringify({ dataCenter: 'EU' }));

      const runStarted = Date.now();
      const summary = (await handler({ action: 'refresh' }, lambdaContext())) as Record<string, any>;
      const runEnded = Date.now();

      expect(summary).toEqual({
        ok: true,
        action: 'refresh',
        dataCenter: 'EU',
        dryRun: false,
        configuration: { loadedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), stale: false },
      });
      const loadedAt = Date.parse(summary.configuration.loadedAt);
      expect(loadedAt).toBeGreaterThanOrEqual(runStarted);
      expect(loadedAt).toBeLessThanOrEqual(runEnded);
      expect(ssm.calls).toHaveLength(2);
      expect(capture.entries().filter((entry) => entry.message === 'configuration refreshed')).toEqual([
        expect.objectContaining({ level: 'INFO', ...summary }),
      ]);
      expect(capture.entries().filter((entry) => entry.message === 'settings refreshed')).toEqual([]);
    });
  });
});

describe('failures answer 503 and never crash', () => {
  it('fails closed with 503 naming a missing secret parameter to an authenticated caller, and sends nothing', async () => {
    ssm.deleteParameter(`${PREFIX}/api-key`);
    const handler = await relay();

    const answer = await post(handler);

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('configuration_error');
    expect(answer.body.error.message).toContain(`${PREFIX}/api-key`);
    expect(px.requests).toEqual([]);
  });

  it.each([
    ['the api-key parameter is missing', () => ssm.deleteParameter(`${PREFIX}/api-key`), ['api-key']],
    ['the settings are invalid', () => ssm.setParameter(`${PREFIX}/settings`, '{"userAttributeMap": 42}'), ['settings', 'userAttributeMap']],
  ])('tells a caller without a valid secret nothing when %s: 401', async (_name, breakIt, hidden) => {
    breakIt();
    const handler = await relay();

    const withoutSecret = await post(handler, null);
    const wrongSecret = await post(handler, 'not-a-secret');

    expect(withoutSecret.status).toBe(401);
    expect(wrongSecret.status).toBe(401);
    for (const answer of [withoutSecret, wrongSecret]) {
      expect(answer.body.error.code).toBe('unauthorized');
      expect(answer.text).not.toContain(PREFIX);
      for (const word of hidden) expect(answer.text).not.toContain(word);
    }
    expect(ssm.calls).toHaveLength(1);
    expect(px.requests).toEqual([]);
  });

  it('answers every caller the generic 503 while the webhook-secret parameter is missing', async () => {
    ssm.deleteParameter(`${PREFIX}/webhook-secret`);
    const handler = await relay();

    const withSecret = await post(handler);
    const withoutSecret = await post(handler, null);

    expect(withSecret.status).toBe(503);
    expect(withSecret.body).toEqual(GENERIC_UNAVAILABLE);
    expect(withoutSecret.status).toBe(503);
    expect(withoutSecret.body).toEqual(GENERIC_UNAVAILABLE);
    expect(px.requests).toEqual([]);
  });

  it('recovers once the missing parameter exists and the backoff after the failed load has passed', async () => {
    ssm.deleteParameter(`${PREFIX}/webhook-secret`);
    const handler = await relay();
    expect((await post(handler)).status).toBe(503);

    ssm.setParameter(`${PREFIX}/webhook-secret`, SECRET, 'SecureString');
    const withinBackoff = await post(handler);
    await sleep(PAST_FIRST_BACKOFF_MS);
    const afterBackoff = await post(handler);

    expect(withinBackoff.status).toBe(503);
    expect(withinBackoff.body).toEqual(GENERIC_UNAVAILABLE);
    expect(afterBackoff.status).toBe(200);
    expect(ssm.calls).toHaveLength(2);
  });

  it('answers the generic 503 when SSM answers an error, then recovers after the backoff', async () => {
    ssm.script({ status: 500, times: 2 }); // one load: the SDK's attempt and its one retry
    const handler = await relay();

    const failed = await post(handler);
    await sleep(PAST_FIRST_BACKOFF_MS);
    const recovered = await post(handler);

    expect(failed.status).toBe(503);
    expect(failed.body).toEqual(GENERIC_UNAVAILABLE);
    expect(recovered.status).toBe(200);
  });

  it('reads SSM once per backoff window while it fails, whoever calls and however often', async () => {
    ssm.script({ status: 500, times: 1000 });
    await captureWhile(async (capture) => {
      const handler = await relay(LOG_ENV);

      // Act: 40 requests, authenticated or not, spread over most of the first second.
      const first = await post(handler, null); // an unauthenticated caller triggers the load
      const firstAnsweredAt = Date.now();
      const answers = [first];
      for (let index = 1; index < 40; index += 1) {
        await sleep(15);
        answers.push(await mixed[index % mixed.length]!(handler));
      }
      const windowEndedAt = Date.now();
      const callsInFirstWindow = ssm.calls.length;
      const loadsInFirstWindow = failedLoads(capture).length;

      await sleep(Math.max(0, firstAnsweredAt + PAST_FIRST_BACKOFF_MS - Date.now()));
      for (let index = 0; index < 8; index += 1) answers.push(await mixed[index % mixed.length]!(handler));

      // Assess: the test ran inside the first backoff window, or it proves nothing.
      expect(windowEndedAt - firstAnsweredAt).toBeLessThan(1000);
      expect(answers.map((answer) => answer.status)).toEqual(Array(48).fill(503));
      for (const answer of answers) expect(answer.body).toEqual(GENERIC_UNAVAILABLE);
      // One load in the first second: at most the SDK's attempt and its one retry.
      expect(loadsInFirstWindow).toBe(1);
      expect(callsInFirstWindow).toBeGreaterThanOrEqual(1);
      expect(callsInFirstWindow).toBeLessThanOrEqual(2);
      // Past the backoff, exactly one more load, which doubles the next wait.
      const loads = failedLoads(capture);
      expect(loads.map((line) => line.consecutiveFailures)).toEqual([1, 2]);
      expect(loads[0]?.nextAttemptInMs).toBeGreaterThanOrEqual(1000);
      expect(loads[0]?.nextAttemptInMs).toBeLessThanOrEqual(1200);
      expect(loads[1]?.nextAttemptInMs).toBeGreaterThanOrEqual(2000);
      expect(loads[1]?.nextAttemptInMs).toBeLessThanOrEqual(2400);
      expect(ssm.calls.length - callsInFirstWindow).toBeGreaterThanOrEqual(1);
      expect(ssm.calls.length - callsInFirstWindow).toBeLessThanOrEqual(2);
      expect(ssm.calls.every((recorded) => recorded.target === 'AmazonSSM.GetParameters' && recorded.status === 500)).toBe(true);
      expect(px.requests).toEqual([]);
    });
  });

  it('logs why a load failed — error name, HTTP status, parameter names — and never a value', async () => {
    ssm.script({ status: 500, times: 2 });

    const { loads, written } = await postOnceLogged();

    const [line, ...more] = loads;
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: 'ERROR', code: 'ssm_unavailable', cause: { name: 'InternalServerError', httpStatus: 500 }, consecutiveFailures: 1 });
    for (const name of NAMES) expect(String(line?.reason)).toContain(name);
    for (const value of [px.apiKey, 'AP-SSM-1', SECRET, 'older-secret']) expect(written).not.toContain(value);
  });

  it('logs a load that read the values but misses a parameter naming it, and quoting none of the values read', async () => {
    ssm.deleteParameter(`${PREFIX}/product-key`);

    const { loads, written } = await postOnceLogged();

    const [line, ...more] = loads;
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: 'ERROR', code: 'configuration_error', consecutiveFailures: 1 });
    expect(String(line?.reason)).toContain(`${PREFIX}/product-key`);
    for (const value of [px.apiKey, SECRET, 'older-secret']) expect(written).not.toContain(value);
  });

  it('answers the generic 503 quickly when SSM hangs', async () => {
    ssm.script({ hang: true, times: 5 });
    const handler = await relay();
    const started = Date.now();

    const answer = await post(handler);

    expect(answer.status).toBe(503);
    expect(answer.body).toEqual(GENERIC_UNAVAILABLE);
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it('gives up a GetParameters that hangs after its bound, whatever the SDK\'s own timeouts', async () => {
    // Prepare: the SDK's request timeout far beyond the bound, as with a runtime SDK that ignores it
    ssm.script({ hang: true, times: 5 });
    const restore = saveEnv(Object.keys(awsTestEnv(ssm.endpoint)));
    Object.assign(process.env, awsTestEnv(ssm.endpoint));
    const read = ssmReader(PREFIX, 20_000, 300);
    const started = Date.now();
    // Act
    const error = await read().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    restore();
    // Assess
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as UnavailableError).code).toBe('ssm_unavailable');
    expect(String(((error as UnavailableError).cause as Error).message)).toBe('GetParameters did not answer within 300 ms');
  });

  it('answers the generic 503 when SSM is unreachable', async () => {
    await ssm.close();
    const handler = await relay();

    const answer = await post(handler);

    expect(answer.status).toBe(503);
    expect(answer.body).toEqual(GENERIC_UNAVAILABLE);
  });

  it('answers an authenticated caller 503 with the reason when the settings parameter is invalid', async () => {
    ssm.setParameter(`${PREFIX}/settings`, '{"userAttributeMap": 42}');
    const handler = await relay();

    const answer = await post(handler);

    expect(answer.status).toBe(503);
    expect(answer.body.error.message).toContain('userAttributeMap');
  });

  it('answers 503 when the settings parameter is not JSON at all', async () => {
    ssm.setParameter(`${PREFIX}/settings`, 'dataCenter=EU');
    const handler = await relay();

    const answer = await post(handler);

    expect(answer.status).toBe(503);
    expect(answer.body.error.message).toContain('not valid JSON');
  });

  it('returns a failed summary from a scheduled run when SSM is down, without throwing', async () => {
    ssm.script({ status: 500, times: 5 });
    const handler = await relay();

    const summary = await handler(scheduledEvent(), lambdaContext());

    expect(summary).toEqual({ ok: false, error: { code: 'ssm_unavailable', message: expect.any(String) } });
  });

  it('never puts the API key or webhook secret in an answer', async () => {
    ssm.deleteParameter(`${PREFIX}/product-key`);
    const handler = await relay();

    const answer = await post(handler);

    expect(answer.status).toBe(503);
    expect(answer.text).not.toContain(px.apiKey);
    expect(answer.text).not.toContain(SECRET);
  });
});
