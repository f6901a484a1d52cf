import { Buffer } from 'node:buffer';
import { gzipSync } from 'node:zlib';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeGainsight, type RecordedRequest, startFakeGainsight } from '../support/fake-gainsight.ts';
import { type FakeSqs, startFakeSqs } from '../support/fake-sqs.ts';
import { type LoopbackServer, startLoopbackServer } from '../support/http.ts';
import { type AdapterExchange, type HttpAdapter, startHttpAdapter } from '../support/http-adapter.ts';
import { type Handler, call, httpApiEvent, loadHandler } from '../support/lambda.ts';

/**
 * Issue 8: the official RudderStack and Segment Node SDKs, configured only with the relay's URL
 * and a webhook secret as write key, talk to the REAL handler over loopback (through
 * test/support/http-adapter.ts, which plays API Gateway HTTP API 2.0). Asserted: the Gainsight
 * writes (same bodies as the webhook path), gzip, authentication, the bomb limit, per-call routes,
 * event-time derivation, mixed batches, and an SDK retry after a 503 that duplicates no custom event.
 */

const SECRET = 'wk-tracking-sdk-secret';
const PRODUCT_KEY = 'AP-SDK-TRACKING-2';
/** Small: the 503 tests wait it out once. */
const BUDGET_MS = 1200;
const RUDDER_RETRY_DELAY_MS = 100;
const basic = (user: string, colon = true): string => `Basic ${Buffer.from(colon ? `${user}:` : user, 'utf8').toString('base64')}`;

type Json = Record<string, any>;
type Sdk = 'rudderstack' | 'segment';

let px: FakeGainsight;
let sqs: FakeSqs;
let parkingUrl: string;
const opened: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  px = await startFakeGainsight();
  sqs = await startFakeSqs();
  parkingUrl = sqs.createQueue('tracking-sdk-parking');
});
afterAll(async () => {
  await Promise.all([px?.close(), sqs?.close()]);
});
beforeEach(() => px.reset());
afterEach(async () => {
  await Promise.all(opened.splice(0).map((server) => server.close()));
});

interface RelayOptions {
  settings?: Json;
  /** Gainsight base URL (a flaky proxy); default the fake. */
  baseUrl?: string;
  /** Configure the parking queue. */
  queue?: boolean;
}

function relayEnv(options: RelayOptions = {}): Record<string, string> {
  return {
    PX_API_KEY: px.apiKey,
    PX_PRODUCT_KEY: PRODUCT_KEY,
    WEBHOOK_SECRET: SECRET,
    GAINSIGHT_PX_BASE_URL: options.baseUrl ?? px.baseUrl,
    DELIVERY_BUDGET_MS: String(BUDGET_MS),
    ...(options.settings ? { PX_SETTINGS: JSON.stringify(options.settings) } : {}),
    ...(options.queue
      ? {
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'AKIDUMMY',
          AWS_SECRET_ACCESS_KEY: 'dummy-secret',
          AWS_ENDPOINT_URL_SQS: sqs.endpoint,
          DEAD_LETTER_QUEUE_URL: parkingUrl,
        }
      : {}),
  };
}

/** A fresh container (handler import) behind a fresh adapter. */
async function startRelay(options: RelayOptions = {}, onAnswer?: (exchange: AdapterExchange) => void): Promise<{ adapter: HttpAdapter; handler: Handler }> {
  const handler = await loadHandler(relayEnv(options));
  const adapter = await startHttpAdapter(handler, onAnswer ? { onAnswer } : {});
  opened.push(adapter);
  return { adapter, handler };
}

// --- the SDKs -------------------------------------------------------------------------------------

/** What a test asks an SDK to send (the subset of calls both SDKs share). */
interface Calls {
  identify(message: Json): void;
  group(message: Json): void;
  track(message: Json): void;
  page(message: Json): void;
}

/**
 * Runs `send` against a freshly built SDK client pointed at `url` with `writeKey`, then flushes
 * and waits for every request (and retry) to finish. Retries are kept short: RudderStack through
 * its axios-retry `retryDelay`, Segment has a fixed backoff of 1–2 s for its first retry.
 */
