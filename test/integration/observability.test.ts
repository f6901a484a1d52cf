import { createHash, createHmac } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Capture, captureOutput, emittedMetrics, saveEnv } from '../support/capture.ts';
import { type FakeGainsight, startFakeGainsight } from '../support/fake-gainsight.ts';
import { type FakeSqs, startFakeSqs } from '../support/fake-sqs.ts';
import { type FakeParameter, type FakeSsm, startFakeSsm } from '../support/fake-ssm.ts';
import { type Handler, awsTestEnv, call, httpApiEvent, loadHandler } from '../support/lambda.ts';

/**
 * What an operator sees: one structured log line per event outcome, and CloudWatch metrics in
 * the embedded metric format, captured from the real handler's output. Also the deep health check.
 */

const SECRET = 'observability-secret';
const NAMESPACE = 'GainsightPxRelay';
const OUTPUT_ENV = { POWERTOOLS_DEV: 'false', POWERTOOLS_LOG_LEVEL: 'INFO', POWERTOOLS_METRICS_DISABLED: 'false' };
const restoreOutputEnv = saveEnv(Object.keys(OUTPUT_ENV));

let px: FakeGainsight;
let sqs: FakeSqs;
let capture: Capture;
let handler: Handler;

/**
 * How a log line names a user (docs/http-contract.md): the first 16 hex digits of an HMAC-SHA256 whose key is
 * derived from the API key, so that nobody outside the deployment can link a line to a user id.
 */
function keyedUserHash(userId: string, apiKey: string): string {
  const logKey = createHmac('sha256', 'gainsight-px-relay/log-user-hash').update(apiKey, 'utf8').digest();
  return createHmac('sha256', logKey).update(userId, 'utf8').digest('hex').slice(0, 16);
}
const plainHash = (userId: string): string => createHash('sha256').update(userId, 'utf8').digest('hex');

const post = (body: unknown, secret: string | null = SECRET) => call(handler, httpApiEvent({ secret, body }));
const eventLines = () => capture.entries().filter((entry) => /^event /.test(String(entry.message)));
const metrics = () => emittedMetrics(capture.entries(), NAMESPACE);

beforeAll(async () => {
  px = await startFakeGainsight();
  sqs = await startFakeSqs();
  const parking = sqs.createQueue('observability-parking');
  Object.assign(process.env, OUTPUT_ENV);
  handler = await loadHandler({
    ...OUTPUT_ENV,
    PX_API_KEY: px.apiKey,
    PX_PRODUCT_KEY: 'AP-OBS-1',
    WEBHOOK_SECRET: SECRET,
    GAINSIGHT_PX_BASE_URL: px.baseUrl,
    DELIVERY_BUDGET_MS: '1500',
    DEAD_LETTER_QUEUE_URL: parking,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDUMMY',
    AWS_SECRET_ACCESS_KEY: 'dummy',
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
  });
  capture = captureOutput();
});
afterAll(async () => {
  capture.restore();
  restoreOutputEnv();
  await Promise.all([px.close(), sqs.close()]);
});
beforeEach(() => {
  px.reset();
  capture.clear();
});
afterEach(() => px.reset());

