import { hash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareObj } from '@middy/core';
import { AuthError } from '../errors.ts';
import type { RoutePolicy } from './routes.ts';
import { type RelayState, stateOf } from './state.ts';

const digest = (value: string): Buffer => hash('sha256', value, 'buffer');

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

/** What opens the invocation's route, or undefined when it needs nothing. */
interface Door {
  kind: 'webhook-secret' | 'write-key';
  secrets: readonly string[];
  authorization: string | undefined;
}

function doorOf(state: RelayState): Door | undefined {
  const invocation = state.invocation;
  const credentials = state.served?.credentials;
  if (invocation?.kind !== 'http' || credentials === undefined) return undefined;
  const kind = invocation.route.credentials;
  if (kind === 'none') return undefined;
  const secrets = kind === 'write-key' ? credentials.writeKeys : credentials.webhookSecrets;
  // Local development without secrets: the loader has logged that authentication is off.
  if (secrets.length === 0 && credentials.emptyListOpens) return undefined;
  return { kind, secrets, authorization: invocation.http.headers.authorization };
}

/**
 * Authenticates the credential in the Authorization header, before the body is read (docs/security.md,
 * docs/senders.md), against the secrets the route's policy names:
 * - webhook secret (`POST /events`, `GET /health?deep=1`): `Authorization: Bearer <secret>` only;
 * - write key (`/v1/*`): Basic with the key as user name and an empty password, or Bearer;
 *   without an Authorization header, the body's `writeKey` is checked once decoded
 *   ({@link authenticateWriteKey}), and until then any failure is a 401.
 */
export function authenticate(): MiddlewareObj {
  return {
    before: function authenticateBefore(request) {
      const state = stateOf(request);
      const door = doorOf(state);
      if (door === undefined) return;
      const header = door.authorization;
      if (door.kind === 'write-key') {
        if (header === undefined) {
          state.writeKeyPending = true;
          return;
        }
        const writeKey = basicWriteKey(header);
        if (writeKey === null) throw new AuthError('Malformed Basic credentials: send base64("<write key>:")');
        const token = writeKey ?? bearerToken(header);
        if (token === undefined) throw new AuthError('Unsupported Authorization scheme: use Basic (write key) or Bearer');
        if (!matchesSecret(token, door.secrets)) throw new AuthError('Wrong write key');
        return;
      }
      const token = bearerToken(header);
      if (token === undefined) throw new AuthError('Missing bearer secret: send Authorization: Bearer <webhook secret>');
      if (!matchesSecret(token, door.secrets)) throw new AuthError('Wrong bearer secret');
    },
  };
}

/**
 * Tracking API without an Authorization header: the decoded body must carry a `writeKey` (in
 * the batch envelope, or in the single call) that is one of the write keys.
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
      if (!matchesSecret(writeKey, doorOf(state)?.secrets ?? [])) throw new AuthError('Wrong write key');
      state.writeKeyPending = false;
    },
  };
}
