/**
 * Representative inbound events, shaped as RudderStack's webhook destination sends them
 * (context, integrations, timestamps; traits in `context.traits` for identify), about 1 KB each.
 * `index` varies ids and values so no two events are identical.
 */

const TIME = '2026-11-28T10:11:12.345Z';

const context = (index, traits) => ({
  app: { build: '1.0.0', name: 'RudderLabs JavaScript SDK', namespace: 'com.rudderlabs.javascript', version: '3.7.1' },
  library: { name: 'RudderLabs JavaScript SDK', version: '3.7.1' },
  locale: 'en-GB',
  os: { name: '', version: '' },
  page: {
    path: '/app/reports',
    referrer: 'https://example.test/app',
    search: '',
    title: 'Reports',
    url: `https://example.test/app/reports?r=${index}`,
  },
  screen: { density: 2, width: 1512, height: 982 },
  userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  ip: '203.0.113.7',
  sessionId: 1764324672000 + (index % 97),
  ...(traits ? { traits } : {}),
});

const common = (index, type) => ({
  type,
  messageId: `bench-${type}-${index}`,
  anonymousId: `anon-${index % 5000}`,
  userId: `user-${index % 5000}`,
  channel: 'web',
  rudderId: `rudder-${index}`,
  originalTimestamp: TIME,
  sentAt: TIME,
  receivedAt: TIME,
  timestamp: TIME,
  integrations: { All: true },
});

export const SETTINGS = {
  userAttributeMap: [
    { from: 'plan', to: 'planTier' },
    { from: 'seats', to: 'seatCount' },
  ],
  accountAttributeMap: [{ from: 'region', to: 'salesRegion' }],
  globalContextMap: [{ from: 'source', to: 'rudderstack' }],
  pageEvents: true,
};

export const identify = (index, userId = `user-${index % 5000}`) => ({
  ...common(index, 'identify'),
  userId,
  context: context(index, {
    email: `${userId}@example.test`,
    name: `Ada Lovelace${index}`,
    title: 'Engineer',
    phone: '+44 20 7946 0000',
    plan: 'enterprise',
    seats: 25 + (index % 10),
    createdAt: '2024-02-03T04:05:06Z',
    address: { city: 'London', country: 'United Kingdom', postalCode: 'EC1A 1BB' },
  }),
});

export const group = (index, groupId = `account-${index % 500}`, userId = `user-${index % 5000}`) => ({
  ...common(index, 'group'),
  userId,
  groupId,
  traits: {
    name: `Example Corp ${groupId}`,
    industry: 'Software',
    employees: 250 + (index % 50),
    plan: 'enterprise',
    website: 'https://example.test',
    region: 'EMEA',
    address: { city: 'Berlin', country: 'Germany' },
  },
  context: context(index),
});

export const track = (index, userId = `user-${index % 5000}`) => ({
  ...common(index, 'track'),
  userId,
  event: 'Report Exported',
  properties: {
    format: 'csv',
    rows: 1200 + (index % 300),
    durationMs: 340 + (index % 60),
    filters: { period: 'last-30-days', team: 'growth' },
    tags: ['weekly', 'finance'],
    shared: index % 2 === 0,
  },
  context: context(index),
});

export const page = (index) => ({
  ...common(index, 'page'),
  name: 'Reports',
  category: 'App',
  properties: { path: '/app/reports', title: 'Reports', url: `https://example.test/app/reports?r=${index}` },
  context: context(index),
});

export const screen = (index) => ({ ...page(index), type: 'screen', messageId: `bench-screen-${index}`, name: 'Dashboard' });

/** Builders per call type the relay forwards, in the order the table lists them. */
export const BUILDERS = { identify, group, track, page, screen };

/** An API Gateway HTTP API (payload 2.0) request carrying `body` to POST /events. */
export function httpApiEvent(body, secret, index = 0) {
  const text = JSON.stringify(body);
  return {
    version: '2.0',
    routeKey: 'POST /events',
    rawPath: '/events',
    rawQueryString: '',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${secret}`,
      'content-length': String(Buffer.byteLength(text)),
      'user-agent': 'RudderLabs',
      host: 'relay.example.test',
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'bench',
      domainName: 'relay.example.test',
      http: { method: 'POST', path: '/events', protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'RudderLabs' },
      requestId: `bench-${index}`,
      routeKey: 'POST /events',
      stage: '$default',
      time: '28/Nov/2026:10:11:12 +0000',
      timeEpoch: 1764324672345,
    },
    body: text,
    isBase64Encoded: false,
  };
}

/** A Lambda context whose deadline is the function's timeout (15 s) from now. */
export function lambdaContext(index = 0, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'gainsight-px-relay-prod-relay',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:gainsight-px-relay-prod-relay',
    memoryLimitInMB: '512',
    awsRequestId: `bench-request-${index}`,
    logGroupName: '/aws/lambda/gainsight-px-relay-prod-relay',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
