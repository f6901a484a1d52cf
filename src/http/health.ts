import { classify } from '../gainsight/classify.ts';
import type { Pipeline } from '../pipeline.ts';
import { VERSION } from '../version.ts';
import { type HttpResponse, json } from './answer.ts';

/**
 * `GET /health?deep=1` (behind the webhook secret): do the configuration and the Gainsight API
 * key work? The configuration check has passed by the time this runs (a failure is answered by
 * the error translator in the same shape); this adds one cheap Gainsight read call through the
 * pipeline's client.
 * API ref: https://px-apidocs.gainsight.com/ (getAccountsUsingGET: `GET /accounts?pageSize=1`)
 */

export type Check = { ok: true; [detail: string]: unknown } | { ok: false; code: string; message: string };

const GAINSIGHT_CHECK_TIMEOUT_MS = 3000;

/** Checks the key with one read call, given up by `deadline` (epoch ms) at the latest. */
export async function checkGainsight(pipeline: Pipeline, deadline: number, signal?: AbortSignal): Promise<Check> {
  const client = pipeline.client;
  if (client === undefined) return { ok: true, skipped: 'dry run: nothing is sent to Gainsight PX' };
  const request = { method: 'GET' as const, path: '/accounts?pageSize=1' };
  let answer: unknown;
  try {
    answer = await client.send(request, { timeoutMs: Math.min(GAINSIGHT_CHECK_TIMEOUT_MS, deadline - Date.now()), signal });
  } catch (error) {
    answer = error;
  }
  const verdict = classify(request, answer);
  if (verdict.next === 'success') return { ok: true, status: (answer as { status: number }).status };
  return { ok: false, code: verdict.error.code, message: verdict.error.message };
}

/** The deep health answer: 200 when every check passed, else 503 naming the failing part. */
export function healthAnswer(checks: Record<string, Check>): HttpResponse {
  const ok = Object.values(checks).every((check) => check.ok);
  return json(ok ? 200 : 503, { status: ok ? 'ok' : 'fail', version: VERSION, checks });
}
