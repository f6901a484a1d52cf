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
  for (const secretDigest of digestsOf(secrets)) {
    matched = timingSafeEqual(candidate, secretDigest) || matched;
  }
  return matched;
}

/** The secrets' digests, computed once per configured list (it changes only on rotation). */
const secretDigests = new WeakMap<readonly string[], Buffer[]>();
function digestsOf(secrets: readonly string[]): Buffer[] {
  let digests = secretDigests.get(secrets);
  if (digests === undefined) {
    digests = secrets.map(digest);
    secretDigests.set(secrets, digests);
  }
  return digests;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^\s*Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * The write key of an `Authorization: Basic base64(writeKey + ":")` header, as the RudderStack and
 * Segment SDKs send it (the write key as user name, an empty password).
 *
 * @returns undefined when the header is not Basic; `null` when it is Basic but malformed (not
 * base64 of `user:password`, or a non-empty password).
 */
export function basicWriteKey(header: string | undefined): string | null | undefined {
  const match = header === undefined ? null : /^\s*Basic\s+(\S+)\s*$/i.exec(header);
  if (!match) return undefined;
  const encoded = match[1] as string;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return null;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0 || decoded.slice(colon + 1) !== '') return null;
  return decoded.slice(0, colon);
}

/**
 * Authenticates with the webhook secret(s) (SPEC §1, §1.1):
 * - `POST /events` and `GET /health?deep=1`: `Authorization: Bearer <secret>` only;
 * - the tracking API (`/v1/*`): Basic with the secret as user name and an empty password (the
 *   SDKs' write key), or Bearer; without an Authorization header, the `writeKey` field of the
 *   body is checked after decoding (see {@link authenticateWriteKey}).
 * With no secret configured — possible only with env configuration, i.e. local development —
 * authentication is off and the configuration loader has already logged a warning.
 */
export function authenticate(): MiddlewareObj {
  return {
    before: function authenticateBefore(request) {
      const state = stateOf(request);
      const invocation = state.invocation;
      if (invocation?.kind !== 'http' || (invocation.route === 'health' && !invocation.deep)) return;
      const secrets = state.config?.webhookSecrets ?? [];
      if (secrets.length === 0) return;
      const header = invocation.http.headers.authorization;
      if (invocation.route === 'tracking') {
        if (header === undefined) {
          state.writeKeyPending = true;
          return;
        }
        const writeKey = basicWriteKey(header);
        if (writeKey === null) throw new AuthError('Malformed Basic credentials: send base64("<write key>:")');
        const token = writeKey ?? bearerToken(header);
        if (token === undefined) throw new AuthError('Unsupported Authorization scheme: use Basic (write key) or Bearer');
        if (!matchesSecret(token, secrets)) throw new AuthError('Wrong write key');
        return;
      }
      const token = bearerToken(header);
      if (token === undefined) throw new AuthError('Missing bearer secret: send Authorization: Bearer <webhook secret>');
      if (!matchesSecret(token, secrets)) throw new AuthError('Wrong bearer secret');
    },
  };
}

/**
 * Tracking API without an Authorization header: the request must carry a `writeKey` (in the
 * batch envelope, or in the single call) equal to a webhook secret.
 */
export function authenticateWriteKey(): MiddlewareObj {
  return {
    before: function authenticateWriteKeyBefore(request) {
      const state = stateOf(request);
      if (!state.writeKeyPending) return;
      const writeKey = state.envelope?.writeKey;
      if (typeof writeKey !== 'string' || writeKey === '') {
        throw new AuthError('Missing write key: send Basic credentials, a Bearer secret or a writeKey field');
      }
      if (!matchesSecret(writeKey, state.config?.webhookSecrets ?? [])) throw new AuthError('Wrong write key');
      state.writeKeyPending = false;
    },
  };
}

