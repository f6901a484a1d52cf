import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  Script,
  isJsonObject,
  mediaType,
  parseJson,
  recordHeaders,
  resetConnection,
  sendJson,
  sendScripted,
  startLoopbackServer,
  type RecordedHeaders,
  type ScriptedOutcome,
} from './http.ts';

/**
 * A loopback fake of AWS Systems Manager Parameter Store speaking the AWS JSON 1.1 protocol
 * the way `@aws-sdk/client-ssm` sends it (its AWS JSON 1.1 protocol):
 * `POST /`, `content-type: application/x-amz-json-1.1`, `x-amz-target: AmazonSSM.GetParameters`,
 * a SigV4 `authorization` header, body `{"Names":[...],"WithDecryption":true}`.
 *
 * Only `GetParameters` is served: it is the one call the relay (through `@middy/ssm`) makes and
 * the one its IAM policy allows. Select it in a test with
 * `AWS_ENDPOINT_URL_SSM = fake.endpoint` (plus a region and dummy credentials).
 *
 * A SecureString asked for without `WithDecryption: true` comes back as an obviously encrypted
 * placeholder (`AQICAH…ENCRYPTED…`), never its value, so a wrong SDK call fails the test.
 */

export type ParameterType = 'String' | 'SecureString' | 'StringList';

export interface FakeParameter {
  value: string;
  type?: ParameterType;
}

export interface SsmCall {
  /** The `x-amz-target` header, e.g. `AmazonSSM.GetParameters`. */
  target: string;
  /** Lowercased header names. */
  headers: RecordedHeaders;
  /** The parsed JSON body (`undefined` if empty or not JSON). */
  body: unknown;
  /** The status answered; `undefined` for a hang or a reset connection. */
  status?: number;
}

/** A scripted answer for the next call(s), whatever the parameter names. */
export interface SsmScript extends ScriptedOutcome {
  /** Without `hang`/`reset`, a status is required. */
  status?: number;
}

export interface FakeSsm {
  /** `http://127.0.0.1:PORT`; use as `AWS_ENDPOINT_URL_SSM` or the client's `endpoint`. */
  readonly endpoint: string;
  readonly calls: SsmCall[];
  setParameter(name: string, value: string, type?: ParameterType): void;
  deleteParameter(name: string): void;
  /** Queues answers for the next calls, in order; e.g. `{ status: 400, body: { __type: 'ThrottlingException' } }`. */
  script(...answers: SsmScript[]): void;
  pendingScripts(): number;
  /** Every name asked for so far, in order (one entry per name per call). */
  requestedNames(): string[];
  close(): Promise<void>;
}

/** The account id in the ARNs the fake returns. */
export const FAKE_ACCOUNT_ID = '123456789012';

const JSON_11 = 'application/x-amz-json-1.1';
const MAX_NAMES = 10; // GetParameters accepts 1 to 10 names per call

interface StoredParameter {
  value: string;
  type: ParameterType;
  version: number;
  lastModified: number;
}

const awsError = (type: string, message: string): Record<string, string> => ({ __type: type, message });

const defaultErrorBody = (status: number): Record<string, string> =>
  status < 400
    ? {}
    : status >= 500
    ? awsError('InternalServerError', 'Scripted internal error')
    : status === 400
      ? awsError('ThrottlingException', 'Rate exceeded')
      : awsError('AccessDeniedException', `Scripted ${status}`);

/** The SigV4 scope region (`Credential=AKID/20261128/us-east-1/ssm/aws4_request`), for ARNs. */
function regionOf(authorization: string): string {
  return /Credential=[^/]+\/\d{8}\/([^/]+)\/ssm\//.exec(authorization)?.[1] ?? 'us-east-1';
}

