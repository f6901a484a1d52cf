/**
 * The cold-start floor (issue #14): the least a first invocation of this function has to do,
 * with nothing of the relay in it. bench/run.mjs bundles this file with the handler's esbuild
 * options (minified ESM, `@aws-sdk/*` left to the runtime) and times it from spawn to exit,
 * interleaved with the relay's cold starts and with the same production environment:
 *
 *   import @aws-sdk/client-ssm → one GetParameters (WithDecryption) for the relay's five names
 *   → one fetch POST of a pre-built custom event to Gainsight PX with the API key read from SSM.
 *
 * The endpoint, region and credentials come from that environment as they do for the relay
 * (AWS_ENDPOINT_URL_SSM, AWS_REGION, AWS_ACCESS_KEY_ID …); the request — `{ method, url, json }`,
 * planned by the parent with the relay's own planEvent — comes in BENCH_FLOOR_REQUEST.
 * Exits 0 only when Gainsight answered 2xx.
 */
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';

// The names src/config/relay-config.ts reads under SSM_PREFIX.
const names = ['api-key', 'product-key', 'webhook-secret', 'settings', 'write-keys'].map((name) => `${process.env.SSM_PREFIX}/${name}`);
const { Parameters = [] } = await new SSMClient({}).send(new GetParametersCommand({ Names: names, WithDecryption: true }));
const apiKey = Parameters.find((parameter) => parameter.Name === names[0])?.Value;
if (!apiKey) throw new Error(`GetParameters returned no ${names[0]}`);

const request = JSON.parse(process.env.BENCH_FLOOR_REQUEST);
const response = await fetch(request.url, {
  method: request.method,
  headers: { 'X-APTRINSIC-API-KEY': apiKey, Accept: 'application/json', 'Content-Type': 'application/json' },
  body: request.json,
});
await response.text();
// Exit at once, as cold-start.mjs does: keep-alive sockets would otherwise hold the process open.
process.exit(response.status >= 200 && response.status < 300 ? 0 : 1);
