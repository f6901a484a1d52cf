import * as z from 'zod';
import { LooseRecord, commonFields } from './common.ts';

/** `track`: a custom event. */
export const TrackEvent = z.object({
  ...commonFields,
  type: z.literal('track'),
  event: z.string().refine((name) => name.trim() !== '', 'event name must not be blank'),
  properties: LooseRecord.nullish(),
  traits: LooseRecord.nullish(),
});
export type TrackEvent = z.infer<typeof TrackEvent>;
