import { ValidationError } from '../errors.ts';
import type { GroupEvent } from '../events/group.ts';
import type { AccountBody } from '../gainsight/types.ts';
import type { MappingContext } from './context.ts';
import { type Convert, toEpochMs, toInt32, toText } from './convert.ts';
import { eventTimeMs } from './event-fields.ts';
import { mapLocation } from './location.ts';
import { mapCustomAttributes } from './objects.ts';
import { readField } from './read.ts';

/**
 * Default Gainsight account fields (docs/http-contract.md), each read from the `group` trait of the same name.
 * Only `event.traits` is read: `context.traits` describes the user, not the account.
 * Read-only Gainsight fields (numberOfUsers, lastModifiedDate) are deliberately absent.
 */
const ACCOUNT_FIELDS = {
  trackedSubscriptionId: toText,
  sfdcId: toText,
  dunsNumber: toText,
  industry: toText,
  numberOfEmployees: toInt32,
  sicCode: toText,
  website: toText,
  naicsCode: toText,
  plan: toText,
  parentGroupId: toText,
  lastSeenDate: toEpochMs,
} satisfies { [K in keyof AccountBody]?: Convert<NonNullable<AccountBody[K]>> };

/**
 * The body of `PUT /accounts/{groupId}`: name, default fields, location, the product key and
 * mapped custom attributes (omitted when none). No createDate: it is read-only on updates.
 *
 * @throws ValidationError when `traits.name` is unusable (the event schema normally prevents it).
 */
export function mapAccountUpdate(event: GroupEvent, ctx: MappingContext): AccountBody {
  const bags = [event.traits];
  const name = readField(bags, ['name'], toText);
  if (name === undefined || name.trim() === '') {
    throw new ValidationError('traits.name is required (the Gainsight account name)', {
      details: { issues: [{ field: 'traits.name', message: 'required' }] },
    });
  }
  const body: AccountBody = { name, propertyKeys: [ctx.productKey] };
  for (const key of Object.keys(ACCOUNT_FIELDS) as (keyof typeof ACCOUNT_FIELDS)[]) {
    const value = readField(bags, [key], ACCOUNT_FIELDS[key] as Convert<unknown>);
    if (value !== undefined) (body as unknown as Record<string, unknown>)[key] = value;
  }
  const location = mapLocation(bags);
  if (location !== undefined) body.location = location;
  const customAttributes = mapCustomAttributes(bags, ctx.settings.accountAttributeMap);
  if (Object.keys(customAttributes).length > 0) body.customAttributes = customAttributes;
  return body;
}

/**
 * The body of `POST /accounts` for an account Gainsight does not know yet: the update body plus
 * `id` and `createDate` (the `createDate` trait, else the event time, else left out). `update` is
 * the update body when the caller already has it.
 */
export function mapAccountCreate(
  event: GroupEvent,
  ctx: MappingContext,
  update: AccountBody = mapAccountUpdate(event, ctx),
): AccountBody {
  const createDate = readField([event.traits], ['createDate'], toEpochMs) ?? eventTimeMs(event);
  return {
    id: event.groupId,
    ...update,
    ...(createDate !== undefined && { createDate }),
  };
}
