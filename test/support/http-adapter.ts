import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { Context } from 'aws-lambda';
import { listenOnLoopback } from './http.ts';
import { type Handler, lambdaContext } from './lambda.ts';

/**
 * A tiny stand-in for API Gateway (HTTP API, payload format 2.0) in front of the REAL handler, on
 * 127.0.0.1 with an OS-chosen port, so that HTTP clients — the RudderStack and Segment SDKs — can
 * talk to the relay over loopback. Each request becomes the event API Gateway would build:
 * lowercased header names (repeated values joined with `,`), `cookies`, `rawPath`,
 * `rawQueryString`, `queryStringParameters`, and the body as a string — base64 with
 * `isBase64Encoded: true` when it is binary (`Content-Encoding` set, or not valid UTF-8). The
 * handler's answer (`statusCode`, `headers`, `body`, `isBase64Encoded`) is written back; a bare
 * object answer is sent as JSON 200 and a thrown error as API Gateway's 500, as API Gateway does.
 *
 * Every exchange is recorded (method, path, headers, the decoded JSON body when there is one, the
 * answer, and when it arrived/was answered) so tests can assert what the SDKs sent and replay it.
 * Decoding for the record is bounded too (gzip output capped), so a compression bomb aimed at the
 * relay cannot blow up the test process. `close()` ends every connection at once.
 */

/** API Gateway HTTP APIs refuse request bodies over 10 MB (413) before invoking the function. */
export const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Largest decoded body the adapter inflates for its own record. */
const RECORD_MAX_DECODED_BYTES = 1024 * 1024;

export interface AdapterExchange {
  method: string;
  /** Path without the query string. */
  path: string;
  query: string;
  /** Lowercased header names. */
  headers: Record<string, string>;
  /** Raw body bytes as received (still gzipped when the client gzipped them). */
  rawBody: Buffer;
  /** The JSON body, gunzipped when `Content-Encoding: gzip`; undefined when not (boundedly) decodable JSON. */
  body: unknown;
  /** The API Gateway event handed to the handler. */
  event: Record<string, unknown>;
  /** Epoch ms when the request was complete, just before the handler was invoked. */
  receivedAt: number;
  /** Epoch ms when the answer was written; undefined while pending. */
  answeredAt?: number;
  /** Status answered; undefined while pending. */
  status?: number;
  /** The answer's body parsed as JSON (undefined when not JSON). */
  answer?: any;
}

export interface HttpAdapterOptions {
  /** Lambda time budget given to every invocation (the function's timeout), default 15 s. */
  remainingMs?: number;
  /**
   * Called with each exchange once its answer is known, before it is written back: a test can
   * change the world deterministically between an answer and the client's reaction to it.
   */
  onAnswer?: (exchange: AdapterExchange) => void;
}

