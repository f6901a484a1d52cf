import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Loader for RudderStack's Gainsight PX destination fixtures, kept as data in
 * `shared/peer-cases/` beside the clone, or in `PEER_CASES_DIR`. The folder is not part of the repo,
 * in it, so it may be absent. A suite that needs it then calls {@link peerCasesMissing}: on a
 * developer's machine the suite is skipped, loudly; under CI (`CI` set, as `.ci/run` sets it) it
 * fails, because a skipped conformance suite would let the build pass having proved nothing.
 *
 * `PEER_CASES_DIR` overrides the folder (relative to the working directory). It exists only to
 * check that rule, e.g. `CI=true PEER_CASES_DIR=/nonexistent npx vitest run
 * test/integration/conformance.test.ts` must fail; nothing else sets it.
 */

const PEER_CASES_DIR =
  process.env.PEER_CASES_DIR ?? fileURLToPath(new URL('../../../shared/peer-cases/', import.meta.url));

/** Absolute path of the fixture file, for skip and failure messages. */
export const PEER_CASES_PATH = join(resolve(PEER_CASES_DIR), 'rudder-gainsight-px.json');

export interface PeerRequest {
  /** `lookup` (existence GET), `account-write` (account PUT/POST during group) or `delivered`. */
  role: 'lookup' | 'account-write' | 'delivered';
  /** Only `delivered` requests are asserted by the peer's own tests. */
  assertedByPeerTest: boolean;
  method: 'GET' | 'PUT' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: Record<string, unknown> | null;
}

export interface PeerNetworkMock {
  method: string;
  url: string;
  status: number;
  body: unknown;
  requestHeadersMatched?: Record<string, string>;
}

export interface PeerError {
  message: string;
  statusCode: number;
  statTags?: Record<string, unknown>;
  messageParsed?: unknown;
}

export interface PeerCase {
  name: string;
  suite: 'processor' | 'router';
  peerDescription: string;
  routerInputIndex?: number;
  source: string;
  destinationConfig: Record<string, unknown>;
  message: Record<string, unknown>;
  networkMocks: PeerNetworkMock[];
  expected: {
    statusCode?: number;
    requests?: PeerRequest[];
    error?: PeerError;
    requestsBeforeError?: PeerRequest[];
  };
  notes?: string;
}

/** The peer cases, or `undefined` when the shared folder is not there. */
export function loadPeerCases(): PeerCase[] | undefined {
  let text: string;
  try {
    text = readFileSync(PEER_CASES_PATH, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return JSON.parse(text) as PeerCase[];
}

/** `CI` is set to anything but empty, `false` or `0`. */
const underCi = (): boolean => !['', 'false', '0'].includes(process.env.CI ?? '');

/**
 * Stands in for `suite` when {@link loadPeerCases} found nothing: under CI a suite with one
 * failing test saying the folder is missing, elsewhere a skipped suite and a warning.
 */
export function peerCasesMissing(suite: string): void {
  const missing = `peer cases not found at ${PEER_CASES_PATH}`;
  if (underCi()) {
    describe(suite, () => {
      it('finds the peer cases', () => {
        expect.fail(`${missing}: the peer-cases folder is missing, and under CI this suite must run, not skip`);
      });
    });
    return;
  }
  console.warn(`${missing}: ${suite} skipped`);
  describe.skip(`${suite} — ${missing}: skipped`, () => {
    it('needs ../shared/peer-cases/rudder-gainsight-px.json', () => undefined);
  });
}

export type BodyKind = 'user-update' | 'user-create' | 'account-update' | 'account-create' | 'custom-event';

/**
 * Fields Gainsight documents as read-only, which the relay may leave out: user
 * lastSeenDate, numberOfVisits, lastModifiedDate (and createDate on updates); account
 * lastModifiedDate, numberOfUsers (and createDate on updates).
 */
const READ_ONLY: Readonly<Record<BodyKind, readonly string[]>> = {
  'user-update': ['lastSeenDate', 'numberOfVisits', 'lastModifiedDate', 'createDate'],
  'user-create': ['lastSeenDate', 'numberOfVisits', 'lastModifiedDate'],
  'account-update': ['lastModifiedDate', 'numberOfUsers', 'createDate'],
  'account-create': ['lastModifiedDate', 'numberOfUsers'],
  'custom-event': [],
};

/** A copy of a peer body without the read-only fields the relay may omit. */
export function withoutReadOnly(body: Record<string, unknown>, kind: BodyKind): Record<string, unknown> {
  const dropped = READ_ONLY[kind];
  return Object.fromEntries(Object.entries(body).filter(([key]) => !dropped.includes(key)));
}

/** The relay's settings JSON for a peer destination config: everything but the secrets. */
export function peerSettings(destinationConfig: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(destinationConfig).filter(([key]) => key !== 'apiKey' && key !== 'productTagKey'),
  );
}
