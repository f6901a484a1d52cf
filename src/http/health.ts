import type { RelayConfig } from '../config/relay-config.ts';
import type { RelayError } from '../errors.ts';
import { GainsightClient, classifyFailure, isSuccess } from '../gainsight/client.ts';
import { VERSION } from '../version.ts';
import { type HttpResponse, json } from './responses.ts';

/**
 * `GET /health?deep=1` (authenticated): do the configuration and the Gainsight API key work?
 * The configuration check has passed by the time this runs (a failure is answered by the error
 * translator in the same shape); this adds one cheap Gainsight read call.
 * API ref: https://px-apidocs.gainsight.com/ (getAccountsUsingGET: `GET /accounts?pageSize=1`)
 */

export type Check = { ok: true; [detail: string]: unknown } | { ok: false; code: string; message: string };

const GAINSIGHT_CHECK_TIMEOUT_MS = 3000;

export async function checkGainsight(config: RelayConfig, signal?: AbortSignal): Promise<Check> {
  if (config.dryRun || config.apiKey === undefined) return { ok: true, skipped: 'dry run: nothing is sent to Gainsight PX' };
  const client = new GainsightClient({ baseUrl: config.baseUrl, apiKey: config.apiKey });
  const request = { method: 'GET' as const, path: '/accounts?pageSize=1' };
  const timeout = AbortSignal.timeout(GAINSIGHT_CHECK_TIMEOUT_MS);
  try {
    const response = await client.send(request, signal ? AbortSignal.any([signal, timeout]) : timeout);
    if (isSuccess(response.status)) return { ok: true, status: response.status };
    const error = classifyFailure(request, response);
    return { ok: false, code: error.code, message: error.message };
  } catch (error) {
    const known = error as RelayError;
    return { ok: false, code: known.code ?? 'gainsight_unreachable', message: known.message };
  }
}

/** The deep health answer: 200 when every check passed, else 503 naming the failing part. */
export function healthAnswer(checks: Record<string, Check>): HttpResponse {
  const ok = Object.values(checks).every((check) => check.ok);
  return json(ok ? 200 : 503, { status: ok ? 'ok' : 'fail', version: VERSION, checks });
}
