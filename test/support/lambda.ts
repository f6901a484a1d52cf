import { Buffer } from 'node:buffer';
import type { Context } from 'aws-lambda';
import { vi } from 'vitest';
import { EnvSchema } from '../../src/config/env.ts';

/**
 * Running the real handler in tests: build API Gateway events, a Lambda context, and import
 * handler.ts afresh under a given environment (the handler reads its environment once per
 * container, as in Lambda).
 */

export type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** Environment variables the relay reads (its env schema) and the AWS SDK's; each load starts from none of them. */
const RELAY_VARIABLES = [
  ...Object.keys(EnvSchema.shape),
  'AWS_ENDPOINT_URL_SSM',
  'AWS_ENDPOINT_URL_SQS',
  'AWS_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
];

/** Imports a fresh copy of handler.ts (and every module below it) under `env`. */
export async function loadHandler(env: Record<string, string | undefined>): Promise<Handler> {
  for (const name of RELAY_VARIABLES) delete process.env[name];
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined) process.env[name] = value;
  }
  vi.resetModules();
  const module = (await import('../../handler.ts')) as { handler: Handler };
  return module.handler;
}

/** AWS settings that point the SDK at a loopback fake, never at AWS. */
export const awsTestEnv = (ssmEndpoint: string): Record<string, string> => ({
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIDUMMY',
  AWS_SECRET_ACCESS_KEY: 'dummy-secret',
  AWS_ENDPOINT_URL_SSM: ssmEndpoint,
});

/** A fresh Lambda context; `remainingMs` is what getRemainingTimeInMillis starts from. */
export function lambdaContext(remainingMs = 15_000): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'gainsight-px-relay-test-relay',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:gainsight-px-relay-test-relay',
    memoryLimitInMB: '256',
    awsRequestId: `req-${Math.random().toString(16).slice(2)}`,
    logGroupName: '/aws/lambda/gainsight-px-relay-test-relay',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export interface HttpOptions {
  method?: string;
  path?: string;
  body?: unknown;
  /** Send `body` as this exact text instead of JSON-encoding it. */
  rawBody?: string;
  headers?: Record<string, string>;
  /** Bearer secret to send; `null` sends no Authorization header. */
  secret?: string | null;
  base64?: boolean;
}

function bodyText(options: HttpOptions): string | undefined {
  const text = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  return text !== undefined && options.base64 ? Buffer.from(text, 'utf8').toString('base64') : text;
}

function headersOf(options: HttpOptions, lowercase: boolean): Record<string, string> {
  const headers: Record<string, string> = { [lowercase ? 'content-type' : 'Content-Type']: 'application/json' };
  if (options.secret !== null && options.secret !== undefined) {
    headers[lowercase ? 'authorization' : 'Authorization'] = `Bearer ${options.secret}`;
  }
  return { ...headers, ...options.headers };
}

/** An HTTP API (payload format 2.0) event, as API Gateway sends it. */
export function httpApiEvent(options: HttpOptions = {}): Record<string, unknown> {
  const method = options.method ?? 'POST';
  const path = options.path ?? '/events';
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: headersOf(options, true),
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.test',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'r',
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: '01/Jan/2026:00:00:00 +0000',
      timeEpoch: 0,
    },
    body: bodyText(options),
    isBase64Encoded: options.base64 === true,
  };
}

/** A REST API (v1 proxy) event. */
export function restApiEvent(options: HttpOptions = {}): Record<string, unknown> {
  const method = options.method ?? 'POST';
  const path = options.path ?? '/events';
  return {
    resource: path,
    path,
    httpMethod: method,
    headers: headersOf(options, false),
    multiValueHeaders: {},
    queryStringParameters: null,
    requestContext: { stage: 'prod', httpMethod: method, path: `/prod${path}`, requestId: 'r' },
    body: bodyText(options) ?? null,
    isBase64Encoded: options.base64 === true,
  };
}

/** The event EventBridge sends for a schedule. */
export const scheduledEvent = (): Record<string, unknown> => ({
  version: '0',
  id: 'e1',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: '2026-11-28T00:00:00Z',
  region: 'us-east-1',
  resources: ['arn:aws:events:us-east-1:123456789012:rule/relay-schedule'],
  detail: {},
});

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: any;
  text: string;
}

/** Invokes the handler and reads its HTTP answer, failing loudly when it is not one. */
export async function call(handler: Handler, event: unknown, context = lambdaContext()): Promise<HttpAnswer> {
  const result = (await handler(event, context)) as { statusCode?: number; headers?: Record<string, string>; body?: string };
  if (typeof result?.statusCode !== 'number' || typeof result.body !== 'string') {
    throw new Error(`handler did not answer with an HTTP response: ${JSON.stringify(result)}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(result.body);
  } catch {
    throw new Error(`handler answered a body that is not JSON: ${result.body.slice(0, 200)}`);
  }
  return { status: result.statusCode, headers: result.headers ?? {}, body, text: result.body };
}
