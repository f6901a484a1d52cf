import { ValidationError } from '../errors.ts';
import type { EventType, GroupEvent, IdentifyEvent, PageEvent, RelayEvent, ScreenEvent, TrackEvent } from '../events/index.ts';
import { checkCustomEventLimits, checkId } from '../gainsight/limits.ts';
import type { CustomEventBody, GainsightRequest } from '../gainsight/types.ts';
import {
  type MappingContext,
  mapAccountCreate,
  mapAccountUpdate,
  mapPage,
  mapTrack,
  mapUserCreate,
  mapUserLinkCreate,
  mapUserLinkUpdate,
  mapUserUpdate,
  resolveUserId,
  safeJson,
} from '../mapping/index.ts';

/**
 * Planning: which Gainsight calls an event needs, as data. Executing the plan is
 * `execute.ts`'s job; a dry run prints it instead.
 *
 * Gainsight PX has no upsert, so an upsert is "PUT the update; if that answers 404, POST the
 * create". Updating first costs one call for the common case (the user or account exists) and
 * two for a new one, with no existence GETs. API ref: https://px-apidocs.gainsight.com/
 * (updateUserUsingPUT, createUserUsingPOST, updateAccountUsingPUT, createAccountUsingPOST,
 * createCustomEventUsingPOST)
 */
export type Step =
  | { kind: 'upsert'; update: GainsightRequest; create: GainsightRequest }
  | { kind: 'create'; create: GainsightRequest };

export type Plan =
  | { action: 'send'; userId: string; steps: Step[] }
  | { action: 'skip'; userId: string | undefined; reason: string };

/** An id as one URL path segment (ids are checked by `checkId` first). */
const segment = (id: string): string => encodeURIComponent(id);

/** A request descriptor with its body encoded now: hostile values fail here, as a 400. */
const request = (method: GainsightRequest['method'], path: string, body: unknown, what: string): GainsightRequest => ({
  method,
  path,
  body,
  json: safeJson(body, what),
});

/**
 * The create half of an upsert, encoded only if it is sent (the update answered 404: a new user
 * or account, the rare case once a workspace is populated). Encoding it cannot fail once the
 * update encoded: it holds the update's values plus an id string and epoch-ms numbers.
 */
const createRequest = (path: string, body: unknown): GainsightRequest => ({ method: 'POST', path, body });

const requireUserId = (event: RelayEvent): string => {
  const userId = resolveUserId(event);
  if (userId === undefined) {
    throw new ValidationError(`${event.type} needs a user: userId or anonymousId is required`, {
      details: { issues: [{ field: 'userId', message: 'userId or anonymousId is required' }] },
    });
  }
  checkId(userId, 'userId');
  return userId;
};

/** A custom event within Gainsight's limits. */
const customEvent = (body: CustomEventBody, nameField = 'event'): CustomEventBody => {
  checkCustomEventLimits(body, nameField);
  return body;
};

/** identify → upsert the user: 1 call when it exists, 2 when it is new. */
function planIdentify(event: IdentifyEvent, ctx: MappingContext): Plan {
  const userId = requireUserId(event);
  const update = mapUserUpdate(event, ctx);
  return {
    action: 'send',
    userId,
    steps: [
      {
        kind: 'upsert',
        update: request('PUT', `/users/${segment(userId)}`, update, 'traits'),
        create: createRequest('/users', mapUserCreate(event, ctx, userId, update)),
      },
    ],
  };
}

/** group → upsert the account, then link the user to it (creating the user if unknown). */
function planGroup(event: GroupEvent, ctx: MappingContext): Plan {
  const userId = requireUserId(event);
  checkId(event.groupId, 'groupId');
  const account = mapAccountUpdate(event, ctx);
  return {
    action: 'send',
    userId,
    steps: [
      {
        kind: 'upsert',
        update: request('PUT', `/accounts/${segment(event.groupId)}`, account, 'traits'),
        create: createRequest('/accounts', mapAccountCreate(event, ctx, account)),
      },
      {
        kind: 'upsert',
        update: request('PUT', `/users/${segment(userId)}`, mapUserLinkUpdate(event.groupId), 'groupId'),
        create: createRequest('/users', mapUserLinkCreate(event, ctx, userId)),
      },
    ],
  };
}

/** track → one custom event. */
function planTrack(event: TrackEvent, ctx: MappingContext): Plan {
  const userId = requireUserId(event);
  return {
    action: 'send',
    userId,
    steps: [{ kind: 'create', create: request('POST', '/events/custom', customEvent(mapTrack(event, ctx, userId)), 'properties') }],
  };
}

/** page / screen → a custom event when the `pageEvents` setting is on, else skipped. */
function planPage(event: PageEvent | ScreenEvent, ctx: MappingContext): Plan {
  if (!ctx.settings.pageEvents) {
    return { action: 'skip', userId: resolveUserId(event), reason: `${event.type} calls are not forwarded (pageEvents is off)` };
  }
  const userId = requireUserId(event);
  return {
    action: 'send',
    userId,
    steps: [{ kind: 'create', create: request('POST', '/events/custom', customEvent(mapPage(event, ctx, userId), 'name'), 'properties') }],
  };
}

type Planner<T extends EventType> = (event: Extract<RelayEvent, { type: T }>, ctx: MappingContext) => Plan;

/** Exhaustive: adding a call type without a planner is a compile error. */
const planners: { [T in EventType]: Planner<T> } = {
  identify: planIdentify,
  group: planGroup,
  track: planTrack,
  page: planPage,
  screen: planPage,
  alias: (event) => ({
    action: 'skip',
    userId: resolveUserId(event),
    reason: 'alias has no Gainsight PX equivalent',
  }),
};

/**
 * Plans the Gainsight calls for one validated event. Pure: no I/O.
 *
 * @throws ValidationError when the event lacks what Gainsight needs (a user id, encodable values).
 */
export function planEvent(event: RelayEvent, ctx: MappingContext): Plan {
  return (planners[event.type] as Planner<EventType>)(event, ctx);
}
