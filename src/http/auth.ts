import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareObj } from '@middy/core';
import { AuthError } from '../errors.ts';
import { stateOf } from './state.ts';

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * True when `presented` equals one of `secrets`. Both sides are hashed first so the comparison
 * takes the same time whatever the lengths, and every secret is compared (no early exit), so the
 * timing says nothing about which secret, or how much of one, matched.
 */
export function matchesSecret(presented: string, secrets: readonly string[]): boolean {
  const candidate = digest(presented);
  let matched = false;
  for (const secret of secrets) {
    matched = timingSafeEqual(candidate, digest(secret)) || matched;
  }
  return matched;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^\s*Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * Authenticates `POST /events` and the deep health check with the webhook secret(s) (SPEC §1). With no secret configured —
 * possible only with env configuration, i.e. local development — authentication is off and the
 * configuration loader has already logged a warning.
 */
export function authenticate(): MiddlewareObj {
  return {
    before: function authenticateBefore(request) {
      const state = stateOf(request);
      const invocation = state.invocation;
      if (invocation?.kind !== 'http' || (invocation.route !== 'events' && !invocation.deep)) return;
      const secrets = state.config?.webhookSecrets ?? [];
      if (secrets.length === 0) return;
      const token = bearerToken(invocation.http.headers.authorization);
      if (token === undefined) throw new AuthError('Missing bearer secret: send Authorization: Bearer <webhook secret>');
      if (!matchesSecret(token, secrets)) throw new AuthError('Wrong bearer secret');
    },
  };
}
