import type { RelayError } from '../errors.ts';

/** The API Gateway proxy result shape (it serves payload 2.0 and REST v1 alike). */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** A JSON answer. Serialising cannot throw: every body the relay builds is plain data. */
export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** SPEC §4 error body: `{"error":{"code","message","details"?}}`. */
export function errorBody(error: Pick<RelayError, 'code' | 'message' | 'details'>): { error: Record<string, unknown> } {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details }),
    },
  };
}
