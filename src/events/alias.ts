import * as z from 'zod';
import { Id, commonFields } from './common.ts';

/** `alias`: Gainsight PX has no merge call, so the relay acknowledges and skips it. */
export const AliasEvent = z.object({
  ...commonFields,
  type: z.literal('alias'),
  previousId: Id.nullish(),
});
export type AliasEvent = z.infer<typeof AliasEvent>;
