import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeGainsight, type RecordedRequest, startFakeGainsight } from '../support/fake-gainsight.ts';
import { call, httpApiEvent, loadHandler } from '../support/lambda.ts';
import { type BodyKind, type PeerCase, type PeerRequest, loadPeerCases, peerCasesMissing, peerSettings, withoutReadOnly } from '../support/peer-cases.ts';

/**
 * Conformance: every case of RudderStack's own Gainsight PX destination fixtures, run through the
 * real handler against the fake Gainsight PX. Gainsight's state is seeded from the answers the
 * peer's mocks gave. For a successful case the relay's final writes must carry the peer's bodies
 * (read-only fields may be left out) with no existence GETs and no more calls than the peer; an
 * error case must be a 4xx, except where the relay deliberately differs (listed below).
 */

const cases = loadPeerCases();
const SECRET = 'conformance-secret';

/** Where the relay deliberately answers differently (docs/http-contract.md) from the peer, and why. */
const DELIBERATE_DIFFERENCES: Readonly<Record<string, { status: number; why: string }>> = {
  'processor Test 10': { status: 200, why: 'a group for an unknown user creates that user (docs/http-contract.md)' },
  'router Test 1: Group call -- AxiosError thrown': {
    status: 503,
    why: 'a Gainsight 403 means our key lacks permission: retry, do not drop the event (docs/http-contract.md)',
  },
};

const SUITE = 'conformance with RudderStack\'s Gainsight PX destination fixtures';

if (!cases) {
  peerCasesMissing(SUITE);
} else {
  describe(SUITE, () => {
    let px: FakeGainsight;

    beforeAll(async () => {
      px = await startFakeGainsight({ apiKey: 'sample-api-key' });
    });
    afterAll(() => px.close());

    it('has all 20 cases to run', () => {
      expect(cases).toHaveLength(20);
    });

    it.each(cases.map((peerCase) => [peerCase.name, peerCase] as const))('%s', async (_name, peerCase) => {
      const { answer, requests } = await runCase(px, peerCase);
      const difference = DELIBERATE_DIFFERENCES[peerCase.name];

      if (difference) {
        expect(answer.status, difference.why).toBe(difference.status);
      } else if (peerCase.expected.error) {
        expect(answer.status).toBeGreaterThanOrEqual(400);
        expect(answer.status).toBeLessThan(500);
        expect(requests.filter((request) => request.method !== 'GET')).toEqual([]);
      } else {
        expect(answer.status).toBe(200);
        assertSameWrites(peerCase, requests);
      }
      expect(requests.filter((request) => request.method === 'GET')).toEqual([]);
    });
  });
}

/**
 * Seeds the fake from the peer's mocked answers — and from its successful PUTs, which the peer
 * could only expect to succeed on an existing user or account — then posts the case's event.
 */
async function runCase(px: FakeGainsight, peerCase: PeerCase) {
  px.reset();
  const config = peerCase.destinationConfig;
  const successfulPuts = (peerCase.expected.requests ?? [])
    .filter((request) => request.method === 'PUT')
    .map((request) => ({ method: 'PUT', url: request.url, status: 204, body: {} }));
  for (const mock of [...peerCase.networkMocks, ...successfulPuts]) {
    const path = new URL(mock.url).pathname.replace(/^\/v1/, '');
    const [, kind, rawId] = /^\/(users|accounts)\/(.+)$/.exec(path) ?? [];
    if (!kind || !rawId) continue;
    const id = decodeURIComponent(rawId);
    const store = kind === 'users' ? px.users : px.accounts;
    if (mock.status >= 200 && mock.status < 300) store.set(id, { ...store.get(id), ...(mock.body as object) });
    else if (mock.status !== 404) {
      // Gainsight refusing every call on this resource (e.g. a 403 HTML page).
      px.script({ path, status: mock.status, body: mock.body, times: 10 });
    }
  }
  const handler = await loadHandler({
    PX_API_KEY: String(config.apiKey),
    PX_PRODUCT_KEY: String(config.productTagKey),
    PX_SETTINGS: JSON.stringify(peerSettings(config)),
    WEBHOOK_SECRET: SECRET,
    GAINSIGHT_PX_BASE_URL: px.baseUrl,
  });
  const answer = await call(handler, httpApiEvent({ secret: SECRET, body: peerCase.message }));
  return { answer, requests: [...px.requests] };
}

const kindOf = (request: { method: string; url?: string; path?: string }): BodyKind => {
  const path = request.path ?? new URL(request.url as string).pathname;
  if (path.includes('/events/custom')) return 'custom-event';
  const resource = path.includes('/accounts') ? 'account' : 'user';
  return `${resource}-${request.method === 'POST' ? 'create' : 'update'}` as BodyKind;
};

/**
 * The peer's writes (account writes and the delivered request) must each match the relay's
 * last successful write with the same method and path, body for body.
 */
function assertSameWrites(peerCase: PeerCase, requests: RecordedRequest[]): void {
  const peerRequests = peerCase.expected.requests ?? [];
  const peerWrites = peerRequests.filter((request: PeerRequest) => request.role !== 'lookup');
  expect(peerWrites.length).toBeGreaterThan(0);
  for (const expected of peerWrites) {
    const path = new URL(expected.url).pathname;
    const ours = requests.filter(
      (request) => request.method === expected.method && request.path === path && (request.status ?? 0) < 300,
    );
    expect(ours, `${expected.method} ${path} was not sent successfully`).not.toHaveLength(0);
    const kind = kindOf(expected);
    const last = ours.at(-1) as RecordedRequest;
    expect(withoutReadOnly(last.body as Record<string, unknown>, kind)).toEqual(
      withoutReadOnly(expected.body as Record<string, unknown>, kind),
    );
    expect(last.headers['x-aptrinsic-api-key']).toBe('sample-api-key');
    expect(last.headers['content-type']).toBe('application/json');
  }
  expect(requests.length).toBeLessThanOrEqual(peerRequests.length);
}
