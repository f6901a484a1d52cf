import { GetParameterCommand, GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGainsight, type FakeGainsight } from '../support/fake-gainsight.ts';
import { startFakeSsm, type FakeSsm } from '../support/fake-ssm.ts';

/**
 * Self-tests of the loopback fakes: the SSM fake is driven by the real `@aws-sdk/client-ssm`,
 * the Gainsight fake by plain fetch, so the integration tests can trust what they record.
 */

const PRODUCT_KEY = 'AP-TEST000000-2';

describe('fake SSM (AWS JSON 1.1, real @aws-sdk/client-ssm)', () => {
  let fake: FakeSsm;
  let client: SSMClient;

  beforeAll(async () => {
    fake = await startFakeSsm({
      parameters: {
        '/gainsight-px-relay/test/api-key': { value: 'px-secret', type: 'SecureString' },
        '/gainsight-px-relay/test/product-key': { value: PRODUCT_KEY },
        '/gainsight-px-relay/test/hosts': { value: 'a,b', type: 'StringList' },
      },
    });
    client = new SSMClient({
      region: 'us-east-1',
      endpoint: fake.endpoint,
      credentials: { accessKeyId: 'AKIDUMMY', secretAccessKey: 'dummy' },
      maxAttempts: 1, // scripted failures must surface, not be retried away by the SDK
    });
  });
  afterEach(() => {
    fake.calls.length = 0;
  });
  afterAll(async () => {
    client.destroy();
    await fake.close();
  });

  it('answers GetParameters with decrypted values and lists unknown names as invalid', async () => {
    // Act
    const out = await client.send(
      new GetParametersCommand({
        Names: [
          '/gainsight-px-relay/test/api-key',
          '/gainsight-px-relay/test/product-key',
          '/gainsight-px-relay/test/hosts',
          '/gainsight-px-relay/test/missing',
        ],
        WithDecryption: true,
      }),
    );

    // Assess
    expect(out.InvalidParameters).toEqual(['/gainsight-px-relay/test/missing']);
    expect(out.Parameters?.map((p) => [p.Name, p.Type, p.Value, p.Version])).toEqual([
      ['/gainsight-px-relay/test/api-key', 'SecureString', 'px-secret', 1],
      ['/gainsight-px-relay/test/product-key', 'String', PRODUCT_KEY, 1],
      ['/gainsight-px-relay/test/hosts', 'StringList', 'a,b', 1],
    ]);
    expect(out.Parameters?.[0]?.ARN).toBe('arn:aws:ssm:us-east-1:123456789012:parameter/gainsight-px-relay/test/api-key');
    expect(out.Parameters?.[0]?.LastModifiedDate).toBeInstanceOf(Date);
  });

  it('records the target, the SigV4 headers and the body the SDK sent', async () => {
    await client.send(new GetParametersCommand({ Names: ['/gainsight-px-relay/test/product-key'], WithDecryption: true }));

    expect(fake.calls).toHaveLength(1);
    const [call] = fake.calls;
    expect(call?.target).toBe('AmazonSSM.GetParameters');
    expect(call?.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(call?.headers['authorization']).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDUMMY\/\d{8}\/us-east-1\/ssm\/aws4_request/);
    expect(call?.body).toEqual({ Names: ['/gainsight-px-relay/test/product-key'], WithDecryption: true });
    expect(call?.status).toBe(200);
    expect(fake.requestedNames()).toEqual(['/gainsight-px-relay/test/product-key']);
  });

  it('never reveals a SecureString asked for without WithDecryption', async () => {
    const out = await client.send(new GetParametersCommand({ Names: ['/gainsight-px-relay/test/api-key'] }));

    const value = out.Parameters?.[0]?.Value;
    expect(value).toMatch(/^AQICAH-ENCRYPTED-/);
    expect(value).not.toContain('px-secret');
  });

  it('serves parameters set and deleted while running, with a new version on change', async () => {
    fake.setParameter('/gainsight-px-relay/test/settings', '{"pageEvents":true}');
    fake.setParameter('/gainsight-px-relay/test/settings', '{"pageEvents":false}');
    fake.deleteParameter('/gainsight-px-relay/test/product-key');

    const out = await client.send(
      new GetParametersCommand({
        Names: ['/gainsight-px-relay/test/settings', '/gainsight-px-relay/test/product-key'],
        WithDecryption: true,
      }),
    );

    expect(out.Parameters?.map((p) => [p.Name, p.Value, p.Version])).toEqual([
      ['/gainsight-px-relay/test/settings', '{"pageEvents":false}', 2],
    ]);
    expect(out.InvalidParameters).toEqual(['/gainsight-px-relay/test/product-key']);
    fake.setParameter('/gainsight-px-relay/test/product-key', PRODUCT_KEY);
  });

  it('turns a scripted error into the typed SDK exception, then answers normally', async () => {
    fake.script({ status: 400, body: { __type: 'ThrottlingException', message: 'Rate exceeded' } });

    await expect(
      client.send(new GetParametersCommand({ Names: ['/gainsight-px-relay/test/product-key'], WithDecryption: true })),
    ).rejects.toMatchObject({ name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
    const out = await client.send(
      new GetParametersCommand({ Names: ['/gainsight-px-relay/test/product-key'], WithDecryption: true }),
    );

    expect(out.Parameters?.[0]?.Value).toBe(PRODUCT_KEY);
    expect(fake.calls.map((call) => call.status)).toEqual([400, 200]);
    expect(fake.pendingScripts()).toBe(0);
  });

  it('defaults a scripted 5xx to an InternalServerError body', async () => {
    fake.script({ status: 500 });

    await expect(
      client.send(new GetParametersCommand({ Names: ['/gainsight-px-relay/test/product-key'] })),
    ).rejects.toMatchObject({ name: 'InternalServerError', $metadata: { httpStatusCode: 500 } });
  });

  it('lets the SDK fail on a reset connection', async () => {
    fake.script({ reset: true });

    await expect(
      client.send(new GetParametersCommand({ Names: ['/gainsight-px-relay/test/product-key'] })),
    ).rejects.toThrow();
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]?.status).toBeUndefined();
  });

  it('refuses other operations with InvalidAction', async () => {
    await expect(
      client.send(new GetParameterCommand({ Name: '/gainsight-px-relay/test/product-key', WithDecryption: true })),
    ).rejects.toMatchObject({ name: 'InvalidAction', $metadata: { httpStatusCode: 400 } });
    expect(fake.calls[0]?.target).toBe('AmazonSSM.GetParameter');
  });

  it('refuses unsigned requests and the wrong content type', async () => {
    const body = JSON.stringify({ Names: ['/gainsight-px-relay/test/product-key'], WithDecryption: true });
    const unsigned = await fetch(fake.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonSSM.GetParameters' },
      body,
    });
    const wrongType = await fetch(fake.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-amz-target': 'AmazonSSM.GetParameters',
        authorization: 'AWS4-HMAC-SHA256 Credential=AKIDUMMY/20260101/us-east-1/ssm/aws4_request',
      },
      body,
    });

    expect(unsigned.status).toBe(400);
    expect(await unsigned.json()).toMatchObject({ __type: 'MissingAuthenticationTokenException' });
    expect(wrongType.status).toBe(400);
    expect(await wrongType.json()).toMatchObject({ __type: 'SerializationException' });
  });

  it('ends a hanging call on close, so nothing waits forever', async () => {
    const own = await startFakeSsm({ parameters: { '/x': { value: 'y' } } });
    const ownClient = new SSMClient({
      region: 'us-east-1',
      endpoint: own.endpoint,
      credentials: { accessKeyId: 'AKIDUMMY', secretAccessKey: 'dummy' },
      maxAttempts: 1,
    });
    own.script({ hang: true });

    // Observed at once: the call fails while close() runs, before anyone awaits it.
    const pending = ownClient.send(new GetParametersCommand({ Names: ['/x'] })).then(() => 'answered', (error: unknown) => error);
    await expect.poll(() => own.calls.length).toBe(1);
    const started = Date.now();
    await own.close();

    expect(await pending).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(1_000);
    ownClient.destroy();
  });
});

