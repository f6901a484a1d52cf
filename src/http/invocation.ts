import { MethodNotAllowedError, RouteNotFoundError } from '../errors.ts';
import { DEEP_HEALTH, ROUTES, type RoutePolicy } from './routes.ts';

/**
 * What kind of invocation this is. One function serves API Gateway (HTTP API payload 2.0 and REST
 * API v1 proxy events), EventBridge schedules and manual `sls invoke` calls.
 */

/** An inbound HTTP request, the same whatever API Gateway flavour delivered it. */
export interface InboundHttp {
  method: string;
  path: string;
  /** Header names lowercased. */
  headers: Record<string, string>;
  body: string | undefined;
  isBase64Encoded: boolean;
  /** Query string parameters (last value wins). */
  query: Record<string, string>;
}

export type Invocation =
  | {
      kind: 'http';
      http: InboundHttp;
      route: RoutePolicy;
    }
  | { kind: 'scheduled' }
  | { kind: 'action'; action: 'refresh' | 'redrive' }
  /** Messages of the parking queue, from its event source mapping (the consumer, docs/http-contract.md). */
  | { kind: 'sqs'; records: readonly SqsRecord[] };

/** One SQS message as Lambda hands it over. */
export interface SqsRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  /** SQS system attributes: ApproximateReceiveCount, SentTimestamp, MessageGroupId (FIFO), … */
  attributes: Record<string, string>;
}

const sqsRecordOf = (record: unknown): SqsRecord | undefined => {
  if (!isObject(record) || record.eventSource !== 'aws:sqs' || typeof record.messageId !== 'string') return undefined;
  const attributes: Record<string, string> = Object.create(null);
  if (isObject(record.attributes)) for (const [name, value] of Object.entries(record.attributes)) if (typeof value === 'string') attributes[name] = value;
  return { messageId: record.messageId, receiptHandle: str(record.receiptHandle) ?? '', body: str(record.body) ?? '', attributes };
};

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function lowerHeaders(raw: unknown): Record<string, string> {
  const headers: Record<string, string> = Object.create(null);
  if (!isObject(raw)) return headers;
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value === 'string') headers[name.toLowerCase()] = value;
  }
  return headers;
}

/** `/prod/events/` → `/events`: drops a REST stage prefix and trailing slashes. */
function normalisePath(path: string, stage: string | undefined): string {
  let normalised = path.replace(/\/+$/, '') || '/';
  if (stage && stage !== '$default' && normalised.startsWith(`/${stage}/`)) {
    normalised = normalised.slice(stage.length + 1);
  }
  return normalised;
}

function queryOf(event: Json): Record<string, string> {
  const query: Record<string, string> = Object.create(null);
  if (typeof event.rawQueryString === 'string' && event.rawQueryString !== '') {
    for (const [name, value] of new URLSearchParams(event.rawQueryString)) query[name] = value;
  } else if (isObject(event.queryStringParameters)) {
    for (const [name, value] of Object.entries(event.queryStringParameters)) {
      if (typeof value === 'string') query[name] = value;
    }
  }
  return query;
}

function httpOf(event: Json): InboundHttp | undefined {
  const context = isObject(event.requestContext) ? event.requestContext : undefined;
  // HTTP API, payload format 2.0
  if (event.version === '2.0' && context && isObject(context.http)) {
    return {
      method: (str(context.http.method) ?? '').toUpperCase(),
      path: normalisePath(str(event.rawPath) ?? str(context.http.path) ?? '/', str(context.stage)),
      headers: lowerHeaders(event.headers),
      body: str(event.body),
      isBase64Encoded: event.isBase64Encoded === true,
      query: queryOf(event),
    };
  }
  // REST API (and HTTP API payload 1.0) proxy event
  if (typeof event.httpMethod === 'string') {
    return {
      method: event.httpMethod.toUpperCase(),
      path: normalisePath(str(event.path) ?? '/', context ? str(context.stage) : undefined),
      headers: lowerHeaders(event.headers),
      body: str(event.body),
      isBase64Encoded: event.isBase64Encoded === true,
      query: queryOf(event),
    };
  }
  return undefined;
}

/** Thrown for an invocation that is neither HTTP, a schedule, nor a known manual action. */
export class UnknownInvocationError extends RouteNotFoundError {}

/**
 * Classifies the raw Lambda event.
 *
 * @throws RouteNotFoundError (404) or MethodNotAllowedError (405) for HTTP requests that match
 * no route; UnknownInvocationError for anything that is not an HTTP request or a schedule.
 */
export function classifyInvocation(event: unknown): Invocation {
  if (isObject(event)) {
    const http = httpOf(event);
    if (http) {
      const match = ROUTES.get(http.path);
      if (!match) throw new RouteNotFoundError(`No route for ${http.path.slice(0, 100)}`);
      if (!match.methods.includes(http.method)) {
        throw new MethodNotAllowedError(`${http.path} accepts ${match.methods.join(', ')}`, match.methods);
      }
      const deep = match.name === 'health' && ['1', 'true', 'yes'].includes((http.query.deep ?? '').toLowerCase());
      return { kind: 'http', http, route: deep ? DEEP_HEALTH : match };
    }
    if (event.source === 'aws.events' && event['detail-type'] === 'Scheduled Event') return { kind: 'scheduled' };
    if (Array.isArray(event.Records) && event.Records.length > 0) {
      const records = event.Records.map(sqsRecordOf);
      if (records.every((record) => record !== undefined)) return { kind: 'sqs', records: records as SqsRecord[] };
    }
    if (event.action === 'refresh' || event.action === 'redrive') return { kind: 'action', action: event.action };
  }
  throw new UnknownInvocationError('Unrecognised invocation: expected an API Gateway request, a schedule or SQS messages');
}
