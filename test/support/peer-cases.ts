import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Loader for RudderStack's Gainsight PX destination fixtures, kept as data in
 * `shared/peer-cases/` (see its README for the fields). The folder lives next to the repo, not
 * in it, so it may be absent: callers skip, loudly, when it is.
 */

const PEER_CASES_URL = new URL('../../../shared/peer-cases/rudder-gainsight-px.json', import.meta.url);

/** Absolute path of the fixture file, for skip messages. */
export const PEER_CASES_PATH = fileURLToPath(PEER_CASES_URL);

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
    text = readFileSync(PEER_CASES_URL, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return JSON.parse(text) as PeerCase[];
}

export type BodyKind = 'user-update' | 'user-create' | 'account-update' | 'account-create' | 'custom-event';

/**
 * Fields Gainsight documents as read-only, which SPEC §6 lets the relay leave out: user
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