export interface HttpAdapter {
  /** `http://127.0.0.1:PORT`: the SDKs' host / dataPlaneUrl. */
  readonly url: string;
  readonly exchanges: AdapterExchange[];
  /** The exchanges for one path (e.g. `/v1/batch`). */
  on(path: string): AdapterExchange[];
  close(): Promise<void>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isUtf8(bytes: Buffer): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Header names lowercased, repeated values joined with `,` (API Gateway 2.0); cookies apart. */
function gatewayHeaders(req: IncomingMessage): { headers: Record<string, string>; cookies: string[] } {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    if (name === 'cookie') {
      cookies.push(...value.split(';').map((part) => part.trim()).filter(Boolean));
      continue;
    }
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  return { headers, cookies };
}

/** The JSON body for the record, decoded boundedly; undefined when it cannot be. */
function recordedBody(bytes: Buffer, contentEncoding: string | undefined): unknown {
  if (bytes.length === 0) return undefined;
  let plain = bytes;
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  if (encoding === 'gzip' || encoding === 'x-gzip') {
    try {
      plain = gunzipSync(bytes, { maxOutputLength: RECORD_MAX_DECODED_BYTES });
    } catch {
      return undefined;
    }
  }
  try {
    return JSON.parse(plain.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function readCapped(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      if (!over) chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, { ...headers, 'content-length': String(body.length) });
  res.end(body);
}

function parseAnswer(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Starts the adapter around `handler` (e.g. from `loadHandler`). */
export async function startHttpAdapter(handler: Handler, options: HttpAdapterOptions = {}): Promise<HttpAdapter> {
  const exchanges: AdapterExchange[] = [];
  let closing: Promise<void> | undefined;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const read = await readCapped(req, API_GATEWAY_MAX_BODY_BYTES);
    if (read === 'too-large') {
      send(res, 413, { 'content-type': 'application/json' }, Buffer.from('{"message":"Request Entity Too Large"}'));
      return;
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const { headers, cookies } = gatewayHeaders(req);
    const binary = read.length > 0 && (headers['content-encoding'] !== undefined || !isUtf8(read));
    const now = new Date();
    const query: Record<string, string> = {};
    for (const [name, value] of url.searchParams) query[name] = query[name] === undefined ? value : `${query[name]},${value}`;
    const event: Record<string, unknown> = {
      version: '2.0',
      routeKey: '$default',
      rawPath: url.pathname,
      rawQueryString: url.search.replace(/^\?/, ''),
      ...(cookies.length > 0 ? { cookies } : {}),
      headers,
      ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
      requestContext: {
        accountId: '123456789012',
        apiId: 'adapter',
        domainName: headers.host ?? '127.0.0.1',
        domainPrefix: 'adapter',
        http: {
          method,
          path: url.pathname,
          protocol: `HTTP/${req.httpVersion}`,
          sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
          userAgent: headers['user-agent'] ?? '',
        },
        requestId: randomUUID(),
        routeKey: '$default',
        stage: '$default',
        time: now.toUTCString(),
        timeEpoch: now.getTime(),
      },
      ...(read.length > 0 ? { body: binary ? read.toString('base64') : read.toString('utf8') } : {}),
      isBase64Encoded: binary,
    };
    const exchange: AdapterExchange = {
      method,
      path: url.pathname,
      query: url.search,
      headers,
      rawBody: read,
      body: recordedBody(read, headers['content-encoding']),
      event,
      receivedAt: Date.now(),
    };
    exchanges.push(exchange);

    let status = 500;
    let answerHeaders: Record<string, string> = { 'content-type': 'application/json' };
    let answerBody = Buffer.from('{"message":"Internal Server Error"}');
    try {
      const context: Context = lambdaContext(options.remainingMs ?? 15_000);
      const result = await handler(event, context);
      if (typeof result === 'object' && result !== null && typeof (result as { statusCode?: unknown }).statusCode === 'number') {
        const answer = result as { statusCode: number; headers?: Record<string, unknown>; body?: unknown; isBase64Encoded?: boolean };
        status = answer.statusCode;
        answerHeaders = {};
        for (const [name, value] of Object.entries(answer.headers ?? {})) {
          if (value !== undefined && value !== null) answerHeaders[name.toLowerCase()] = String(value);
        }
        const text = typeof answer.body === 'string' ? answer.body : '';
        answerBody = answer.isBase64Encoded ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
      } else if (result !== undefined) {
        // Payload 2.0: a response without statusCode is taken as a 200 JSON body.
        status = 200;
        answerBody = Buffer.from(typeof result === 'string' ? result : JSON.stringify(result), 'utf8');
      }
    } catch {
      // API Gateway's answer for a function error.
    }
    exchange.status = status;
    exchange.answer = parseAnswer(answerBody.toString('utf8'));
    exchange.answeredAt = Date.now();
    options.onAnswer?.(exchange);
    send(res, status, answerHeaders, answerBody);
  }

  const server = createServer((req, res) => {
    serve(req, res).catch(() => send(res, 500, { 'content-type': 'application/json' }, Buffer.from('{"message":"Internal Server Error"}')));
  });
  const { port, destroySockets } = await listenOnLoopback(server);

  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    on: (path) => exchanges.filter((exchange) => exchange.path === path),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        destroySockets();
      });
      return closing;
    },
  };
}