export async function startFakeSsm(
  options: { parameters?: Record<string, FakeParameter> } = {},
): Promise<FakeSsm> {
  const store = new Map<string, StoredParameter>();
  const calls: SsmCall[] = [];
  const scripts = new Script<SsmScript>();

  const setParameter = (name: string, value: string, type: ParameterType = 'String'): void => {
    const previous = store.get(name);
    store.set(name, {
      value,
      type,
      version: (previous?.version ?? 0) + 1,
      lastModified: Math.floor(Date.now() / 1000),
    });
  };
  for (const [name, parameter] of Object.entries(options.parameters ?? {})) {
    setParameter(name, parameter.value, parameter.type);
  }

  const reply = (res: ServerResponse, call: SsmCall, status: number, body: unknown): void => {
    if (res.destroyed) return;
    call.status = status;
    sendJson(res, status, body, {}, JSON_11);
  };

  function getParameters(body: Record<string, unknown>, region: string): { status: number; body: unknown } {
    const names = body['Names'];
    if (!Array.isArray(names) || names.length === 0 || !names.every((name) => typeof name === 'string')) {
      return { status: 400, body: awsError('ValidationException', '1 validation error detected: Value null at \'names\' failed to satisfy constraint: Member must not be null') };
    }
    if (names.length > MAX_NAMES) {
      return { status: 400, body: awsError('ValidationException', `1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less than or equal to ${MAX_NAMES}`) };
    }
    const decrypt = body['WithDecryption'] === true;
    const parameters: unknown[] = [];
    const invalid: string[] = [];
    for (const name of new Set(names as string[])) {
      const parameter = store.get(name);
      if (!parameter) {
        invalid.push(name);
        continue;
      }
      const value =
        parameter.type === 'SecureString' && !decrypt
          ? `AQICAH-ENCRYPTED-${Buffer.from(name).toString('base64')}`
          : parameter.value;
      parameters.push({
        Name: name,
        Type: parameter.type,
        Value: value,
        Version: parameter.version,
        LastModifiedDate: parameter.lastModified,
        ARN: `arn:aws:ssm:${region}:${FAKE_ACCOUNT_ID}:parameter/${name.replace(/^\//, '')}`,
        DataType: 'text',
      });
    }
    return { status: 200, body: { Parameters: parameters, InvalidParameters: invalid } };
  }

  const loopback = await startLoopbackServer((req: IncomingMessage, res: ServerResponse, rawBody: string) => {
    const headers = recordHeaders(req);
    const call: SsmCall = { target: headers['x-amz-target'] ?? '', headers, body: parseJson(rawBody) };
    calls.push(call);

    // Protocol checks first: a malformed call never gets a scripted success.
    if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/') {
      reply(res, call, 400, awsError('UnknownOperationException', `Unsupported ${req.method ?? ''} ${req.url ?? ''}`));
      return;
    }
    if (mediaType(headers['content-type']) !== JSON_11) {
      reply(res, call, 400, awsError('SerializationException', `Expected content-type ${JSON_11}, got '${headers['content-type'] ?? ''}'`));
      return;
    }
    const authorization = headers['authorization'] ?? '';
    if (!authorization.startsWith('AWS4-HMAC-SHA256 ')) {
      reply(res, call, 400, awsError('MissingAuthenticationTokenException', 'Missing Authentication Token'));
      return;
    }
    if (call.target !== 'AmazonSSM.GetParameters') {
      reply(res, call, 400, awsError('InvalidAction', `The fake serves AmazonSSM.GetParameters only, not '${call.target}'`));
      return;
    }
    if (!isJsonObject(call.body)) {
      reply(res, call, 400, awsError('SerializationException', 'The body must be a JSON object'));
      return;
    }

    const scripted = scripts.take(() => true);
    if (!scripted) {
      const answer = getParameters(call.body, regionOf(authorization));
      reply(res, call, answer.status, answer.body);
      return;
    }
    if (scripted.hang) return; // answered never; close() ends the socket
    const deliver = (): void => {
      if (scripted.reset) {
        resetConnection(req);
        return;
      }
      if (res.destroyed) return;
      const status = scripted.status ?? 500;
      call.status = status;
      sendScripted(res, { ...scripted, status }, defaultErrorBody, JSON_11);
    };
    if ((scripted.delayMs ?? 0) > 0) loopback.later(scripted.delayMs!, deliver);
    else deliver();
  });

  return {
    endpoint: loopback.origin,
    calls,
    setParameter,
    deleteParameter: (name) => void store.delete(name),
    script: (...answers) => scripts.push(...answers),
    pendingScripts: () => scripts.pending(),
    requestedNames: () =>
      calls.flatMap((call) => {
        const names = isJsonObject(call.body) ? call.body['Names'] : undefined;
        return Array.isArray(names) ? names.map(String) : [];
      }),
    close: () => loopback.close(),
  };
}
