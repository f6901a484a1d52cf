import { createHash, createHmac } from 'node:crypto';
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * The one SSM call the relay makes — `GetParameters` with decryption — sent over `node:https`
 * and signed with Signature Version 4, instead of through `@aws-sdk/client-ssm`.
 *
 * Why: the SDK client is ~600 KB of bundle and 100–200 ms of every cold start (import, client
 * set-up, first send), for one JSON POST (bench/, `npm run bench`). The call is small and
 * stable: AWS JSON 1.1, `x-amz-target: AmazonSSM.GetParameters`.
 *
 * What it honours, as the SDK does: `AWS_REGION` (else `AWS_DEFAULT_REGION`),
 * `AWS_ENDPOINT_URL_SSM` / `AWS_ENDPOINT_URL` (unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`),
 * `AWS_USE_FIPS_ENDPOINT`, `AWS_USE_DUALSTACK_ENDPOINT`, and credentials from
 * `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` — always set in Lambda.
 * Without credentials in the environment (a developer's profile, SSO, a container role) it
 * returns `undefined` and the caller uses the SDK itself, whose provider chain covers them.
 *
 * API ref: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameters.html
 * Signing: https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 */

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SsmParameter {
  Name: string;
  Type?: string;
  Value?: string;
}

export interface GetParametersAnswer {
  Parameters: SsmParameter[];
  InvalidParameters: string[];
}

/** An SSM failure: `retryable` for throttling, 5xx, timeouts and connection errors. */
export class SsmCallError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SsmCallError';
  }
}

type Env = Record<string, string | undefined>;

const truthy = (value: string | undefined): boolean => value?.trim().toLowerCase() === 'true';

/** Credentials from the environment, or undefined when they are not all there. */
export function environmentCredentials(env: Env = process.env): Credentials | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID?.trim();
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY?.trim();
  if (!accessKeyId || !secretAccessKey) return undefined;
  const sessionToken = env.AWS_SESSION_TOKEN?.trim();
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

export const regionOf = (env: Env = process.env): string | undefined =>
  env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || undefined;

/** The SSM endpoint for `region`, with the SDK's endpoint variables applied. */
export function ssmEndpoint(region: string, env: Env = process.env): URL {
  if (!truthy(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS)) {
    const configured = env.AWS_ENDPOINT_URL_SSM?.trim() || env.AWS_ENDPOINT_URL?.trim();
    if (configured) return new URL(configured);
  }
  const fips = truthy(env.AWS_USE_FIPS_ENDPOINT);
  const dualStack = truthy(env.AWS_USE_DUALSTACK_ENDPOINT);
  const service = fips ? 'ssm-fips' : 'ssm';
  if (dualStack) return new URL(`https://${service}.${region}.${region.startsWith('cn-') ? 'api.amazonwebservices.com.cn' : 'api.aws'}/`);
  return new URL(`https://${service}.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}/`);
}

const sha256Hex = (data: string): string => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/**
 * Signature Version 4 headers for a POST of `body` to `url` (no query string). Returns every
 * header to send, `authorization` included.
 */
export function signPost(options: {
  url: URL;
  region: string;
  service: string;
  headers: Record<string, string>;
  body: string;
  credentials: Credentials;
  now?: Date;
}): Record<string, string> {
  const { url, region, service, body, credentials } = options;
  const amzDate = (options.now ?? new Date()).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers)) headers[name.toLowerCase()] = value.trim();
  headers.host = url.host;
  headers['x-amz-date'] = amzDate;
  if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const canonicalRequest = [
    'POST',
    url.pathname || '/',
    '',
    ...names.map((name) => `${name}:${headers[name]}`),
    '',
    names.join(';'),
    sha256Hex(body),
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, date), region), service), 'aws4_request');
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}

let agents: { http: HttpAgent; https: HttpsAgent } | undefined;
const agentsOf = () => (agents ??= { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) });

/** One POST; resolves with the status and text, rejects on transport failure or `timeoutMs`. */
function post(url: URL, headers: Record<string, string>, body: string, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const options = { method: 'POST', headers, agent: https ? agentsOf().https : agentsOf().http, signal: AbortSignal.timeout(timeoutMs) };
    const onResponse = (response: IncomingMessage) => {
      response.setEncoding('utf8');
      let text = '';
      response.on('data', (chunk: string) => {
        if (text.length < 1024 * 1024) text += chunk;
      });
      response.on('error', reject);
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
      response.on('close', () => {
        if (!response.complete) reject(new Error('Connection closed before the answer was complete'));
      });
    };
    const outgoing = https ? httpsRequest(url, options, onResponse) : httpRequest(url, options, onResponse);
    outgoing.on('error', reject);
    outgoing.setHeader('content-length', Buffer.byteLength(body));
    outgoing.end(body);
  });
}

/** Error types AWS marks as throttling: worth one more try. */
const THROTTLING = /Throttl|TooManyRequests|RequestLimitExceeded|ProvisionedThroughputExceeded/i;

/**
 * `GetParameters` for up to 10 `names`, decrypted. Tries twice (as the SDK client was set up:
 * `maxAttempts: 2`) when SSM throttles, answers 5xx, times out or cannot be reached.
 *
 * @throws SsmCallError
 */
export async function getParameters(options: {
  names: readonly string[];
  region: string;
  credentials: Credentials;
  env?: Env;
  timeoutMs?: number;
  attempts?: number;
}): Promise<GetParametersAnswer> {
  const url = ssmEndpoint(options.region, options.env);
  const body = JSON.stringify({ Names: options.names, WithDecryption: true });
  const attempts = options.attempts ?? 2;
  let failure: SsmCallError | undefined;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    try {
      // Signed per attempt: the signature carries the time.
      const headers = signPost({
        url,
        region: options.region,
        service: 'ssm',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonSSM.GetParameters' },
        body,
        credentials: options.credentials,
      });
      const answer = await post(url, headers, body, options.timeoutMs ?? 1500);
      const parsed = parseJson(answer.text);
      if (answer.status >= 200 && answer.status < 300) return answerOf(parsed);
      const type = errorTypeOf(parsed);
      failure = new SsmCallError(`SSM GetParameters answered ${answer.status}${type ? ` (${type})` : ''}`, answer.status >= 500 || THROTTLING.test(type ?? ''));
    } catch (error) {
      failure = new SsmCallError(`SSM GetParameters failed: ${error instanceof Error ? error.name : 'error'}`, true, { cause: error });
    }
    if (!failure.retryable) break;
  }
  throw failure as SsmCallError;
}

const parseJson = (text: string): unknown => {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** `__type` of an AWS JSON error (`com.amazon.coral.service#ThrottlingException` → `ThrottlingException`). */
const errorTypeOf = (body: unknown): string | undefined => {
  const type = (body as { __type?: unknown } | undefined)?.__type;
  return typeof type === 'string' ? type.split('#').pop() : undefined;
};

function answerOf(body: unknown): GetParametersAnswer {
  const record = (typeof body === 'object' && body !== null ? body : {}) as Partial<Record<keyof GetParametersAnswer, unknown>>;
  const parameters = Array.isArray(record.Parameters) ? (record.Parameters as SsmParameter[]) : [];
  const invalid = Array.isArray(record.InvalidParameters) ? (record.InvalidParameters as unknown[]).filter((name): name is string => typeof name === 'string') : [];
  return { Parameters: parameters.filter((parameter) => typeof parameter?.Name === 'string'), InvalidParameters: invalid };
}
