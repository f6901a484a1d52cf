import type { GroupEvent } from '../events/group.ts';
import type { IdentifyEvent } from '../events/identify.ts';
import type { JsonRecord } from '../events/common.ts';
import type { UserBody } from '../gainsight/types.ts';
import type { MappingContext } from './context.ts';
import {
  type Convert,
  normaliseGender,
  splitName,
  toBoolean,
  toEpochMs,
  toId,
  toInteger,
  toText,
} from './convert.ts';
import { eventTimeMs } from './event-fields.ts';
import { mapLocation } from './location.ts';
import { mapCustomAttributes } from './objects.ts';
import { readField, traitBags } from './read.ts';

export type { MappingContext } from './context.ts';

type Bags = readonly (JsonRecord | undefined)[];

/** A default user field: the trait keys it is read from, in order, and its coercion. */
interface FieldRule<T> {
  keys: readonly string[];
  convert: Convert<T>;
}

const rule = <T>(keys: readonly string[], convert: Convert<T>): FieldRule<T> => ({ keys, convert });

/**
 * Default Gainsight user fields (docs/http-contract.md). Each is read from `traits` first, then from
 * `context.traits`. Read-only Gainsight fields (lastSeenDate, numberOfVisits) are deliberately
 * absent: Gainsight computes them.
 */
const USER_FIELDS = {
  email: rule(['email'], toText),
  firstName: rule(['firstName', 'firstname', 'first_name'], toText),
  lastName: rule(['lastName', 'lastname', 'last_name'], toText),
  gender: rule(['gender'], normaliseGender),
  title: rule(['title'], toText),
  phone: rule(['phone'], toText),
  score: rule(['score'], toInteger),
  role: rule(['role'], toText),
  subscriptionId: rule(['subscriptionId'], toText),
  accountId: rule(['accountId'], toId),
  signUpDate: rule(['signUpDate'], toEpochMs),
  firstVisitDate: rule(['firstVisitDate'], toEpochMs),
  globalUnsubscribe: rule(['globalUnsubscribe'], toBoolean),
  sfdcContactId: rule(['sfdcContactId'], toText),
} satisfies { [K in keyof UserBody]?: FieldRule<NonNullable<UserBody[K]>> };

type DefaultFields = { -readonly [K in keyof typeof USER_FIELDS]?: NonNullable<UserBody[K]> };

function mapDefaultFields(bags: Bags): DefaultFields {
  const fields: DefaultFields = {};
  for (const key of Object.keys(USER_FIELDS) as (keyof typeof USER_FIELDS)[]) {
    const { keys, convert } = USER_FIELDS[key] as FieldRule<unknown>;
    const value = readField(bags, keys, convert);
    if (value !== undefined) (fields as Record<string, unknown>)[key] = value;
  }
  return fields;
}

/**
 * `name` fills firstName/lastName only where no explicit trait gave them: an explicit
 * `firstName`/`lastName` is the more precise statement of the sender. (The peer lets the split
 * override them; none of its fixtures combines both, so they do not decide this.)
 */
function withNameSplit(fields: DefaultFields, bags: Bags): DefaultFields {
  const name = readField(bags, ['name'], (value) =>
    typeof value === 'string' && value.trim() !== '' ? value : undefined,
  );
  if (name === undefined) return fields;
  const split = splitName(name);
  // `fields` is this mapper's own fresh object: filling it in place keeps the hot path free of copies.
  if (fields.firstName === undefined && split.firstName !== undefined) fields.firstName = split.firstName;
  if (fields.lastName === undefined && split.lastName !== undefined) fields.lastName = split.lastName;
  return fields;
}

/**
 * The body of `PUT /users/{id}` for an identify: default fields, location, mapped custom
 * attributes (always present, `{}` when none) and the product key. No identifyId and no date
 * defaults: an update must not overwrite what Gainsight already knows.
 */
export function mapUserUpdate(event: IdentifyEvent, ctx: MappingContext): UserBody {
  const bags = traitBags(event);
  const location = mapLocation(bags);
  return {
    type: 'USER',
    ...withNameSplit(mapDefaultFields(bags), bags),
    ...(location !== undefined && { location }),
    propertyKeys: [ctx.productKey],
    customAttributes: mapCustomAttributes(bags, ctx.settings.userAttributeMap),
  };
}

/**
 * The body of `POST /users` for an identify whose user does not exist yet: the update body plus
 * `identifyId`, with signUpDate and createDate defaulting to the event time (left out when the
 * event carries no usable time). `body` is the update body when the caller already has it.
 */
export function mapUserCreate(
  event: IdentifyEvent,
  ctx: MappingContext,
  userId: string,
  body: UserBody = mapUserUpdate(event, ctx),
): UserBody {
  const eventTime = eventTimeMs(event);
  const signUpDate = body.signUpDate ?? eventTime;
  const createDate = readField(traitBags(event), ['createDate'], toEpochMs) ?? eventTime;
  return {
    identifyId: userId,
    ...body,
    ...(signUpDate !== undefined && { signUpDate }),
    ...(createDate !== undefined && { createDate }),
  };
}

/** The body that links an existing user to an account: `PUT /users/{userId}`. */
export function mapUserLinkUpdate(groupId: string): { accountId: string } {
  return { accountId: groupId };
}

/**
 * The body of `POST /users` when a group names a user Gainsight does not know yet: the relay
 * creates the user already linked, rather than failing the event (docs/http-contract.md).
 */
export function mapUserLinkCreate(event: GroupEvent, ctx: MappingContext, userId: string): UserBody {
  const eventTime = eventTimeMs(event);
  return {
    identifyId: userId,
    type: 'USER',
    accountId: event.groupId,
    propertyKeys: [ctx.productKey],
    ...(eventTime !== undefined && { signUpDate: eventTime, createDate: eventTime }),
  };
}