describe('one log line per event outcome', () => {
  it('logs a delivered event with its id, type, calls, attempts, latency, user hash and correlation id', async () => {
    px.users.set('u1', { identifyId: 'u1' });

    const answer = await post({ type: 'identify', messageId: 'msg-delivered', userId: 'u1', traits: { email: 'x@example.test' } });

    expect(answer.status).toBe(200);
    expect(eventLines()).toEqual([
      expect.objectContaining({
        level: 'INFO',
        message: 'event delivered',
        service: 'gainsight-px-relay',
        messageId: 'msg-delivered',
        correlation_id: 'msg-delivered',
        type: 'identify',
        outcome: 'delivered',
        calls: 1,
        attempts: 1,
        latencyMs: expect.any(Number),
        user: keyedUserHash('u1', px.apiKey),
        cold_start: expect.any(Boolean),
      }),
    ]);
    const written = capture.texts.join('\n');
    expect(written).not.toContain('x@example.test');
    expect(written).not.toContain(plainHash('u1').slice(0, 16));
  });

  it('logs a skipped event', async () => {
    await post({ type: 'page', messageId: 'msg-skipped', userId: 'u1', name: 'Home' });

    expect(eventLines()).toEqual([
      expect.objectContaining({ level: 'INFO', message: 'event skipped', messageId: 'msg-skipped', type: 'page', outcome: 'skipped' }),
    ]);
  });

  it('logs a rejected event as a warning with its code and Gainsight\'s status, not its text', async () => {
    px.script({ method: 'POST', path: '/events/custom', status: 400, body: { externalapierror: { status: 'BAD_REQUEST', message: 'bad data for u1' } } });

    const answer = await post({ type: 'track', messageId: 'msg-rejected', userId: 'u1', event: 'Exported' });

    expect(answer.status).toBe(400);
    const [line] = eventLines();
    expect(line).toEqual(
      expect.objectContaining({ level: 'WARN', message: 'event rejected', messageId: 'msg-rejected', type: 'track', outcome: 'rejected', code: 'gainsight_rejected', attempts: 1 }),
    );
    expect(String(line?.reason)).not.toContain('bad data for u1');
  });

  it('logs a queued event with the attempts it took', async () => {
    px.script({ method: 'POST', path: '/events/custom', status: 503, times: 1000 });

    const answer = await post({ type: 'track', messageId: 'msg-queued', userId: 'u1', event: 'Exported' });

    expect(answer.status).toBe(202);
    const [line] = eventLines();
    expect(line).toEqual(
      expect.objectContaining({ level: 'INFO', message: 'event queued', messageId: 'msg-queued', outcome: 'queued', code: 'upstream_unavailable' }),
    );
    expect(line?.attempts).toBeGreaterThan(1);
  });
});

describe('a resent event this container already delivered', () => {
  it('logs it as a duplicate with no calls or attempts, and counts it as Events outcome=duplicate, not delivered', async () => {
    px.users.set('u-dup', { identifyId: 'u-dup' });
    const event = { type: 'identify', messageId: 'msg-duplicate', userId: 'u-dup', traits: { email: 'dup@example.test' } };
    expect((await post(event)).status).toBe(200);
    px.reset();
    capture.clear();

    const answer = await post(event);

    expect(answer.status).toBe(200);
    expect(answer.body.results).toEqual([{ messageId: 'msg-duplicate', type: 'identify', status: 'delivered', calls: 0, attempts: 0, duplicate: true }]);
    expect(px.requests).toEqual([]);
    const lines = eventLines();
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'INFO',
        message: 'event delivered',
        messageId: 'msg-duplicate',
        type: 'identify',
        outcome: 'duplicate',
        duplicate: true,
        calls: 0,
        attempts: 0,
        user: keyedUserHash('u-dup', px.apiKey),
      }),
    ]);
    expect(lines[0]).not.toHaveProperty('latencyMs');
    const events = metrics().filter((metric) => metric.name === 'Events');
    expect(events).toEqual([
      { name: 'Events', unit: 'Count', dimensions: { service: 'gainsight-px-relay', type: 'identify', outcome: 'duplicate' }, value: 1 },
    ]);
    expect(metrics().filter((metric) => metric.name.startsWith('GainsightCalls'))).toEqual([]);
  });
});

