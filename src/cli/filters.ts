import { EVENT_TYPES, type EventType, type RelayEvent } from '../events/index.ts';
import { eventTimeMs } from '../mapping/index.ts';
import { UsageError } from './options.ts';

/**
 * `--since`, `--until`, `--types`: which events of the input a backfill sends, so that a team
 * sends only what Gainsight PX lacks. An event's time is the mapping's own (`timestamp`, else
 * `originalTimestamp`); `--since` is inclusive, `--until` exclusive. With a time filter, an event
 * that has no usable time is left out (it cannot be placed in the window).
 */

export interface EventFilter {
  readonly since: number | undefined;
  readonly until: number | undefined;
  readonly types: ReadonlySet<EventType> | undefined;
  /** True when the event is to be sent. */
  accepts(event: RelayEvent): boolean;
  /** A stable description, recorded in the checkpoint: a rerun must use the same filters. */
  readonly description: string;
}

/** `2024-05-01` (midnight UTC) or a full ISO 8601 time → epoch ms. */
function timeOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(value);
  const ms = Date.parse(dateOnly || hasZone ? value : `${value}Z`);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms)) {
    throw new UsageError(`${name} must be an ISO 8601 date or time, e.g. 2024-05-01 or 2024-05-01T12:00:00Z (got "${value}")`);
  }
  return ms;
}

export function parseFilter(options: { since?: string; until?: string; types?: string }): EventFilter {
  const since = timeOption(options.since, '--since');
  const until = timeOption(options.until, '--until');
  if (since !== undefined && until !== undefined && until <= since) throw new UsageError('--until must be later than --since');
  let types: Set<EventType> | undefined;
  if (options.types !== undefined) {
    const names = options.types.split(',').map((name) => name.trim().toLowerCase()).filter((name) => name !== '');
    const unknown = names.filter((name) => !(EVENT_TYPES as readonly string[]).includes(name));
    if (names.length === 0 || unknown.length > 0) {
      throw new UsageError(`--types takes a comma-separated list of ${EVENT_TYPES.join(', ')} (got "${options.types}")`);
    }
    types = new Set(names as EventType[]);
  }
  const parts = [
    since === undefined ? undefined : `since ${new Date(since).toISOString()}`,
    until === undefined ? undefined : `until ${new Date(until).toISOString()}`,
    types === undefined ? undefined : `types ${[...types].sort().join(',')}`,
  ].filter((part): part is string => part !== undefined);
  return {
    since,
    until,
    types,
    description: parts.length === 0 ? 'all events' : parts.join(', '),
    accepts(event) {
      if (types !== undefined && !types.has(event.type)) return false;
      if (since === undefined && until === undefined) return true;
      const at = eventTimeMs(event);
      if (at === undefined) return false;
      return (since === undefined || at >= since) && (until === undefined || at < until);
    },
  };
}
