import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { Collector, identifyEvent, tempDir, trackEvent, writeJsonLines } from '../support/cli.ts';
import { type FakeGainsight, startFakeGainsight } from '../support/fake-gainsight.ts';
import { type Handler, call, httpApiEvent, loadHandler } from '../support/lambda.ts';

/**
 * `replay --url`: posting to a deployed relay. First against the real handler behind a tiny
 * node:http adapter (API Gateway's part), then against a scripted relay to check how each of
 * its answers is honoured.
 */

const SECRET = 'cli-webhook-secret';
let px: FakeGainsight;
let tmp: ReturnType<typeof tempDir>;

interface Server {
  url: string;
  bodies: unknown[][];
  close(): Promise<void>;
}

/** Serves `answer` on 127.0.0.1, recording every posted body. */
async function serve(answer: (body: unknown[], req: IncomingMessage) => Promise<{ status: number; headers?: Record<string, string>; body: unknown }>): Promise<Server> {
  const bodies: unknown[][] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown[];
      bodies.push(body);
      const reply = await answer(body, req);
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function replayTo(url: string, file: string, extra: string[] = []) {
  const stderr = new Collector();
  const code = await main(['replay', file, '--url', url, '--rate', '200', ...extra], {
    stdout: new Collector(),
    stderr,
    env: { WEBHOOK_SECRET: SECRET },
  });
  return { code, stderr: stderr.text };
}

beforeAll(async () => {
  px = await startFakeGainsight();
});
afterAll(() => px.close());
beforeEach(() => {
  px.reset();
  tmp?.cleanup();
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

describe('replay --url, against the real handler', () => {
  let handler: Handler;
  let relay: Server;
  beforeAll(async () => {
    handler = await loadHandler({ PX_API_KEY: px.apiKey, PX_PRODUCT_KEY: 'AP-URL-1', WEBHOOK_SECRET: SECRET, GAINSIGHT_PX_BASE_URL: px.baseUrl });
    relay = await serve(async (body, req) => {
      const authorization = req.headers.authorization;
      const answer = await call(handler, httpApiEvent({ path: req.url ?? '/events', body, secret: null, headers: authorization ? { authorization } : {} }));
      return { status: answer.status, headers: answer.headers, body: answer.body };
    });
  });
  afterAll(() => relay.close());

  it('posts the events to /events in batches and settles them from the relay’s answers', async () => {
    const file = writeJsonLines(join(tmp.dir, 'url.jsonl'), [
      identifyEvent('u1'),
      ...Array.from({ length: 120 }, (_, i) => trackEvent(i)),
      '{not json',
      { type: 'page', userId: 'u1' },
    ]);

    const result = await replayTo(relay.url, file, ['--batch-size', '50']);

    expect(result.stderr).toContain('line 122: invalid: not valid JSON');
    expect(result.code).toBe(1);
    expect(relay.bodies.map((body) => body.length)).toEqual([50, 50, 22]);
    expect(px.customEvents).toHaveLength(120);
    expect(px.users.get('u1')).toMatchObject({ email: 'u1@example.test', propertyKeys: ['AP-URL-1'] });
    expect(result.stderr).toMatch(/delivered: +121\n {2}skipped: +1 .*\n {2}invalid: +1 /);
  });

  it('stops when the relay refuses the secret, sending nothing more', async () => {
    const file = writeJsonLines(join(tmp.dir, 'secret.jsonl'), Array.from({ length: 30 }, (_, i) => trackEvent(i)));
    const stderr = new Collector();
    const code = await main(['replay', file, '--url', relay.url, '--batch-size', '10', '--concurrency', '1'], {
      stdout: new Collector(),
      stderr,
      env: { WEBHOOK_SECRET: 'wrong' },
    });
    expect(code).toBe(1);
    expect(stderr.text).toMatch(/replay stopped after [\d.]+s: the relay refused the webhook secret \(check WEBHOOK_SECRET or --secret-file\): the relay answered 401/);
    expect(px.requests).toHaveLength(0);
  });
});

describe('replay --url, honouring each answer', () => {
  it('resends only the events the relay did not take, after Retry-After, and splits a batch answered 413', async () => {
    let calls = 0;
    const relay = await serve(async (body) => {
      calls += 1;
      if (calls === 1) return { status: 429, headers: { 'retry-after': '0' }, body: { error: { code: 'gainsight_rate_limited', message: 'slow down' } } };
      if (calls === 2) {
        return {
          status: 503,
          body: {
            error: {
              code: 'upstream_unavailable',
              message: '1 of 3 events failed',
              details: {
                results: [
                  { type: 'track', status: 'delivered' },
                  { type: 'track', status: 'failed', error: { code: 'upstream_unavailable', message: 'Gainsight PX answered 503' } },
                  { type: 'track', status: 'failed', error: { code: 'gainsight_rejected', message: 'Gainsight PX rejected it' } },
                ],
              },
            },
          },
        };
      }
      if (body.length > 2) return { status: 413, body: { error: { code: 'payload_too_large', message: 'too many' } } };
      return { status: 202, body: { results: body.map(() => ({ type: 'track', status: 'queued' })) } };
    });
    const file = writeJsonLines(join(tmp.dir, 'answers.jsonl'), [trackEvent(0), trackEvent(1), trackEvent(2)]);

    const first = await replayTo(relay.url, file, ['--batch-size', '3']);
    const names = (body: unknown[]) => body.map((event) => (event as { event: string }).event);

    expect(relay.bodies.map(names)).toEqual([
      ['Event 0', 'Event 1', 'Event 2'],
      ['Event 0', 'Event 1', 'Event 2'],
      ['Event 1'],
    ]);
    expect(first.code).toBe(1);
    expect(first.stderr).toContain('line 3: rejected: Gainsight PX rejected it');
    expect(first.stderr).toMatch(/delivered: +1\n {2}queued: +1 .*\n {2}rejected: +1 /);

    const many = writeJsonLines(join(tmp.dir, 'split.jsonl'), Array.from({ length: 8 }, (_, i) => trackEvent(i)));
    relay.bodies.length = 0;
    const split = await replayTo(relay.url, many, ['--batch-size', '8']);
    expect(split.code).toBe(0);
    expect(relay.bodies.map((body) => body.length)).toEqual([8, 4, 2, 2, 4, 2, 2]);
    await relay.close();
  });

  it('rejects only the events the relay lists as invalid and posts the rest again', async () => {
    const relay = await serve(async (body) => {
      const bad = body.findIndex((event) => (event as { event?: string }).event === 'Event 1');
      if (bad !== -1) {
        return {
          status: 400,
          body: { error: { code: 'invalid_events', message: '1 of 3 events are invalid', details: { events: [{ index: bad, code: 'limit_exceeded', message: 'too many attributes' }] } } },
        };
      }
      return { status: 200, body: { results: body.map(() => ({ type: 'track', status: 'delivered' })) } };
    });
    const file = writeJsonLines(join(tmp.dir, 'invalid.jsonl'), [trackEvent(0), trackEvent(1), trackEvent(2)]);

    const result = await replayTo(relay.url, file);

    expect(relay.bodies.map((body) => body.length)).toEqual([3, 2]);
    expect(result.stderr).toContain('line 2: rejected: too many attributes');
    expect(result.stderr).toMatch(/delivered: +2\n {2}rejected: +1 /);
    await relay.close();
  });
});
