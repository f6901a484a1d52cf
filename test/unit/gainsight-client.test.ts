import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo, type Socket, createServer as createTcpServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/errors.ts';
import { GainsightClient } from '../../src/gainsight/client.ts';
import type { GainsightRequest } from '../../src/gainsight/types.ts';

/**
 * The Gainsight client over real HTTP: a loopback server per test sees exactly what the client
 * puts on the wire, and answers (or hangs) as scripted.
 */

const API_KEY = 'px-api-key-VALUE-0001';
const USER_ID = 'alice@example.com';

const makeRequest = (overrides: Partial<GainsightRequest> = {}): GainsightRequest => ({
  method: 'PUT',
  path: `/users/${encodeURIComponent(USER_ID)}`,
  body: { email: USER_ID, propertyKeys: ['AP-TEST-1'] },
  ...overrides,
});

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  socket: Socket;
}

type Answer = (response: ServerResponse, seen: Seen) => void;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A loopback server answering every request with `answer` (204 by default); records what it saw. */
async function serve(answer: Answer = (response) => response.writeHead(204).end()) {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const closed: Socket[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      const entry = { method: request.method ?? '', url: request.url ?? '', headers: request.headers, body, socket: request.socket };
      seen.push(entry);
      answer(response, entry);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => closed.push(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { seen, sockets, closed, origin: `http://127.0.0.1:${port}` };
}

function clientFor(baseUrl: string): GainsightClient {
  const client = new GainsightClient({ baseUrl, apiKey: API_KEY });
  cleanups.push(() => client.close());
  return client;
}

const failureOf = (promise: Promise<unknown>): Promise<UnavailableError> =>
  promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => error as UnavailableError,
  );

describe('GainsightClient.send over HTTP', () => {
  it('sends the method, base path + path, API key, JSON headers and the encoded body', async () => {
    // Prepare
    const px = await serve((response) => response.writeHead(200, { 'content-type': 'application/json' }).end('{"identifyId":"alice"}'));
    const client = clientFor(`${px.origin}/v1`);
    const request = makeRequest();
    // Act
    const answer = await client.send(request, { timeoutMs: 2000 });
    // Assess
    expect(px.seen).toHaveLength(1);
    const [seen] = px.seen;
    expect(seen?.method).toBe('PUT');
    expect(seen?.url).toBe('/v1/users/alice%40example.com');
    expect(seen?.headers['x-aptrinsic-api-key']).toBe(API_KEY);
    expect(seen?.headers['content-type']).toBe('application/json');
    expect(seen?.headers.accept).toBe('application/json');
    expect(seen?.headers['content-length']).toBe(String(Buffer.byteLength(JSON.stringify(request.body))));
    expect(seen?.headers['transfer-encoding']).toBeUndefined();
    expect(seen?.body).toBe(JSON.stringify(request.body));
    expect(answer).toMatchObject({ status: 200, body: { identifyId: 'alice' } });
    expect(answer.headers['content-type']).toBe('application/json');
  });

  it('sends request.json as the body when present, its length counted in bytes', async () => {
    // Prepare
    const px = await serve();
    const client = clientFor(`${px.origin}/v1`);
    const json = '{"eventName":"Prüfung ✓","attributes":{}}';
    // Act
    await client.send(makeRequest({ method: 'POST', path: '/events/custom', body: { other: true }, json }), { timeoutMs: 2000 });
    // Assess
    expect(px.seen[0]?.body).toBe(json);
    expect(px.seen[0]?.headers['content-length']).toBe(String(Buffer.byteLength(json)));
  });

  it('sends no body and no Content-Type for a request without a body', async () => {
    // Prepare
    const px = await serve();
    const client = clientFor(`${px.origin}/v1`);
    // Act
    await client.send({ method: 'GET', path: '/accounts?pageSize=1' }, { timeoutMs: 2000 });
    // Assess
    expect(px.seen[0]?.method).toBe('GET');
    expect(px.seen[0]?.url).toBe('/v1/accounts?pageSize=1');
    expect(px.seen[0]?.body).toBe('');
    expect(px.seen[0]?.headers['x-aptrinsic-api-key']).toBe(API_KEY);
    expect(px.seen[0]?.headers['content-type']).toBeUndefined();
  });

  it('returns a redirect as it came: the Location host receives nothing', async () => {
    // Prepare
    const elsewhere = await serve();
    const location = `${elsewhere.origin}/v1/users/alice`;
    const px = await serve((response) => response.writeHead(307, { location }).end());
    const client = clientFor(`${px.origin}/v1`);
    // Act
    const answer = await client.send(makeRequest(), { timeoutMs: 2000 });
    // Assess
    expect(answer.status).toBe(307);
    expect(answer.headers.location).toBe(location);
    expect(px.seen).toHaveLength(1);
    expect(elsewhere.seen).toHaveLength(0);
  });

  it.each([
    ['parsed JSON', '{"externalapierror":{"status":"NOT_FOUND"}}', 404, { externalapierror: { status: 'NOT_FOUND' } }],
    ['text that is not JSON', '<h1>Bad Gateway</h1>', 502, '<h1>Bad Gateway</h1>'],
    ['an empty body as undefined', '', 204, undefined],
  ])('returns the status and %s', async (_label, text, status, body) => {
    // Prepare
    const px = await serve((response) => response.writeHead(status).end(text));
    const client = clientFor(`${px.origin}/v1`);
    // Act
    const answer = await client.send(makeRequest(), { timeoutMs: 2000 });
    // Assess
    expect(answer.status).toBe(status);
    expect(answer.body).toEqual(body);
  });

  it('redacts the API key from an answer that echoes it', async () => {
    // Prepare
    const px = await serve((response, seen) => response.writeHead(401).end(`invalid key ${String(seen.headers['x-aptrinsic-api-key'])}`));
    const client = clientFor(`${px.origin}/v1`);
    // Act
    const answer = await client.send(makeRequest(), { timeoutMs: 2000 });
    // Assess
    expect(answer.body).toBe('invalid key [redacted]');
  });

  it('reads no more than 1 MiB of an oversized answer', async () => {
    // Prepare
    const px = await serve((response) => response.writeHead(502).end('x'.repeat(3 << 20)));
    const client = clientFor(`${px.origin}/v1`);
    // Act
    const answer = await client.send(makeRequest(), { timeoutMs: 5000 });
    // Assess
    expect(answer.status).toBe(502);
    expect(typeof answer.body).toBe('string');
    expect((answer.body as string).length).toBeGreaterThanOrEqual(1 << 20);
    expect((answer.body as string).length).toBeLessThan((1 << 20) + (1 << 17));
  });

  it('reuses one keep-alive connection for calls one after another', async () => {
    // Prepare
    const px = await serve();
    const client = clientFor(`${px.origin}/v1`);
    // Act
    for (let index = 0; index < 3; index += 1) await client.send(makeRequest(), { timeoutMs: 2000 });
    // Assess
    expect(px.seen).toHaveLength(3);
    expect(px.sockets.size).toBe(1);
  });

  it('gives up a call that gets no answer after timeoutMs, closes its connection, and fails retryably', async () => {
    // Prepare: a server that never answers
    const px = await serve(() => {});
    const client = clientFor(`${px.origin}/v1`);
    const started = Date.now();
    // Act
    const error = await failureOf(client.send(makeRequest(), { timeoutMs: 100 }));
    // Assess
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.code).toBe('gainsight_timeout');
    expect(error.retryable).toBe(true);
    expect(error.message).toBe('Gainsight PX did not answer PUT /users/{id} in time');
    await expect.poll(() => px.closed.length).toBe(1);
  });

  it('gives up a call whose answer stalls midway after timeoutMs', async () => {
    // Prepare: headers and half a body, then nothing
    const px = await serve((response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"identifyId":');
    });
    const client = clientFor(`${px.origin}/v1`);
    // Act
    const error = await failureOf(client.send(makeRequest(), { timeoutMs: 150 }));
    // Assess
    expect(error.code).toBe('gainsight_timeout');
    await expect.poll(() => px.closed.length).toBe(1);
  });

  it('gives up a call when the caller aborts, before its timeout', async () => {
    // Prepare
    const px = await serve(() => {});
    const client = clientFor(`${px.origin}/v1`);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    // Act
    const error = await failureOf(client.send(makeRequest(), { timeoutMs: 10_000, signal: controller.signal }));
    // Assess
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error.code).toBe('gainsight_timeout');
  });

  it('sends nothing when the caller has already aborted', async () => {
    // Prepare
    const px = await serve();
    const client = clientFor(`${px.origin}/v1`);
    // Act
    const error = await failureOf(client.send(makeRequest(), { timeoutMs: 2000, signal: AbortSignal.abort() }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Assess
    expect(error.code).toBe('gainsight_timeout');
    expect(px.seen).toHaveLength(0);
  });

  it('turns a refused connection into a retryable gainsight_unreachable naming no person and no key', async () => {
    // Prepare: a port nobody listens on any more
    const px = await serve();
    await cleanups.pop()?.();
    const client = clientFor(`${px.origin}/v1`);
    // Act
    const error = await failureOf(client.send(makeRequest(), { timeoutMs: 2000 }));
    // Assess
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.code).toBe('gainsight_unreachable');
    expect(error.statusCode).toBe(503);
    expect(error.retryable).toBe(true);
    expect(error.message).toBe('Gainsight PX could not be reached for PUT /users/{id}');
    expect(error.message).not.toContain(API_KEY);
  });

  it('speaks TLS to the port of an https:// base URL', async () => {
    // Prepare: a bare TCP server that records the first bytes and hangs up
    const first: Buffer[] = [];
    const tcp = createTcpServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        first.push(chunk);
        socket.destroy();
      });
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => tcp.close(() => resolve())));
    const client = clientFor(`https://127.0.0.1:${(tcp.address() as AddressInfo).port}/v1`);
    // Act
    const error = await failureOf(client.send(makeRequest(), { timeoutMs: 2000 }));
    // Assess: a TLS handshake record (0x16, version 3.x) arrived; no plain HTTP, no key in clear
    expect(error.code).toBe('gainsight_unreachable');
    expect(first[0]?.[0]).toBe(0x16);
    expect(first[0]?.[1]).toBe(0x03);
    expect(first[0]?.toString('latin1')).not.toContain(API_KEY);
  });

  it('does not expose the API key as a property', () => {
    // Prepare
    const client = clientFor('https://api.aptrinsic.com/v1');
    // Act
    const visible = JSON.stringify(client);
    // Assess
    expect(visible).not.toContain(API_KEY);
    expect(client.hasKey(API_KEY)).toBe(true);
    expect(client.hasKey('other')).toBe(false);
  });
});
