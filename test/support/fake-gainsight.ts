import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  Script,
  isJsonObject,
  mediaType,
  parseJson,
  recordHeaders,
  resetConnection,
  sendEmpty,
  sendJson,
  sendScripted,
  startLoopbackServer,
  statusName,
  type RecordedHeaders,
  type ScriptedOutcome,
} from './http.ts';

/**
 * A stateful loopback fake of the Gainsight PX REST API v1, for integration tests.
 *
 * It behaves as the official spec (v0.1.6) documents the calls the relay makes
 * (Gainsight PX's REST API reference):
 * - every request needs `X-APTRINSIC-API-KEY` equal to the configured key, else 401;
 * - writes need `Content-Type: application/json`, else 415;
 * - `PUT /v1/users/{id}` → 404 when the user is missing, else a shallow merge → 204;
 *   `POST /v1/users` → 400 "possible duplicate" when `identifyId` exists, 400 without
 *   `identifyId`/`propertyKeys`, else 201; `GET /v1/users/{id}` → 200 or 404; `GET /v1/users`
 *   (and `/v1/accounts`) → one page of what is stored;
 * - the same for `/v1/accounts` (create key `id`; `name` and `propertyKeys` required);
 * - `POST /v1/events/custom` → 400 without eventName/identifyId/propertyKey/userType, else 201;
 * - anything else → 404 JSON.
 * Ids in paths are percent-decoded (`a%2Fb` is the user `a/b`); an id with a bare `/` does not
 * match a route, so a client that forgets to encode gets a 404.
 *
 * Every request is recorded, including rejected and scripted ones, so tests can assert the
 * exact calls and that nothing unexpected was sent.
 */

export type ResourceKind = 'users' | 'accounts' | 'events/custom' | 'unknown';

export interface RecordedRequest {
  method: string;
  /** The path exactly as received, still URL-encoded, `/v1` prefix and query included. */
  path: string;
  /** The route it addressed, with the id percent-decoded: `{ kind: 'users', id: 'a/b' }`. */
  resource: { kind: ResourceKind; id?: string };
  /** Lowercased header names. */
  headers: RecordedHeaders;
  /** The parsed JSON body, or `undefined` when empty or not JSON. */
  body: unknown;
  rawBody: string;
  /** The status answered; `undefined` while pending, for a hang, or for a reset connection. */
  status?: number;
  /** Whether a scripted answer took this request. */
  scripted: boolean;
}

/** A scripted answer, taken by the first request matching `method` and `path`. */
export interface GainsightScript extends ScriptedOutcome {
  /** Matches the HTTP method, case-insensitively. Omitted: any method. */
  method?: string;
  /**
   * A string matches the encoded path without its query, with or without the `/v1` prefix
   * (`'/users/a%2Fb'` or `'/v1/users/a%2Fb'`); a RegExp is tested against the full raw path.
   */
  path?: string | RegExp;
  /**
   * Apply the request to the fake's state anyway, then deliver the scripted outcome (e.g.
   * `{ apply: true, reset: true }`: Gainsight stored the write but the answer was lost).
   * Without `status`, `hang` or `reset` the request is always applied and answered normally,
   * after `delayMs`.
   */
  apply?: true;
}

export interface FakeGainsight {
  /** e.g. `http://127.0.0.1:PORT/v1`; use as `GAINSIGHT_PX_BASE_URL`. */
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly requests: RecordedRequest[];
  /** Stored users by identifyId; seed them with `users.set(...)`. */
  readonly users: Map<string, Record<string, unknown>>;
  /** Stored accounts by id. */
  readonly accounts: Map<string, Record<string, unknown>>;
  /** Accepted custom event bodies, in arrival order. */
  readonly customEvents: unknown[];
  /** Queues scripted answers; see `GainsightScript`. */
  script(...answers: GainsightScript[]): void;
  /** Scripted answers not yet consumed. */
  pendingScripts(): number;
  /** `['PUT /users/u1', 'POST /users', ...]`: method and encoded path without `/v1` or query. */
  calls(): string[];
  /** Forgets requests, state and scripts (references to the arrays and maps stay valid). */
  reset(): void;
  close(): Promise<void>;
}

export const DEFAULT_FAKE_API_KEY = 'test-px-api-key';

interface Answer {
  status: number;
  body?: unknown;
}

