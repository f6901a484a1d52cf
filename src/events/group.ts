import * as z from 'zod';
import { Id, LooseRecord, commonFields, isRecord } from './common.ts';

/** `group`: the account a user belongs to. Gainsight requires an account name. */
export const GroupEvent = z.object({
  ...commonFields,
  type: z.literal('group'),
  groupId: Id.refine((id) => id.trim() !== '', 'groupId must not be blank'),
  traits: LooseRecord.refine(
    (traits) =>
      isRecord(traits) &&
      ((typeof traits.name === 'string' && traits.name.trim() !== '') || typeof traits.name === 'number'),
    { message: 'traits.name is required (the Gainsight account name)', path: ['name'] },
  ),
});
export type GroupEvent = z.infer<typeof GroupEvent>;
