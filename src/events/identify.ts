import * as z from 'zod';
import { LooseRecord, commonFields } from './common.ts';

/** `identify`: who the user is (traits in `traits` or, as RudderStack sends them, `context.traits`). */
export const IdentifyEvent = z.object({
  ...commonFields,
  type: z.literal('identify'),
  traits: LooseRecord.nullish(),
});
export type IdentifyEvent = z.infer<typeof IdentifyEvent>;