const apiError = (status: number, message: string, subErrors: unknown = null): Record<string, unknown> => ({
  externalapierror: { status: statusName(status), message, debugMessage: null, subErrors },
});

/** The serialised Spring `ResponseEntity` the spec documents for creates. */
const created = (): Answer => ({ status: 201, body: { body: {}, statusCode: '201', statusCodeValue: 201 } });

const missingFields = (body: Record<string, unknown>, fields: readonly string[]): string[] =>
  fields.filter((field) => {
    const value = body[field];
    if (value === undefined || value === null || value === '') return true;
    if (field === 'propertyKeys') return !Array.isArray(value) || value.length === 0;
    return false;
  });

const badRequest = (missing: string[]): Answer => ({
  status: 400,
  body: apiError(
    400,
    'Bad request',
    missing.map((field) => ({ field, message: 'must not be null' })),
  ),
});

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Messages the spec documents per status, used for scripted errors without a body. */
const STATUS_MESSAGES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized or bad API Key',
  403: 'Access denied',
  404: 'Not found',
  429: 'Rate limit exceeded',
  500: 'Internal error',
};

function parseResource(pathname: string): { kind: ResourceKind; id?: string } | { invalid: true } {
  if (pathname === '/v1/users') return { kind: 'users' };
  if (pathname === '/v1/accounts') return { kind: 'accounts' };
  if (pathname === '/v1/events/custom') return { kind: 'events/custom' };
  const match = /^\/v1\/(users|accounts)\/([^/]+)$/.exec(pathname);
  if (!match) return { kind: 'unknown' };
  try {
    return { kind: match[1] as 'users' | 'accounts', id: decodeURIComponent(match[2]!) };
  } catch {
    return { invalid: true };
  }
}

