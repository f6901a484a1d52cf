import * as z from 'zod';

/**
 * Shared pieces of the Segment-spec event schemas. Free-form bags (`traits`, `properties`,
 * `context`, `integrations`) are checked to be plain objects and passed through untouched:
 * never copied key by key, so a key such as `__proto__` stays an ordinary own property.
 */

export type JsonRecord = Record<string, unknown>;

export const isRecord = (value: unknown): value is JsonRecord =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A plain JSON object, validated without being copied. */
export const LooseRecord = z.custom<JsonRecord>(isRecord, { message: 'expected an object' });

/** Ids may arrive as numbers; Gainsight wants strings. (Blank ids are skipped when the user id is resolved.) */
export const Id = z
  .union([z.string(), z.number().finite()])
  .transform((value) => String(value));

/** ISO-8601 text or epoch milliseconds; checked when the mapping converts it. */
export const Timestamp = z.union([z.string(), z.number()]);

/** Longest message id accepted: RudderStack's and Segment's ids are UUIDs or prefixed UUIDs. */
export const MAX_MESSAGE_ID_LENGTH = 256;

/** Fields every call type may carry (Segment spec "common fields"). */
export const commonFields = {
  // A null messageId counts as absent (some senders write null for "none"). Answers echo it, so
  // it is kept short.
  messageId: Id.nullish()
    .transform((id) => id ?? undefined)
    .refine((id) => id === undefined || id.length <= MAX_MESSAGE_ID_LENGTH, `at most ${MAX_MESSAGE_ID_LENGTH} characters`),
  userId: Id.nullish(),
  anonymousId: Id.nullish(),
  timestamp: Timestamp.nullish(),
  originalTimestamp: Timestamp.nullish(),
  sentAt: Timestamp.nullish(),
  context: LooseRecord.nullish(),
  integrations: LooseRecord.nullish(),
};
