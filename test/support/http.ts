import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * Plumbing shared by the loopback fakes (`fake-gainsight.ts`, `fake-ssm.ts`): a node:http
 * server on 127.0.0.1 with an ephemeral port, body reading, JSON answers, scripted failures,
 * and a `close()` that never leaves vitest waiting (hanging requests, delayed answers and
 * keep-alive sockets from Node's fetch are all ended).
 */

/** Headers as the fake saw them: lowercased names, repeated values joined with `, `. */
export type RecordedHeaders = Record<string, string>;

/**
 * One scripted answer. The first request that matches takes it, `times` times (default 1).
 * - `status` (with optional `body`/`headers`): answer that instead of what the fake would do.
 *   An object `body` is sent as JSON; a string is sent as-is (say its content-type in `headers`).
 *   Without `body`, an error status gets the service's usual error body for that status.
 * - `delayMs`: wait that long before answering (with `status`) or before sending the fake's
 *   own answer (without `status`), e.g. to run into the client's timeout.
 * - `hang: true`: never answer; the socket is ended by `close()`.
 * - `reset: true`: destroy the connection (TCP RST) instead of answering.
 */
export interface ScriptedOutcome {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
  hang?: true;
  reset?: true;
  times?: number;
}

export interface LoopbackServer {
  readonly server: Server;
  readonly port: number;
  readonly origin: string;
  /** Runs `fn` after `ms` unless the server is closed first. */
  later(ms: number, fn: () => void): void;
  /** Stops listening and ends every connection, including hanging and keep-alive ones. */
  close(): Promise<void>;
}

export type RequestListener = (req: IncomingMessage, res: ServerResponse, rawBody: string) => void | Promise<void>;

/**
 * Listens on 127.0.0.1 with a port chosen by the OS, tracking every connection so that a test
 * can end hanging and keep-alive ones (`destroySockets`).
 */
export async function listenOnLoopback(server: Server): Promise<{ port: number; destroySockets(): void }> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    destroySockets: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** Starts an HTTP server on 127.0.0.1 with a port chosen by the OS; the body is read first. */
export async function startLoopbackServer(listener: RequestListener): Promise<LoopbackServer> {
  const timers = new Set<NodeJS.Timeout>();
  let closing: Promise<void> | undefined;

  const server = createServer((req, res) => {
    readBody(req)
      .then((raw) => listener(req, res, raw))
      .catch((error: unknown) => {
        // A bug in a fake must show up as a failed request, never as a crashed test process.
        if (!res.headersSent && !res.destroyed) {
          sendJson(res, 500, { fakeError: error instanceof Error ? error.message : String(error) });
        }
      });
  });
  const { port, destroySockets } = await listenOnLoopback(server);

  return {
    server,
    port,
    origin: `http://127.0.0.1:${port}`,
    later(ms, fn) {
      if (closing) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        fn();
      }, ms);
      timers.add(timer);
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
        destroySockets();
      });
      return closing;
    },
  };
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function recordHeaders(req: IncomingMessage): RecordedHeaders {
  const headers: RecordedHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** Parses a JSON body; `undefined` for an empty or non-JSON body (the raw text is kept apart). */
export function parseJson(raw: string): unknown {
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The media type of a content-type header, lowercased, parameters dropped. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** `503` → `SERVICE_UNAVAILABLE`, the enum-style name Spring services put in error bodies. */
export function statusName(status: number): string {
  return (STATUS_CODES[status] ?? 'UNKNOWN').toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  contentType = 'application/json',
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, headers);
  res.end();
}

/** Sends a scripted `status`/`body`/`headers`; `defaultBody` supplies the body when none is scripted. */
export function sendScripted(
  res: ServerResponse,
  outcome: ScriptedOutcome & { status: number },
  defaultBody: (status: number) => unknown,
  jsonContentType = 'application/json',
): void {
  const headers = { ...(outcome.headers ?? {}) };
  const body = outcome.body === undefined ? defaultBody(outcome.status) : outcome.body;
  if (body === undefined || outcome.status === 204 || outcome.status === 304) {
    sendEmpty(res, outcome.status, headers);
  } else if (typeof body === 'string') {
    const hasType = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
    res.writeHead(outcome.status, {
      ...(hasType ? {} : { 'content-type': 'text/plain; charset=utf-8' }),
      'content-length': String(Buffer.byteLength(body)),
      ...headers,
    });
    res.end(body);
  } else {
    sendJson(res, outcome.status, body, headers, jsonContentType);
  }
}

/** Ends the connection abruptly (RST where the platform allows), as a crashed upstream would. */
export function resetConnection(req: IncomingMessage): void {
  const socket = req.socket as Socket & { resetAndDestroy?: () => Socket };
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

/**
 * A FIFO of scripted outcomes. `take(matches)` hands out the first queued entry whose filter
 * accepts the request and counts down its `times`.
 */
export class Script<T extends ScriptedOutcome> {
  readonly #queue: { outcome: T; left: number }[] = [];

  push(...outcomes: T[]): void {
    for (const outcome of outcomes) {
      const times = outcome.times ?? 1;
      if (!(times >= 1)) throw new RangeError(`scripted times must be >= 1, got ${String(outcome.times)}`);
      this.#queue.push({ outcome, left: times });
    }
  }

  take(matches: (outcome: T) => boolean): T | undefined {
    const index = this.#queue.findIndex((entry) => matches(entry.outcome));
    if (index === -1) return undefined;
    const entry = this.#queue[index]!;
    entry.left -= 1;
    if (entry.left <= 0) this.#queue.splice(index, 1);
    return entry.outcome;
  }

  /** How many answers are still queued (an entry with `times: 3` counts 3; Infinity stays Infinity). */
  pending(): number {
    return this.#queue.reduce((sum, entry) => sum + entry.left, 0);
  }

  clear(): void {
    this.#queue.length = 0;
  }
}