export async function startFakeGainsight(options: { apiKey?: string } = {}): Promise<FakeGainsight> {
  const apiKey = options.apiKey ?? DEFAULT_FAKE_API_KEY;
  const requests: RecordedRequest[] = [];
  const users = new Map<string, Record<string, unknown>>();
  const accounts = new Map<string, Record<string, unknown>>();
  const customEvents: unknown[] = [];
  const scripts = new Script<GainsightScript>();

  /** The fake's own answer; mutates state. */
  function route(record: RecordedRequest, pathname: string): Answer {
    const { method, resource, body } = record;
    const isWrite = method === 'POST' || method === 'PUT';
    if (isWrite && !isJsonObject(body)) {
      return { status: 400, body: apiError(400, 'Bad request: the body must be a JSON object') };
    }
    const payload = isJsonObject(body) ? body : {};

    if (resource.kind === 'users' || resource.kind === 'accounts') {
      const store = resource.kind === 'users' ? users : accounts;
      const noun = resource.kind === 'users' ? 'User' : 'Account';
      const idField = resource.kind === 'users' ? 'identifyId' : 'id';
      const required = resource.kind === 'users' ? ['identifyId', 'propertyKeys'] : ['id', 'name', 'propertyKeys'];

      if (resource.id === undefined && method === 'POST') {
        // API ref: https://px-apidocs.gainsight.com/operation/operation-createuserusingpost
        const missing = missingFields(payload, required);
        if (missing.length > 0) return badRequest(missing);
        const id = String(payload[idField]);
        if (store.has(id)) return { status: 400, body: apiError(400, 'Bad request, possible duplicate') };
        store.set(id, { ...payload });
        return created();
      }
      if (resource.id === undefined && method === 'GET') {
        // The list call (`GET /v1/accounts?pageSize=…`): one page, no filtering.
        // API ref: https://px-apidocs.gainsight.com/operation/operation-getaccountsusingget
        const key = resource.kind === 'users' ? 'users' : 'accounts';
        const page = [...store.values()].slice(0, 25);
        return { status: 200, body: { [key]: page, totalHits: store.size, scrollId: null } };
      }
      if (resource.id !== undefined && (method === 'PUT' || method === 'GET')) {
        const existing = store.get(resource.id);
        if (!existing) {
          return { status: 404, body: apiError(404, `${noun} was not found for parameters {id=${resource.id}}`) };
        }
        if (method === 'GET') return { status: 200, body: existing };
        // API ref: https://px-apidocs.gainsight.com/operation/operation-updateuserusingput_1
        store.set(resource.id, { ...existing, ...payload });
        return { status: 204 };
      }
    }

    if (resource.kind === 'events/custom' && method === 'POST') {
      // API ref: https://px-apidocs.gainsight.com/operation/operation-createcustomeventusingpost
      const missing = missingFields(payload, ['eventName', 'identifyId', 'propertyKey', 'userType']);
      if (missing.length > 0) return badRequest(missing);
      customEvents.push({ ...payload });
      return created();
    }

    return { status: 404, body: apiError(404, `No handler found for ${method} ${pathname}`) };
  }

  function send(res: ServerResponse, record: RecordedRequest, answer: Answer): void {
    if (res.destroyed) return;
    record.status = answer.status;
    if (answer.body === undefined) sendEmpty(res, answer.status);
    else sendJson(res, answer.status, answer.body);
  }

  function matches(script: GainsightScript, method: string, rawPath: string, pathname: string): boolean {
    if (script.method !== undefined && script.method.toUpperCase() !== method) return false;
    if (script.path === undefined) return true;
    if (script.path instanceof RegExp) return script.path.test(rawPath);
    return script.path === pathname || `/v1${script.path}` === pathname;
  }

  const loopback = await startLoopbackServer((req: IncomingMessage, res: ServerResponse, rawBody: string) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const rawPath = req.url ?? '/';
    const pathname = rawPath.split('?')[0]!;
    const parsed = parseResource(pathname);
    const record: RecordedRequest = {
      method,
      path: rawPath,
      resource: 'invalid' in parsed ? { kind: 'unknown' } : parsed,
      headers: recordHeaders(req),
      body: parseJson(rawBody),
      rawBody,
      scripted: false,
    };
    requests.push(record);

    // Protocol checks come before scripted answers: a request the real API would refuse
    // outright never gets a scripted success.
    if (record.headers['x-aptrinsic-api-key'] !== apiKey) {
      send(res, record, { status: 401, body: apiError(401, 'Unauthorized or bad API Key') });
      return;
    }
    if (WRITE_METHODS.has(method) && (rawBody !== '' || method === 'POST' || method === 'PUT') && mediaType(record.headers['content-type']) !== 'application/json') {
      send(res, record, { status: 415, body: apiError(415, `Content type '${record.headers['content-type'] ?? ''}' not supported`) });
      return;
    }
    if ((method === 'POST' || method === 'PUT') && rawBody !== '' && record.body === undefined) {
      send(res, record, { status: 400, body: apiError(400, 'Bad request: malformed JSON') });
      return;
    }
    if ('invalid' in parsed) {
      send(res, record, { status: 400, body: apiError(400, 'Bad request: malformed percent-encoding in the path') });
      return;
    }

    const scripted = scripts.take((script) => matches(script, method, rawPath, pathname));
    if (!scripted) {
      send(res, record, route(record, pathname));
      return;
    }

    record.scripted = true;
    const delay = scripted.delayMs ?? 0;
    const passThrough = scripted.status === undefined && !scripted.hang && !scripted.reset;
    const own = scripted.apply || passThrough ? route(record, pathname) : undefined;
    if (scripted.hang) return; // answered never; close() ends the socket
    const deliver = (): void => {
      if (scripted.reset) resetConnection(req);
      else if (scripted.status !== undefined) {
        if (res.destroyed) return;
        record.status = scripted.status;
        sendScripted(res, { ...scripted, status: scripted.status }, (status) =>
          status >= 400 ? apiError(status, STATUS_MESSAGES[status] ?? `Scripted ${status}`) : undefined,
        );
      } else send(res, record, own!);
    };
    if (delay > 0) loopback.later(delay, deliver);
    else deliver();
  });

  return {
    baseUrl: `${loopback.origin}/v1`,
    apiKey,
    requests,
    users,
    accounts,
    customEvents,
    script: (...answers) => scripts.push(...answers),
    pendingScripts: () => scripts.pending(),
    calls: () => requests.map((r) => `${r.method} ${r.path.split('?')[0]!.replace(/^\/v1(?=\/)/, '')}`),
    reset() {
      requests.length = 0;
      users.clear();
      accounts.clear();
      customEvents.length = 0;
      scripts.clear();
    },
    close: () => loopback.close(),
  };
}
