import * as z from 'zod';
import { LooseRecord, commonFields } from './common.ts';

const pageFields = {
  ...commonFields,
  name: z.string().nullish(),
  category: z.string().nullish(),
  properties: LooseRecord.nullish(),
  traits: LooseRecord.nullish(),
};

/** `page`: forwarded as a custom event only when the `pageEvents` setting is on. */
export const PageEvent = z.object({ ...pageFields, type: z.literal('page') });
export type PageEvent = z.infer<typeof PageEvent>;

/** `screen`: the mobile twin of `page`. */
export const ScreenEvent = z.object({ ...pageFields, type: z.literal('screen') });
export type ScreenEvent = z.infer<typeof ScreenEvent>;
