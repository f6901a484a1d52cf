import * as z from 'zod';
import { Id, LooseRecord, commonFields } from './common.ts';

/**
 * `group`: the account a user belongs to. Gainsight requires an account name. The account id is
 * `groupId`, or `traits.groupId` when a source puts it there (as RudderStack's own destination
 * accepts); `parseEvent` resolves it, so a parsed group always has one.
 */
export const GroupEventSchema = z.object({
  ...commonFields,
  type: z.literal('group'),
  groupId: Id.refine((id) => id.trim() !== '', 'groupId must not be blank').optional(),
  traits: LooseRecord.refine(
    (traits) => (typeof traits.name === 'string' && traits.name.trim() !== '') || typeof traits.name === 'number',
    { message: 'traits.name is required (the Gainsight account name)', path: ['name'] },
  ),
});

export type GroupEvent = Omit<z.infer<typeof GroupEventSchema>, 'groupId'> & { groupId: string };

/** `groupId`, else `traits.groupId` (a non-blank string or a number), else undefined. */
export function resolveGroupId(event: z.infer<typeof GroupEventSchema>): string | undefined {
  if (event.groupId !== undefined) return event.groupId;
  const fromTraits = Object.hasOwn(event.traits, 'groupId') ? event.traits.groupId : undefined;
  const parsed = Id.safeParse(fromTraits);
  return parsed.success && parsed.data.trim() !== '' ? parsed.data : undefined;
}
