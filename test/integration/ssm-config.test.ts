import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeGainsight, startFakeGainsight } from '../support/fake-gainsight.ts';
import { type FakeSsm, startFakeSsm } from '../support/fake-ssm.ts';
import { type Handler, awsTestEnv, call, httpApiEvent, lambdaContext, loadHandler, scheduledEvent } from '../support/lambda.ts';

/**
 * Secrets and settings from SSM Parameter Store, through the real AWS SDK against a loopback
 * fake speaking the AWS JSON 1.1 protocol (selected with AWS_ENDPOINT_URL_SSM).
 */

const PREFIX = '/gainsight-px-relay/test';
const SECRET = 'ssm-webhook-secret';
const identify = { type: 'identify', messageId: 'm1', userId: 'u1', traits: { email: 'u1@example.test' } };

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
afterEach(() => ssm.close());

describe('loading', () => {
  it('reads all four parameters in one decrypting GetParameters call and delivers with them', async () => {
    const handler = await relay();

    const answer = await post(handler);

    expect(answer.status).toBe(200);
    expect(ssm.calls).toHaveLength(1);
    expect(ssm.calls[0]?.target).toBe('AmazonSSM.GetParameters');
    expect(ssm.calls[0]?.body).toEqual({
      Names: [`${PREFIX}/api-key`, `${PREFIX}/product-key`, `${PREFIX}/webhook-secret`, `${PREFIX}/settings`],
      WithDecryption: true,
    });
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

  it('remembers that the optional settings parameter is absent instead of asking again', async () => {
    const handler = await relay();

    await post(handler);
    await post(handler);
    await post(handler);

    expect(ssm.requestedNames().filter((name) => name.endsWith('/settings'))).toHaveLength(1);
  });

  it('reads SSM again once SSM_CACHE_TTL_SECONDS have passed (0: every invocation)', async () => {
    const handler = await relay({ SSM_CACHE_TTL_SECONDS: '0' });

    await post(handler);
    await post(handler);

    expect(ssm.calls).toHaveLength(2);
  });

  it('picks up a rotated webhook secret after the cache expires', async () => {
    const handler = await relay({ SSM_CACHE_TTL_SECONDS: '0' });
    expect((await post(handler)).status).toBe(200);

    ssm.setParameter(`${PREFIX}/webhook-secret`, 'rotated-secret', 'SecureString');

    expect((await post(handler, SECRET)).status).toBe(401);
    expect((await post(handler, 'rotated-secret')).status).toBe(200);
  });

  it('re-reads settings on every scheduled run and returns a summary', async () => {
    const handler = await relay();
    await post(handler);
    ssm.setParameter(`${PREFIX}/settings`, JSON.stringify({ dataCenter: 'EU' }));

    const summary = await handler(scheduledEvent(), lambdaContext());

    expect(summary).toEqual({ ok: true, action: 'scheduled', dataCenter: 'EU', dryRun: false, redrive: 'no-queue' });
    expect(ssm.calls).toHaveLength(2);
  });
});

describe('failures answer 503 and never crash', () => {
  it('fails closed with 503 naming a missing secret parameter, and sends nothing', async () => {
    ssm.deleteParameter(`${PREFIX}/api-key`);
    const handler = await relay();

    const answer = await post(handler);

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('configuration_error');
    expect(answer.body.error.message).toContain(`${PREFIX}/api-key`);
    expect(px.requests).toEqual([]);
  });

  it('recovers on the next request once the missing parameter exists', async () => {
    ssm.deleteParameter(`${PREFIX}/webhook-secret`);
    const handler = await relay();
    expect((await post(handler)).status).toBe(503);

    ssm.setParameter(`${PREFIX}/webhook-secret`, SECRET, 'SecureString');

    expect((await post(handler)).status).toBe(200);
  });

  it('answers 503 when SSM answers an error, then recovers', async () => {
    ssm.script({ status: 500, times: 2 });
    const handler = await relay();

    const failed = await post(handler);
    const recovered = await post(handler);

    expect(failed.status).toBe(503);
    expect(failed.body.error.code).toBe('ssm_unavailable');
    expect(recovered.status).toBe(200);
  });

  it('answers 503 quickly when SSM hangs', async () => {
    ssm.script({ hang: true, times: 5 });
    const handler = await relay();
    const started = Date.now();

    const answer = await post(handler);

    expect(answer.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it('answers 503 when SSM is unreachable', async () => {
    await ssm.close();
    const handler = await relay();

    const answer = await post(handler);

    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('ssm_unavailable');
  });

  it('answers 503 with the reason when the settings parameter is invalid', async () => {
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