async function withSdk(sdk: Sdk, url: string, writeKey: string, send: (calls: Calls) => void): Promise<{ errors: unknown[] }> {
  const errors: unknown[] = [];
  if (sdk === 'rudderstack') {
    const client = new RudderAnalytics(writeKey, {
      dataPlaneUrl: url,
      flushAt: 20,
      flushInterval: 60_000,
      logLevel: 'none',
      retryCount: 3,
      axiosRetryConfig: { retryDelay: () => RUDDER_RETRY_DELAY_MS },
      errorHandler: (error: unknown) => {
        errors.push(error);
      },
    });
    send({
      identify: (message) => client.identify(message as never),
      group: (message) => client.group(message as never),
      track: (message) => client.track(message as never),
      page: (message) => client.page(message as never),
    });
    await client.flush();
    return { errors };
  }
  const client = new SegmentAnalytics({ writeKey, host: url, flushAt: 20, flushInterval: 60_000, maxRetries: 3, httpRequestTimeout: 10_000 });
  client.on('error', (error) => errors.push(error));
  send({
    identify: (message) => client.identify(message as never),
    group: (message) => client.group(message as never),
    track: (message) => client.track(message as never),
    page: (message) => client.page(message as never),
  });
  await client.closeAndFlush({ timeout: 15_000 });
  return { errors };
}

// --- helpers ----------------------------------------------------------------------------------------

/** The events of an exchange, as the relay sees them: unpacked, envelope context applied. */
function eventsOf(exchange: AdapterExchange): Json[] {
  const body = exchange.body as Json;
  const batch = exchange.path === '/v1/batch';
  const items: Json[] = batch ? body.batch : [body];
  return items.map((item) => {
    const event: Json = { ...item };
    if (!batch && (event.type === undefined || event.type === '')) event.type = exchange.path.slice('/v1/'.length);
    if (batch && body.context !== undefined) event.context = { ...body.context, ...item.context };
    if (batch && body.integrations !== undefined) event.integrations = { ...body.integrations, ...item.integrations };
    if (event.timestamp === undefined || event.timestamp === null) {
      // RudderStack's server: receivedAt − (sentAt − originalTimestamp), receivedAt = arrival.
      const skew = Date.parse(item.sentAt ?? body.sentAt) - Date.parse(item.originalTimestamp);
      event.timestamp = new Date(exchange.receivedAt - skew).toISOString();
    }
    return event;
  });
}

/** Every event the SDK got acknowledged, once each (an SDK retry resends the same message ids). */
function acknowledgedEvents(adapter: HttpAdapter): Json[] {
  const seen = new Set<string>();
  return adapter.exchanges
    .filter((exchange) => exchange.status === 200)
    .flatMap(eventsOf)
    .filter((event) => !seen.has(event.messageId) && (seen.add(event.messageId), true));
}

const writesOf = (requests: readonly RecordedRequest[]) =>
  requests.filter((request) => request.method !== 'GET').map(({ method, path, body }) => ({ method, path, body }));

const DATE_KEYS = new Set(['date', 'signUpDate', 'createDate', 'firstVisitDate', 'lastSeenDate']);

/**
 * `actual` with each date field (epoch ms) replaced by `expected`'s when they are within
 * `toleranceMs`: the webhook replay carries the arrival-derived time, the relay derived its own
 * a few ms later. Anything else is left for an exact comparison.
 */
function alignDates(actual: unknown, expected: unknown, toleranceMs: number): unknown {
  if (Array.isArray(actual) && Array.isArray(expected)) return actual.map((item, i) => alignDates(item, expected[i], toleranceMs));
  if (typeof actual !== 'object' || actual === null || typeof expected !== 'object' || expected === null) return actual;
  const out: Json = {};
  for (const [key, value] of Object.entries(actual)) {
    const other = (expected as Json)[key];
    out[key] =
      DATE_KEYS.has(key) && typeof value === 'number' && typeof other === 'number' && Math.abs(value - other) <= toleranceMs
        ? other
        : alignDates(value, other, toleranceMs);
  }
  return out;
}