describe('metrics (embedded metric format)', () => {
  it('counts events by type and outcome, and times Gainsight calls by status class', async () => {
    px.users.set('u1', { identifyId: 'u1' });

    await post([
      { type: 'identify', userId: 'u1', traits: {} },
      { type: 'identify', userId: 'u1', traits: {} },
      { type: 'alias', userId: 'u1' },
    ]);

    const emitted = metrics();
    expect(emitted).toContainEqual({
      name: 'Events',
      unit: 'Count',
      dimensions: { service: 'gainsight-px-relay', type: 'identify', outcome: 'delivered' },
      value: 2,
    });
    expect(emitted).toContainEqual({
      name: 'Events',
      unit: 'Count',
      dimensions: { service: 'gainsight-px-relay', type: 'alias', outcome: 'skipped' },
      value: 1,
    });
    expect(emitted).toContainEqual(
      expect.objectContaining({ name: 'GainsightLatency', unit: 'Milliseconds', dimensions: { service: 'gainsight-px-relay' } }),
    );
    // One value per call: CloudWatch sums them.
    expect(emitted).toContainEqual({ name: 'GainsightCalls2xx', unit: 'Count', dimensions: { service: 'gainsight-px-relay' }, value: [1, 1] });
    // And by method: an identify of a known user is one PUT.
    expect(emitted).toContainEqual({ name: 'GainsightCalls', unit: 'Count', dimensions: { service: 'gainsight-px-relay', method: 'PUT' }, value: [1, 1] });
  });

  it('publishes an invocation\'s metrics in one EMF line when their dimension values agree', async () => {
    await post({ type: 'track', userId: 'u1', event: 'Exported', messageId: 'msg-one-line' });

    const documents = capture.entries().filter((entry) => entry._aws !== undefined);
    expect(documents).toHaveLength(1);
    const directives = (documents[0]?._aws as { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] }).CloudWatchMetrics;
    expect(directives.map((directive) => [directive.Dimensions, directive.Metrics.map((metric) => metric.Name)])).toEqual([
      [[['service']], ['GainsightLatency', 'GainsightCalls2xx']],
      [[['service', 'method']], ['GainsightCalls']],
      [[['service', 'type', 'outcome']], ['Events']],
    ]);
    expect(documents[0]).toMatchObject({ method: 'POST', type: 'track', outcome: 'delivered', GainsightCalls: 1 });
    expect(metrics()).toContainEqual({ name: 'Events', unit: 'Count', dimensions: { service: 'gainsight-px-relay', type: 'track', outcome: 'delivered' }, value: 1 });
    expect(metrics()).toContainEqual({ name: 'GainsightCalls2xx', unit: 'Count', dimensions: { service: 'gainsight-px-relay' }, value: 1 });
    expect(capture.texts.join('\n')).not.toContain('No application metrics');
  });

  it('gives each further type and outcome an EMF line of its own, so no value is attributed twice', async () => {
    px.users.set('u1', { identifyId: 'u1' });

    await post([
      { type: 'identify', userId: 'u1', traits: {} },
      { type: 'alias', userId: 'u1' },
    ]);

    const documents = capture.entries().filter((entry) => entry._aws !== undefined);
    expect(documents.map((document) => [document.type, document.outcome, document.Events])).toEqual([
      ['identify', 'delivered', 1],
      ['alias', 'skipped', 1],
    ]);
    expect(documents.filter((document) => 'GainsightCalls2xx' in document)).toHaveLength(1);
  });

  it('counts retries, parked events and 5xx status classes', async () => {
    px.script({ method: 'POST', path: '/events/custom', status: 503, times: 1000 });

    await post({ type: 'track', userId: 'u1', event: 'Exported' });

    const byName = new Map(metrics().map((metric) => [metric.name, metric]));
    expect(byName.get('EventsParked')?.value).toBe(1);
    expect(byName.get('Retries')?.value).toBeGreaterThan(0);
    expect(byName.get('GainsightCalls5xx')?.value).toEqual(expect.anything());
    expect(metrics()).toContainEqual(
      expect.objectContaining({ name: 'Events', dimensions: { service: 'gainsight-px-relay', type: 'track', outcome: 'queued' } }),
    );
  });

  it('reports an invalid tracking-API event as type "invalid", never the type the sender wrote', async () => {
    const answer = await call(
      handler,
      httpApiEvent({ path: '/v1/batch', secret: SECRET, body: { batch: [{ type: 'alice@example.test', userId: 'u1' }] } }),
    );

    expect(answer.status).toBe(400);
    expect(metrics()).toContainEqual({
      name: 'Events',
      unit: 'Count',
      dimensions: { service: 'gainsight-px-relay', type: 'invalid', outcome: 'rejected' },
      value: 1,
    });
    expect(capture.texts.join('\n')).not.toContain('alice@example.test');
  });

  it('counts authentication failures', async () => {
    const answer = await post({ type: 'identify', userId: 'u1' }, 'wrong-secret');

    expect(answer.status).toBe(401);
    expect(metrics()).toContainEqual({ name: 'AuthFailures', unit: 'Count', dimensions: { service: 'gainsight-px-relay' }, value: 1 });
  });
});

