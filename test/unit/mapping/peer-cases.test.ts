import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../../src/config/settings.ts';
import { parseEvent } from '../../../src/events/index.ts';
import {
  type MappingContext,
  mapAccountCreate,
  mapAccountUpdate,
  mapTrack,
  mapUserCreate,
  mapUserLinkUpdate,
  mapUserUpdate,
  resolveUserId,
} from '../../../src/mapping/index.ts';
import {
  type PeerCase,
  type PeerRequest,
  loadPeerCases,
  peerCasesMissing,
  peerSettings,
  withoutReadOnly,
} from '../../support/peer-cases.ts';

/**
 * Conformance with RudderStack's own Gainsight PX destination (docs/development.md): for every successful
 * peer case, the pure mappers produce the bodies the peer sent, minus read-only fields.
 */

const cases = loadPeerCases();

const contextOf = (peerCase: PeerCase): MappingContext => ({
  settings: parseSettings(peerSettings(peerCase.destinationConfig)).settings,
  productKey: String(peerCase.destinationConfig.productTagKey),
});

const requestOf = (peerCase: PeerCase, role: PeerRequest['role']): PeerRequest => {
  const request = peerCase.expected.requests?.find((candidate) => candidate.role === role);
  if (request === undefined) throw new Error(`${peerCase.name} has no ${role} request`);
  return request;
};

const bodyOf = (request: PeerRequest): Record<string, unknown> => request.body ?? {};

const userIdOf = (event: Parameters<typeof resolveUserId>[0]): string => {
  const userId = resolveUserId(event);
  if (userId === undefined) throw new Error('peer case without a user id');
  return userId;
};

const SUITE = 'peer cases (RudderStack Gainsight PX fixtures)';

if (cases === undefined) {
  peerCasesMissing(SUITE);
} else {
  const successes = cases.filter((peerCase) => peerCase.expected.requests !== undefined);

  describe(SUITE, () => {
    it('finds the 15 successful cases the README announces', () => {
      expect(successes).toHaveLength(15);
    });

    describe.each(successes.map((peerCase) => [peerCase.name, peerCase] as const))('%s', (_name, peerCase) => {
      const event = parseEvent(peerCase.message);
      const ctx = contextOf(peerCase);

      if (event.type === 'identify') {
        const delivered = requestOf(peerCase, 'delivered');
        if (delivered.method === 'PUT') {
          it('maps the identify to the peer user update body', () => {
            expect(mapUserUpdate(event, ctx)).toEqual(withoutReadOnly(bodyOf(delivered), 'user-update'));
          });
        } else {
          it('maps the identify to the peer user create body', () => {
            expect(mapUserCreate(event, ctx, userIdOf(event))).toEqual(
              withoutReadOnly(bodyOf(delivered), 'user-create'),
            );
          });
        }
      } else if (event.type === 'track') {
        it('maps the track to the peer custom event body', () => {
          const delivered = requestOf(peerCase, 'delivered');
          expect(mapTrack(event, ctx, userIdOf(event))).toEqual(withoutReadOnly(bodyOf(delivered), 'custom-event'));
        });
      } else if (event.type === 'group') {
        it('maps the group to the peer account write body', () => {
          const write = requestOf(peerCase, 'account-write');
          const actual = write.method === 'PUT' ? mapAccountUpdate(event, ctx) : mapAccountCreate(event, ctx);
          expect(actual).toEqual(
            withoutReadOnly(bodyOf(write), write.method === 'PUT' ? 'account-update' : 'account-create'),
          );
        });
        it('maps the group to the peer user link body', () => {
          const delivered = requestOf(peerCase, 'delivered');
          expect(mapUserLinkUpdate(event.groupId)).toEqual(bodyOf(delivered));
        });
      } else {
        it('is a call type the mappers cover', () => {
          expect.fail(`unexpected peer event type ${event.type}`);
        });
      }
    });
  });
}