/** POST to the adapter with fetch; `auth` is the Authorization header (omitted when undefined). */
async function post(
  adapter: HttpAdapter,
  path: string,
  body: unknown,
  options: { auth?: string; headers?: Record<string, string>; raw?: Buffer } = {},
): Promise<{ status: number; body: any; ms: number }> {
  const started = Date.now();
  const response = await fetch(`${adapter.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.auth === undefined ? {} : { authorization: options.auth }),
      ...options.headers,
    },
    body: options.raw ?? JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text), ms: Date.now() - started };
}

interface FlakyProxy {
  readonly baseUrl: string;
  /** While true, custom events named `failEventName` are answered 503 without reaching Gainsight. */
  failing: boolean;
  refused: number;
  close(): Promise<void>;
}

/** A loopback proxy in front of the fake Gainsight that fails ONE custom event retryably. */
async function startFlakyProxy(failEventName: string): Promise<FlakyProxy> {
  const target = new URL(px.baseUrl).origin;
  const state = { failing: true, refused: 0 };
  const server: LoopbackServer = await startLoopbackServer(async (req, res, rawBody) => {
    let parsed: Json | undefined;
    try {
      parsed = JSON.parse(rawBody) as Json;
    } catch {
      parsed = undefined;
    }
    if (state.failing && req.method === 'POST' && req.url === '/v1/events/custom' && parsed?.eventName === failEventName) {
      state.refused += 1;
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ externalapierror: { status: 'SERVICE_UNAVAILABLE', message: 'Service unavailable' } }));
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string' && !['host', 'connection', 'content-length', 'keep-alive', 'transfer-encoding'].includes(name)) headers[name] = value;
    }
    const upstream = await fetch(`${target}${req.url ?? '/'}`, {
      method: req.method ?? 'GET',
      headers,
      ...(rawBody === '' ? {} : { body: rawBody }),
    });
    const text = await upstream.text();
    const contentType = upstream.headers.get('content-type');
    res.writeHead(upstream.status, contentType ? { 'content-type': contentType } : {});
    res.end(upstream.status === 204 ? undefined : text);
  });
  opened.push(server);
  return Object.assign(state, { baseUrl: `${server.origin}/v1`, close: () => server.close() });
}

const customEventNames = (): string[] => px.customEvents.map((event) => (event as Json).eventName as string);

// --- 1, 2: both SDKs deliver, gzip / plain JSON ---------------------------------------------------

describe.each<{ sdk: Sdk; pageEvents: boolean }>([
  { sdk: 'rudderstack', pageEvents: true },
  { sdk: 'segment', pageEvents: false },
])('$sdk SDK → relay (pageEvents $pageEvents)', ({ sdk, pageEvents }) => {
  const settings = {
    pageEvents,
    userAttributeMap: [{ from: 'plan', to: 'planTier' }],
    accountAttributeMap: { tier: 'accountTier' },
  };

  it('delivers identify, group, track and page in one batch with the same Gainsight bodies as the webhook path', async () => {
    const user = `${sdk}-user-1`;
    const { adapter } = await startRelay({ settings });

    const { errors } = await withSdk(sdk, adapter.url, SECRET, (calls) => {
      calls.identify({ userId: user, traits: { email: `${user}@example.test`, name: 'Ada Lovelace', plan: 'pro', ignored: 'x' } });
      calls.group({ userId: user, groupId: `${sdk}-acme`, traits: { name: 'Acme Inc', industry: 'Software', tier: 'gold' } });
      calls.track({ userId: user, event: 'Report Exported', properties: { format: 'csv', rows: 3, filters: { region: 'EU' } } });
      calls.page({ userId: user, name: 'Pricing', properties: { path: '/pricing' } });
    });

    expect(errors).toEqual([]);
    const batches = adapter.on('/v1/batch');
    expect(adapter.exchanges).toHaveLength(batches.length);
    for (const exchange of batches) {
      expect(exchange.status).toBe(200);
      expect(exchange.headers.authorization).toBe(basic(SECRET));
    }
    // Batching: RudderStack's SDK sends the very first call at once, then batches the rest.
    const sizes = batches.map((exchange) => (exchange.body as Json).batch.length);
    expect(sizes).toEqual(sdk === 'rudderstack' ? [1, 3] : [4]);
    const results = batches.flatMap((exchange) => exchange.answer.results as Json[]);
    expect(results.map((result) => [result.type, result.status])).toEqual([
      ['identify', 'delivered'],
      ['group', 'delivered'],
      ['track', 'delivered'],
      ['page', pageEvents ? 'delivered' : 'skipped'],
    ]);

    // The Gainsight writes for a user and account it does not know yet.
    expect(px.calls()).toEqual([
      `PUT /users/${user}`,
      'POST /users',
      `PUT /accounts/${sdk}-acme`,
      'POST /accounts',
      `PUT /users/${user}`,
      'POST /events/custom',
      ...(pageEvents ? ['POST /events/custom'] : []),
    ]);
    expect(px.users.get(user)).toMatchObject({
      identifyId: user,
      email: `${user}@example.test`,
      firstName: 'Ada',
      lastName: 'Lovelace',
      accountId: `${sdk}-acme`,
      customAttributes: { planTier: 'pro' },
      propertyKeys: [PRODUCT_KEY],
    });
    expect(px.accounts.get(`${sdk}-acme`)).toMatchObject({ id: `${sdk}-acme`, name: 'Acme Inc', industry: 'Software', customAttributes: { accountTier: 'gold' } });
    expect(px.customEvents[0]).toMatchObject({
      eventName: 'Report Exported',
      identifyId: user,
      propertyKey: PRODUCT_KEY,
      userType: 'USER',
      attributes: { format: 'csv', rows: 3, filters: '{"region":"EU"}' },
    });
    if (pageEvents) expect(px.customEvents[1]).toMatchObject({ eventName: 'Viewed Pricing Page', identifyId: user, attributes: { path: '/pricing' } });
    // Every Gainsight date is the event time, whatever the SDK sent: within the request's window.
    const window = [Math.min(...batches.map((e) => e.receivedAt)) - 5_000, Math.max(...batches.map((e) => e.answeredAt as number))];
    expect((px.customEvents[0] as Json).date).toBeGreaterThanOrEqual(window[0] as number);
    expect((px.customEvents[0] as Json).date).toBeLessThanOrEqual(window[1] as number);
    const viaSdk = writesOf(px.requests);

    // The webhook path: the same events, one per request as RudderStack's webhook sends them,
    // on a fresh Gainsight and a fresh container.
    px.reset();
    const webhook = await loadHandler(relayEnv({ settings }));
    const replayed = acknowledgedEvents(adapter);
    expect(replayed.map((event) => event.type)).toEqual(['identify', 'group', 'track', 'page']);
    for (const event of replayed) {
      const answer = await call(webhook, httpApiEvent({ secret: SECRET, body: event }));
      expect(answer.status, answer.text).toBe(200);
    }
    const viaWebhook = writesOf(px.requests);

    expect(viaWebhook).toHaveLength(viaSdk.length);
    // Segment's SDK stamps `timestamp` itself: identical. RudderStack's does not: the relay
    // derived it a few ms after the adapter's arrival time used for the replay.
    expect(alignDates(viaSdk, viaWebhook, sdk === 'segment' ? 0 : 1_000)).toEqual(viaWebhook);
  });

  it(sdk === 'rudderstack' ? 'decodes the gzip body it sends (Content-Encoding gzip, base64 through API Gateway)' : 'decodes the plain JSON body it sends', async () => {
    const { adapter } = await startRelay();

    await withSdk(sdk, adapter.url, SECRET, (calls) => {
      calls.track({ userId: `${sdk}-gz`, event: 'Encoded Event', properties: { big: 'x'.repeat(2_000) } });
    });

    const [exchange] = adapter.exchanges;
    expect(adapter.exchanges).toHaveLength(1);
    expect(exchange?.status).toBe(200);
    const body = exchange?.body as Json;
    expect(body.batch).toHaveLength(1);
    expect(body.sentAt).toEqual(expect.any(String));
    if (sdk === 'rudderstack') {
      expect(exchange?.headers['content-encoding']).toBe('gzip');
      // The SDK labels the gzip body as a form (axios' default for a Buffer); the relay reads JSON anyway.
      expect(exchange?.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(exchange?.event.isBase64Encoded).toBe(true);
      expect(exchange?.rawBody.length).toBeLessThan(Buffer.byteLength(JSON.stringify(body)));
    } else {
      expect(exchange?.headers['content-encoding']).toBeUndefined();
      expect(exchange?.headers['content-type']).toBe('application/json');
      expect(exchange?.event.isBase64Encoded).toBe(false);
      expect(body.writeKey).toBe(SECRET);
    }
    expect(px.calls()).toEqual(['POST /events/custom']);
    expect(px.customEvents[0]).toMatchObject({ eventName: 'Encoded Event', identifyId: `${sdk}-gz`, attributes: { big: 'x'.repeat(2_000) } });
  });

  it('a wrong write key is answered 401 once, not retried, and nothing reaches Gainsight', async () => {
    const { adapter } = await startRelay();

    const { errors } = await withSdk(sdk, adapter.url, 'not-the-write-key', (calls) => {
      calls.track({ userId: `${sdk}-wrong`, event: 'Never Sent' });
    });

    expect(adapter.exchanges.map((exchange) => exchange.status)).toEqual([401]);
    expect(adapter.exchanges[0]?.answer).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
    expect(errors.length).toBeGreaterThan(0);
    expect(px.requests).toEqual([]);
  });

  // --- 3: retry after a 503 ------------------------------------------------------------------------

  it('a custom event that fails retryably → 503 → the SDK retries → every custom event lands exactly once', async () => {
    const proxy = await startFlakyProxy('Fail Me');
    const { adapter } = await startRelay({ baseUrl: proxy.baseUrl }, (exchange) => {
      // Gainsight recovers right after the relay gave up on the first attempt.
      if (exchange.status === 503) proxy.failing = false;
    });

    const started = Date.now();
    const { errors } = await withSdk(sdk, adapter.url, SECRET, (calls) => {
      calls.identify({ userId: `${sdk}-a`, traits: { email: 'a@example.test' } });
      calls.track({ userId: `${sdk}-a`, event: 'Event A', messageId: `${sdk}-msg-a` });
      calls.track({ userId: `${sdk}-b`, event: 'Fail Me', messageId: `${sdk}-msg-b` });
      calls.track({ userId: `${sdk}-c`, event: 'Event C', messageId: `${sdk}-msg-c` });
    });
    const elapsed = Date.now() - started;

    expect(errors).toEqual([]);
    expect(proxy.refused).toBeGreaterThan(0);
    const withTracks = adapter.exchanges.filter((exchange) => (exchange.body as Json).batch.some((event: Json) => event.type === 'track'));
    expect(withTracks.map((exchange) => exchange.status)).toEqual([503, 200]);
    const [first, retry] = withTracks as [AdapterExchange, AdapterExchange];
    // The SDK resent the same batch.
    const ids = (exchange: AdapterExchange) => (exchange.body as Json).batch.map((event: Json) => event.messageId);
    expect(ids(retry)).toEqual(ids(first));
    if (sdk === 'segment') expect(retry.headers['x-retry-count']).toBe('1');

    // The 503 lists what landed and what did not.
    const byId = (exchange: AdapterExchange) =>
      Object.fromEntries((exchange.answer.error?.details?.results ?? exchange.answer.results).filter((r: Json) => r.type === 'track').map((r: Json) => [r.messageId, r]));
    expect(first.answer.error.code).toEqual(expect.any(String));
    expect(byId(first)).toMatchObject({
      [`${sdk}-msg-a`]: { status: 'delivered' },
      [`${sdk}-msg-b`]: { status: 'failed' },
      [`${sdk}-msg-c`]: { status: 'delivered' },
    });
    // The retry: A and C recognised as already delivered, B delivered now.
    expect(byId(retry)).toMatchObject({
      [`${sdk}-msg-a`]: { status: 'delivered', duplicate: true, calls: 0 },
      [`${sdk}-msg-b`]: { status: 'delivered' },
      [`${sdk}-msg-c`]: { status: 'delivered', duplicate: true, calls: 0 },
    });
    expect(byId(retry)[`${sdk}-msg-b`].duplicate).toBeUndefined();

    expect(customEventNames().sort()).toEqual(['Event A', 'Event C', 'Fail Me']);
    expect(elapsed).toBeLessThan(BUDGET_MS + 5_000);
  });

  it('with a parking queue, the same failure is answered 200, the event parked, and the SDK does not retry', async () => {
    const proxy = await startFlakyProxy('Fail Me');
    const { adapter } = await startRelay({ baseUrl: proxy.baseUrl, queue: true });
    const before = sqs.messages(parkingUrl).length;

    const { errors } = await withSdk(sdk, adapter.url, SECRET, (calls) => {
      calls.identify({ userId: `${sdk}-pa`, traits: { email: 'pa@example.test' } });
      calls.track({ userId: `${sdk}-pa`, event: 'Event A', messageId: `${sdk}-park-a` });
      calls.track({ userId: `${sdk}-pb`, event: 'Fail Me', messageId: `${sdk}-park-b` });
    });

    expect(errors).toEqual([]);
    expect(adapter.exchanges.every((exchange) => exchange.status === 200)).toBe(true);
    const withTracks = adapter.exchanges.filter((exchange) => (exchange.body as Json).batch.some((event: Json) => event.type === 'track'));
    expect(withTracks).toHaveLength(1); // no retry
    const results = withTracks[0]?.answer.results as Json[];
    expect(results.find((r) => r.messageId === `${sdk}-park-a`)).toMatchObject({ status: 'delivered' });
    expect(results.find((r) => r.messageId === `${sdk}-park-b`)).toMatchObject({ status: 'queued' });

    const parked = sqs.messages(parkingUrl).slice(before).map((message) => JSON.parse(message.body) as Json);
    expect(parked).toHaveLength(1);
    expect(parked[0]).toMatchObject({ kind: 'gainsight-px-relay.parked-event', event: { messageId: `${sdk}-park-b`, event: 'Fail Me' } });
    expect(customEventNames()).toEqual(['Event A']);
  });
});

// --- 4: limits and authentication ----------------------------------------------------------------

describe('limits and authentication on /v1/*', () => {
  const oneTrack = (id: string, extra: Json = {}) => ({
    batch: [{ type: 'track', messageId: id, userId: `u-${id}`, event: 'Auth Probe', timestamp: '2024-05-06T07:08:09.010Z' }],
    sentAt: new Date().toISOString(),
    ...extra,
  });

  it('a gzip bomb is a 413, answered quickly and without inflating it', async () => {
    const { adapter } = await startRelay();
    // 20 MB of zeros in one member, and 256 MiB as repeated 1 MiB members (~260 KB on the wire).
    const member = gzipSync(Buffer.alloc(1024 * 1024), { level: 9 });
    const bombs = [gzipSync(Buffer.alloc(20 * 1024 * 1024), { level: 9 }), Buffer.concat(Array.from({ length: 256 }, () => member))];
    for (const bomb of bombs) {
      expect(bomb.length).toBeLessThan(400 * 1024);
      const rssBefore = process.memoryUsage().rss;
      const answer = await post(adapter, '/v1/batch', undefined, {
        auth: basic(SECRET),
        raw: bomb,
        headers: { 'content-encoding': 'gzip', 'content-type': 'application/json' },
      });
      const grown = process.memoryUsage().rss - rssBefore;

      expect(answer.status).toBe(413);
      expect(answer.body.error.code).toEqual(expect.any(String));
      expect(answer.ms).toBeLessThan(1_000);
      expect(grown).toBeLessThan(96 * 1024 * 1024);
    }
    expect(adapter.exchanges.every((exchange) => exchange.event.isBase64Encoded === true)).toBe(true);
    expect(px.requests).toEqual([]);
  });

  it('Basic with a wrong key, or without the colon, is 401; the right key is 200', async () => {
    const { adapter } = await startRelay();

    expect((await post(adapter, '/v1/batch', oneTrack('wrong'), { auth: basic('wrong-key') })).status).toBe(401);
    expect((await post(adapter, '/v1/batch', oneTrack('nocolon'), { auth: basic(SECRET, false) })).status).toBe(401);
    expect((await post(adapter, '/v1/batch', oneTrack('password'), { auth: `Basic ${Buffer.from(`${SECRET}:pw`).toString('base64')}` })).status).toBe(401);
    expect((await post(adapter, '/v1/batch', oneTrack('nokey'))).status).toBe(401);
    expect(px.requests).toEqual([]);

    const ok = await post(adapter, '/v1/batch', oneTrack('right'), { auth: basic(SECRET) });
    expect(ok.status).toBe(200);
    expect(customEventNames()).toEqual(['Auth Probe']);
  });

  it('a writeKey in the body without Authorization is accepted; a wrong one is 401', async () => {
    const { adapter } = await startRelay();

    const wrong = await post(adapter, '/v1/batch', oneTrack('body-wrong', { writeKey: 'nope' }));
    expect(wrong.status).toBe(401);
    expect(px.requests).toEqual([]);

    const right = await post(adapter, '/v1/batch', oneTrack('body-right', { writeKey: SECRET }));
    expect(right.status).toBe(200);
    expect(right.body.results).toEqual([expect.objectContaining({ messageId: 'body-right', status: 'delivered' })]);
    // A single call carries its own writeKey.
    const single = await post(adapter, '/v1/track', { userId: 'u-single-key', event: 'Single Key', writeKey: SECRET, messageId: 'single-key' });
    expect(single.status).toBe(200);
    expect(customEventNames()).toEqual(['Auth Probe', 'Single Key']);
  });

  it('Bearer works on /v1/*; Basic is refused on /events', async () => {
    const { adapter } = await startRelay();

    const bearer = await post(adapter, '/v1/batch', oneTrack('bearer'), { auth: `Bearer ${SECRET}` });
    expect(bearer.status).toBe(200);
    expect(customEventNames()).toEqual(['Auth Probe']);

    const basicOnEvents = await post(adapter, '/events', oneTrack('basic-events').batch[0], { auth: basic(SECRET) });
    expect(basicOnEvents.status).toBe(401);
    const bodyKeyOnEvents = await post(adapter, '/events', { ...oneTrack('key-events').batch[0], writeKey: SECRET });
    expect(bodyKeyOnEvents.status).toBe(401);
    expect(customEventNames()).toEqual(['Auth Probe']);
  });
});

// --- 5: single-call routes -----------------------------------------------------------------------

describe('single-call routes', () => {
  it('/v1/identify, /v1/group, /v1/track take one call whose type comes from the path', async () => {
    const { adapter } = await startRelay();
    const auth = basic(SECRET);

    const identify = await post(adapter, '/v1/identify', { userId: 'solo-1', messageId: 'solo-i', traits: { email: 'solo@example.test' } }, { auth });
    expect(identify.status).toBe(200);
    expect(identify.body.results).toEqual([expect.objectContaining({ messageId: 'solo-i', type: 'identify', status: 'delivered' })]);
    expect(px.users.get('solo-1')).toMatchObject({ identifyId: 'solo-1', email: 'solo@example.test' });

    const group = await post(adapter, '/v1/group', { userId: 'solo-1', groupId: 'solo-acct', traits: { name: 'Solo Ltd' } }, { auth });
    expect(group.status).toBe(200);
    expect(group.body.results).toEqual([expect.objectContaining({ type: 'group', status: 'delivered' })]);
    expect(px.users.get('solo-1')?.accountId).toBe('solo-acct');

    const track = await post(adapter, '/v1/track', { userId: 'solo-1', event: 'Solo Tracked', properties: { n: 1 } }, { auth });
    expect(track.status).toBe(200);
    expect(px.customEvents).toEqual([expect.objectContaining({ eventName: 'Solo Tracked', identifyId: 'solo-1', attributes: { n: 1 } })]);

    expect(px.calls()).toEqual(['PUT /users/solo-1', 'POST /users', 'PUT /accounts/solo-acct', 'POST /accounts', 'PUT /users/solo-1', 'POST /events/custom']);
  });

  it('/v1/page and /v1/screen follow pageEvents; /v1/alias is skipped', async () => {
    const auth = basic(SECRET);
    const off = await startRelay();
    for (const path of ['/v1/page', '/v1/screen', '/v1/alias']) {
      const answer = await post(off.adapter, path, { userId: 'solo-2', previousId: 'anon-2', name: 'Home' }, { auth });
      expect(answer.status, path).toBe(200);
      expect(answer.body.results).toEqual([expect.objectContaining({ type: path.slice(4), status: 'skipped' })]);
    }
    expect(px.requests).toEqual([]);

    const on = await startRelay({ settings: { pageEvents: true } });
    expect((await post(on.adapter, '/v1/page', { userId: 'solo-2', name: 'Home' }, { auth })).status).toBe(200);
    expect((await post(on.adapter, '/v1/screen', { userId: 'solo-2', name: 'Settings' }, { auth })).status).toBe(200);
    expect(customEventNames()).toEqual(['Viewed Home Page', 'Viewed Settings Screen']);
  });
});

// --- 6: event time --------------------------------------------------------------------------------

describe('event time on /v1/*', () => {
  const HOUR = 3_600_000;

  it('without timestamp: receivedAt − (sentAt − originalTimestamp), the device clock skew removed; with timestamp: kept', async () => {
    const { adapter } = await startRelay();
    // A device whose clock is 3 days ahead: it says the event happened 1 h before it sent it.
    const deviceNow = Date.now() + 3 * 24 * HOUR;
    const kept = '2024-05-06T07:08:09.010Z';
    const body = {
      sentAt: new Date(deviceNow).toISOString(),
      // The envelope's context applies to every event; an event's own keys win.
      context: { page: { url: 'https://app.example.test/envelope', referrer: 'https://ref.example.test/' } },
      batch: [
        { type: 'track', messageId: 't-env', userId: 'time-1', event: 'Envelope SentAt', originalTimestamp: new Date(deviceNow - HOUR).toISOString() },
        // The event's own sentAt wins over the envelope's.
        {
          type: 'track',
          messageId: 't-own',
          userId: 'time-2',
          event: 'Own SentAt',
          originalTimestamp: new Date(deviceNow - 7 * HOUR).toISOString(),
          sentAt: new Date(deviceNow - 7 * HOUR + 10 * 60_000).toISOString(),
          context: { page: { url: 'https://app.example.test/own' } },
        },
        { type: 'track', messageId: 't-kept', userId: 'time-3', event: 'Has Timestamp', timestamp: kept, originalTimestamp: new Date(deviceNow).toISOString() },
      ],
    };

    const answer = await post(adapter, '/v1/batch', body, { auth: basic(SECRET) });

    expect(answer.status).toBe(200);
    const [exchange] = adapter.exchanges as [AdapterExchange];
    const dateOf = (name: string) => (px.customEvents.find((event) => (event as Json).eventName === name) as Json).date as number;
    const within = (actual: number, offset: number) => {
      expect(actual).toBeGreaterThanOrEqual(exchange.receivedAt - offset);
      expect(actual).toBeLessThanOrEqual((exchange.answeredAt as number) - offset);
    };
    within(dateOf('Envelope SentAt'), HOUR);
    within(dateOf('Own SentAt'), 10 * 60_000);
    expect(dateOf('Has Timestamp')).toBe(Date.parse(kept));
    const custom = (name: string) => px.customEvents.find((event) => (event as Json).eventName === name) as Json;
    expect(custom('Envelope SentAt')).toMatchObject({ url: 'https://app.example.test/envelope', referrer: 'https://ref.example.test/' });
    expect(custom('Own SentAt').url).toBe('https://app.example.test/own');
    expect(custom('Own SentAt').referrer).toBeUndefined();
  });

  it('the RudderStack SDK with an originalTimestamp 1 h before sending: the Gainsight date is arrival − 1 h', async () => {
    const { adapter } = await startRelay();
    const original = new Date(Date.now() - HOUR);

    await withSdk('rudderstack', adapter.url, SECRET, (calls) => {
      calls.track({ userId: 'time-sdk', event: 'Queued Offline', originalTimestamp: original });
    });

    const [exchange] = adapter.exchanges as [AdapterExchange];
    expect(exchange.status).toBe(200);
    const sent = (exchange.body as Json).batch[0] as Json;
    expect(sent.timestamp).toBeUndefined();
    const skew = Date.parse(sent.sentAt) - Date.parse(sent.originalTimestamp);
    expect(skew).toBeGreaterThanOrEqual(HOUR);
    const date = (px.customEvents[0] as Json).date as number;
    expect(date).toBeGreaterThanOrEqual(exchange.receivedAt - skew);
    expect(date).toBeLessThanOrEqual((exchange.answeredAt as number) - skew);
  });
});

// --- 7: mixed batch with an invalid event ---------------------------------------------------------

describe('a batch with an invalid event', () => {
  it('delivers the valid events, answers 400 listing every outcome, and a resend duplicates nothing', async () => {
    const { adapter } = await startRelay();
    const body = {
      sentAt: new Date().toISOString(),
      batch: [
        { type: 'identify', messageId: 'mix-i', userId: 'mix-1', traits: { email: 'mix@example.test' } },
        { type: 'track', messageId: 'mix-bad', userId: 'mix-1', properties: { no: 'event name' } },
        { type: 'track', messageId: 'mix-t', userId: 'mix-2', event: 'Valid Track' },
      ],
    };

    const answer = await post(adapter, '/v1/batch', body, { auth: basic(SECRET) });

    expect(answer.status).toBe(400);
    expect(answer.body.error.details.results).toEqual([
      expect.objectContaining({ messageId: 'mix-i', type: 'identify', status: 'delivered' }),
      expect.objectContaining({ messageId: 'mix-bad', type: 'track', status: 'failed', error: expect.objectContaining({ code: expect.any(String) }) }),
      expect.objectContaining({ messageId: 'mix-t', type: 'track', status: 'delivered' }),
    ]);
    expect(px.users.get('mix-1')).toMatchObject({ email: 'mix@example.test' });
    expect(customEventNames()).toEqual(['Valid Track']);

    // A sender that resends the batch anyway: still 400, the custom event is not sent again.
    const again = await post(adapter, '/v1/batch', body, { auth: basic(SECRET) });
    expect(again.status).toBe(400);
    expect(again.body.error.details.results[2]).toMatchObject({ messageId: 'mix-t', status: 'delivered', duplicate: true });
    expect(customEventNames()).toEqual(['Valid Track']);
  });
});
