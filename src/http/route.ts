import type { MiddlewareObj } from '@middy/core';
import { VERSION } from '../version.ts';
import { classifyInvocation } from './invocation.ts';
import { json } from './answer.ts';
import { beginState } from './state.ts';

/**
 * Middleware: classifies the invocation (HTTP route, schedule, manual action) and answers
 * `GET /health` at once, before any SSM or Gainsight call and without authentication.
 * `GET /health?deep=1` goes on through configuration and authentication to the deep check.
 */
export function route(): MiddlewareObj {
  return {
    before: function routeBefore(request) {
      const state = beginState(request);
      state.invocation = classifyInvocation(state.raw);
      if (state.invocation.kind === 'http' && state.invocation.route.name === 'health') {
        return json(200, { status: 'ok', version: VERSION });
      }
      return undefined;
    },
  };
}