describe('GET /health?deep=1', () => {
  const deep = (secret: string | null = SECRET, target: Handler = handler) =>
    call(target, { ...httpApiEvent({ method: 'GET', path: '/health', secret }), rawQueryString: 'deep=1' });

  it('answers 200 with each check when configuration and Gainsight work, after one cheap read', async () => {
    const answer = await deep();

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      status: 'ok',
      version: expect.any(String),
      checks: { configuration: { ok: true, dataCenter: 'US', dryRun: false }, gainsight: { ok: true, status: 200 } },
    });
    expect(px.calls()).toEqual(['GET /accounts']);
    expect(px.requests[0]?.path).toBe('/v1/accounts?pageSize=1');
  });

  it('needs the webhook secret', async () => {
    const answer = await deep(null);

    expect(answer.status).toBe(401);
    expect(px.requests).toEqual([]);
  });

  it('names Gainsight as the failing part when it refuses the key', async () => {
    px.script({ method: 'GET', status: 401 });

    const answer = await deep();

    expect(answer.status).toBe(503);
    expect(answer.body.status).toBe('fail');
    expect(answer.body.checks.configuration.ok).toBe(true);
    expect(answer.body.checks.gainsight).toEqual({ ok: false, code: 'gainsight_auth', message: expect.stringContaining('401') });
  });

  describe('with SSM', () => {
    let ssm: FakeSsm;
    afterEach(() => ssm.close());

    /** The handler of a function reading SSM under /relay/obs, where only `parameters` exist. */
    async function ssmRelay(parameters: Record<string, FakeParameter>): Promise<Handler> {
      ssm = await startFakeSsm({ parameters });
      return loadHandler({ ...OUTPUT_ENV, ...awsTestEnv(ssm.endpoint), SSM_PREFIX: '/relay/obs', GAINSIGHT_PX_BASE_URL: px.baseUrl });
    }

    it('names the configuration as the failing part when a parameter is missing', async () => {
      const withSsm = await ssmRelay({
        '/relay/obs/api-key': { value: px.apiKey, type: 'SecureString' },
        '/relay/obs/webhook-secret': { value: SECRET, type: 'SecureString' },
      });

      const answer = await deep(SECRET, withSsm);

      expect(answer.status).toBe(503);
      expect(answer.body).toEqual({
        status: 'fail',
        version: expect.any(String),
        checks: { configuration: { ok: false, code: 'configuration_error', message: expect.stringContaining('/relay/obs/product-key') } },
      });
      expect(px.requests).toEqual([]);
    });

    it('tells a caller without the secret nothing about a missing parameter', async () => {
      const withSsm = await ssmRelay({
        '/relay/obs/api-key': { value: px.apiKey, type: 'SecureString' },
        '/relay/obs/webhook-secret': { value: SECRET, type: 'SecureString' },
      });

      const answer = await deep(null, withSsm);

      // Authentication first (docs/security.md): configuration details are for authenticated callers only.
      expect(answer.status).toBe(401);
      expect(answer.body.error.code).toBe('unauthorized');
      expect(answer.text).not.toContain('/relay/obs');
      expect(answer.text).not.toContain('product-key');
      expect(px.requests).toEqual([]);
    });

    it('answers every caller the generic 503 while the webhook secret cannot be loaded', async () => {
      const withSsm = await ssmRelay({
        '/relay/obs/api-key': { value: px.apiKey, type: 'SecureString' },
        '/relay/obs/product-key': { value: 'AP-OBS-1', type: 'String' },
      });

      const withSecret = await deep(SECRET, withSsm);
      const withoutSecret = await deep(null, withSsm);

      // Nobody can be authenticated, so nobody learns which parameter is missing (docs/security.md).
      const generic = { error: { code: 'unavailable', message: 'The relay is temporarily unavailable; try again later' } };
      expect(withSecret.status).toBe(503);
      expect(withSecret.body).toEqual(generic);
      expect(withoutSecret.status).toBe(503);
      expect(withoutSecret.body).toEqual(generic);
      expect(px.requests).toEqual([]);
      // The operator learns it from the log.
      const failures = capture.entries().filter((entry) => entry.message === 'configuration could not be loaded');
      expect(failures).toHaveLength(1);
      expect(String(failures[0]?.reason)).toContain('/relay/obs/webhook-secret');
    });
  });
});
