import * as z from 'zod';
import { ValidationError } from '../errors.ts';
import { AliasEvent } from './alias.ts';
import { isRecord } from './common.ts';
import { type GroupEvent, GroupEventSchema, resolveGroupId } from './group.ts';
import { IdentifyEvent } from './identify.ts';
import { PageEvent, ScreenEvent } from './page.ts';
import { TrackEvent } from './track.ts';

export { AliasEvent, IdentifyEvent, PageEvent, ScreenEvent, TrackEvent };
export type { GroupEvent };
export { GroupEventSchema };

/** Every call type the relay understands, discriminated on `type`. */
const RelayEventSchema = z.discriminatedUnion('type', [
  IdentifyEvent,
  GroupEventSchema,
  TrackEvent,
  PageEvent,
  ScreenEvent,
  AliasEvent,
]);
type ParsedEvent = z.infer<typeof RelayEventSchema>;
/** A validated event; a group's account id is resolved. */
export type RelayEvent = Exclude<ParsedEvent, { type: 'group' }> | GroupEvent;
export type EventType = RelayEvent['type'];
export const EVENT_TYPES = ['identify', 'group', 'track', 'page', 'screen', 'alias'] as const satisfies readonly EventType[];

/** One problem with one event: where (a dotted path, never the value) and what. */
export interface FieldIssue {
  field: string;
  message: string;
}

const pathOf = (path: readonly PropertyKey[]): string => path.map(String).join('.') || '(event)';

/** Turns zod issues into field/message pairs that never quote the input. */
export function describeIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    field: pathOf(issue.path),
    message:
      issue.code === 'invalid_type'
        ? `expected ${issue.expected}`
        : issue.code === 'invalid_union' && issue.path.length === 0
          ? 'does not match any accepted shape'
          : issue.message,
  }));
}

/**
 * Validates one inbound event. The `type` is matched case-insensitively (`IDENTIFY` works, as it
 * does for RudderStack's own destination).
 *
 * @throws ValidationError naming each failing field.
 */
export function parseEvent(raw: unknown): RelayEvent {
  if (!isRecord(raw)) {
    throw new ValidationError('An event must be a JSON object', {
      details: { issues: [{ field: '(event)', message: 'expected an object' }] },
    });
  }
  const type = typeof raw.type === 'string' ? raw.type.trim().toLowerCase() : undefined;
  if (type === undefined || type === '') {
    throw new ValidationError('Event type is missing', {
      code: 'missing_type',
      details: { issues: [{ field: 'type', message: 'required' }] },
    });
  }
  if (!(EVENT_TYPES as readonly string[]).includes(type)) {
    // The type is not quoted: it is whatever the sender wrote, and error messages reach the logs.
    throw new ValidationError('Event type is not supported', {
      code: 'unsupported_type',
      details: { issues: [{ field: 'type', message: `expected one of ${EVENT_TYPES.join(', ')}` }] },
    });
  }
  const result = RelayEventSchema.safeParse(type === raw.type ? raw : { ...raw, type });
  if (!result.success) {
    const issues = describeIssues(result.error);
    throw new ValidationError(
      `Invalid ${type} event: ${issues.map((issue) => `${issue.field} ${issue.message}`).join('; ')}`,
      { details: { issues } },
    );
  }
  const event = result.data;
  if (event.type !== 'group') return event;
  const groupId = resolveGroupId(event);
  if (groupId === undefined) {
    throw new ValidationError('Invalid group event: groupId is required', {
      details: { issues: [{ field: 'groupId', message: 'required (or traits.groupId)' }] },
    });
  }
  return { ...event, groupId };
}