describe('fake Gainsight PX REST API', () => {
  let px: FakeGainsight;

  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${px.baseUrl}${path}`, {
      method,
      headers: {
        'x-aptrinsic-api-key': px.apiKey,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });

  beforeAll(async () => {
    px = await startFakeGainsight({ apiKey: 'px-key' });
  });
  afterEach(() => px.reset());
  afterAll(() => px.close());

  it('listens on loopback under /v1', () => {
    expect(px.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  });

  it('walks the user upsert cycle: PUT 404, POST 201, duplicate POST 400, PUT 204 merge', async () => {
    // Act
    const missing = await call('PUT', '/users/u1', { email: 'a@b.c' });
    const create = await call('POST', '/users', { identifyId: 'u1', email: 'a@b.c', firstName: 'Ada', propertyKeys: [PRODUCT_KEY] });
    const duplicate = await call('POST', '/users', { identifyId: 'u1', propertyKeys: [PRODUCT_KEY] });
    const update = await call('PUT', '/users/u1', { email: 'new@b.c', title: 'CTO' });
    const read = await call('GET', '/users/u1');

    // Assess
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      externalapierror: { status: 'NOT_FOUND', message: 'User was not found for parameters {id=u1}', debugMessage: null, subErrors: null },
    });
    expect(create.status).toBe(201);
    expect(await create.json()).toEqual({ body: {}, statusCode: '201', statusCodeValue: 201 });
    expect(duplicate.status).toBe(400);
    expect(await duplicate.json()).toMatchObject({
      externalapierror: { status: 'BAD_REQUEST', message: 'Bad request, possible duplicate' },
    });
    expect(update.status).toBe(204);
    expect(await update.text()).toBe('');
    expect(read.status).toBe(200);
    const merged = { identifyId: 'u1', email: 'new@b.c', firstName: 'Ada', title: 'CTO', propertyKeys: [PRODUCT_KEY] };
    expect(await read.json()).toEqual(merged);
    expect(px.users.get('u1')).toEqual(merged);
    expect(px.calls()).toEqual(['PUT /users/u1', 'POST /users', 'POST /users', 'PUT /users/u1', 'GET /users/u1']);
    expect(px.requests.map((r) => r.status)).toEqual([404, 201, 400, 204, 200]);
  });

  it('records method, raw path, decoded resource, lowercased headers and the JSON body', async () => {
    await call('PUT', '/users/u1?x=1', { email: 'a@b.c' }, { 'X-Custom-Header': 'yes' });

    const [request] = px.requests;
    expect(request).toMatchObject({
      method: 'PUT',
      path: '/v1/users/u1?x=1',
      resource: { kind: 'users', id: 'u1' },
      body: { email: 'a@b.c' },
      rawBody: '{"email":"a@b.c"}',
      scripted: false,
    });
    expect(request?.headers).toMatchObject({
      'x-aptrinsic-api-key': 'px-key',
      'content-type': 'application/json',
      'x-custom-header': 'yes',
    });
  });

  it('walks the account upsert cycle and requires name and propertyKeys on create', async () => {
    const missing = await call('PUT', '/accounts/acc-1', { name: 'Acme' });
    const incomplete = await call('POST', '/accounts', { id: 'acc-1', propertyKeys: [PRODUCT_KEY] });
    const create = await call('POST', '/accounts', { id: 'acc-1', name: 'Acme', propertyKeys: [PRODUCT_KEY] });
    const duplicate = await call('POST', '/accounts', { id: 'acc-1', name: 'Acme', propertyKeys: [PRODUCT_KEY] });
    const update = await call('PUT', '/accounts/acc-1', { plan: 'gold' });

    expect([missing.status, incomplete.status, create.status, duplicate.status, update.status]).toEqual([404, 400, 201, 400, 204]);
    expect(await missing.json()).toMatchObject({ externalapierror: { status: 'NOT_FOUND', message: 'Account was not found for parameters {id=acc-1}' } });
    expect(await incomplete.json()).toMatchObject({ externalapierror: { status: 'BAD_REQUEST', subErrors: [{ field: 'name' }] } });
    expect(px.accounts.get('acc-1')).toEqual({ id: 'acc-1', name: 'Acme', plan: 'gold', propertyKeys: [PRODUCT_KEY] });
  });

  it('rejects a user create without identifyId or propertyKeys', async () => {
    const noId = await call('POST', '/users', { propertyKeys: [PRODUCT_KEY] });
    const noKeys = await call('POST', '/users', { identifyId: 'u1', propertyKeys: [] });

    expect([noId.status, noKeys.status]).toEqual([400, 400]);
    expect(px.users.size).toBe(0);
  });

  it('stores custom events and rejects those missing a required field', async () => {
    const event = { eventName: 'Signed Up', identifyId: 'u1', propertyKey: PRODUCT_KEY, userType: 'USER', date: 1, attributes: {} };
    const ok = await call('POST', '/events/custom', event);
    const bad = await call('POST', '/events/custom', { eventName: 'x', identifyId: 'u1', propertyKey: PRODUCT_KEY });

    expect(ok.status).toBe(201);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ externalapierror: { subErrors: [{ field: 'userType' }] } });
    expect(px.customEvents).toEqual([event]);
  });

  it('answers 401 to a wrong or missing API key and changes nothing', async () => {
    const wrong = await call('POST', '/users', { identifyId: 'u1', propertyKeys: [PRODUCT_KEY] }, { 'x-aptrinsic-api-key': 'nope' });
    const none = await fetch(`${px.baseUrl}/users/u1`);

    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({
      externalapierror: { status: 'UNAUTHORIZED', message: 'Unauthorized or bad API Key', debugMessage: null, subErrors: null },
    });
    expect(none.status).toBe(401);
    expect(px.users.size).toBe(0);
  });

  it('answers 415 to a write without a JSON content type', async () => {
    const response = await call('POST', '/users', JSON.stringify({ identifyId: 'u1', propertyKeys: [PRODUCT_KEY] }), {
      'content-type': 'text/plain',
    });

    expect(response.status).toBe(415);
    expect(px.users.size).toBe(0);
  });

  it('decodes URL-encoded ids and 404s a path whose id was not encoded', async () => {
    await call('POST', '/users', { identifyId: 'a/b c', propertyKeys: [PRODUCT_KEY] });

    const encoded = await call('PUT', `/users/${encodeURIComponent('a/b c')}`, { email: 'x@y.z' });
    const raw = await call('PUT', '/users/a/b%20c', { email: 'x@y.z' });

    expect(encoded.status).toBe(204);
    expect(px.requests[1]).toMatchObject({ path: '/v1/users/a%2Fb%20c', resource: { kind: 'users', id: 'a/b c' } });
    expect(px.users.get('a/b c')).toMatchObject({ email: 'x@y.z' });
    expect(raw.status).toBe(404);
    expect(px.requests[2]?.resource).toEqual({ kind: 'unknown' });
  });

  it('answers 404 JSON to routes it does not know', async () => {
    const response = await call('DELETE', '/users/u1');
    const outside = await fetch(`${px.baseUrl.replace(/\/v1$/, '')}/v2/users`, { headers: { 'x-aptrinsic-api-key': px.apiKey } });

    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ externalapierror: { status: 'NOT_FOUND' } });
    expect(outside.status).toBe(404);
  });

  it('serves a scripted 503 first, then the real answer, without changing state', async () => {
    px.script({ method: 'POST', path: '/users', status: 503, headers: { 'retry-after': '1' } });

    const first = await call('POST', '/users', { identifyId: 'u1', propertyKeys: [PRODUCT_KEY] });
    const afterFailure = px.users.size;
    const second = await call('POST', '/users', { identifyId: 'u1', propertyKeys: [PRODUCT_KEY] });

    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('1');
    expect(await first.json()).toMatchObject({ externalapierror: { status: 'SERVICE_UNAVAILABLE' } });
    expect(afterFailure).toBe(0);
    expect(second.status).toBe(201);
    expect(px.requests.map((r) => [r.status, r.scripted])).toEqual([[503, true], [201, false]]);
    expect(px.pendingScripts()).toBe(0);
  });

  it('gives scripted answers only to matching requests, in order, times times', async () => {
    px.script(
      { method: 'PUT', path: /\/users\//, status: 429, times: 2 },
      { path: '/v1/events/custom', status: 403, body: '<title>403</title>403 Forbidden', headers: { 'content-type': 'text/html' } },
    );

    const post = await call('POST', '/users', { identifyId: 'u1', propertyKeys: [PRODUCT_KEY] });
    const put1 = await call('PUT', '/users/u1', { a: 1 });
    const put2 = await call('PUT', '/users/u1', { a: 2 });
    const put3 = await call('PUT', '/users/u1', { a: 3 });
    const event = await call('POST', '/events/custom', { eventName: 'x', identifyId: 'u1', propertyKey: PRODUCT_KEY, userType: 'USER' });

    expect([post.status, put1.status, put2.status, put3.status, event.status]).toEqual([201, 429, 429, 204, 403]);
    expect(await event.text()).toBe('<title>403</title>403 Forbidden');
    expect(event.headers.get('content-type')).toBe('text/html');
    expect(px.users.get('u1')).toMatchObject({ a: 3 });
    expect(px.customEvents).toEqual([]);
  });

  it('delays its own answer with a delayMs-only script, applying the write meanwhile', async () => {
    px.script({ path: '/users', delayMs: 300 });

    const late = fetch(`${px.baseUrl}/users`, {
      method: 'POST',
      headers: { 'x-aptrinsic-api-key': px.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ identifyId: 'u1', propertyKeys: [PRODUCT_KEY] }),
      signal: AbortSignal.timeout(50),
    });
    await expect(late).rejects.toMatchObject({ name: 'TimeoutError' });
    const next = await call('POST', '/users', { identifyId: 'u2', propertyKeys: [PRODUCT_KEY] });

    expect(px.users.has('u1')).toBe(true); // Gainsight applied it; only the answer was late
    expect(next.status).toBe(201);
    expect(px.requests.map((r) => r.scripted)).toEqual([true, false]);
  });

  it('applies a write whose answer is lost when scripted with apply and reset', async () => {
    px.script({ method: 'POST', path: '/events/custom', apply: true, reset: true });

    const lost = call('POST', '/events/custom', { eventName: 'x', identifyId: 'u1', propertyKey: PRODUCT_KEY, userType: 'USER' });

    await expect(lost).rejects.toThrow(TypeError);
    expect(px.customEvents).toHaveLength(1);
    expect(px.requests[0]?.scripted).toBe(true);
    expect(px.requests[0]?.status).toBeUndefined();
  });

  it('lets a client time out on a hanging request', async () => {
    px.script({ hang: true });

    const hanging = fetch(`${px.baseUrl}/users/u1`, {
      headers: { 'x-aptrinsic-api-key': px.apiKey },
      signal: AbortSignal.timeout(100),
    });

    await expect(hanging).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(px.requests).toHaveLength(1);
  });

  it('closes at once despite hanging requests, delayed answers and keep-alive sockets', async () => {
    const own = await startFakeGainsight();
    const headers = { 'x-aptrinsic-api-key': own.apiKey };
    await fetch(`${own.baseUrl}/users/u1`, { headers }); // leaves a keep-alive socket open
    own.script({ hang: true }, { status: 500, delayMs: 60_000 });
    const outcome = (request: Promise<Response>) => request.then((r) => r.status, (error: unknown) => error);
    const hanging = outcome(fetch(`${own.baseUrl}/users/u1`, { headers }));
    const delayed = outcome(fetch(`${own.baseUrl}/users/u2`, { headers }));
    await expect.poll(() => own.requests.length).toBe(3);

    const started = Date.now();
    await own.close();

    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await hanging).toBeInstanceOf(TypeError);
    expect(await delayed).toBeInstanceOf(TypeError);
  });
});
