import type { RelayEvent } from '../events/index.ts';
import { toEpochMs, toId } from './convert.ts';
import { firstConverted, ownValue, traitBags } from './read.ts';

/** The two facts every mapper takes from any call type: who the user is, and when it happened. */

/**
 * The Gainsight user id (docs/http-contract.md): the first non-blank of `userId`, `traits.userId`,
 * `traits.id`, `context.traits.userId`, `context.traits.id`, `anonymousId`.
 */
export function resolveUserId(event: RelayEvent): string | undefined {
  const [traits, contextTraits] = traitBags(event);
  return firstConverted(
    [
      event.userId,
      ownValue(traits, 'userId'),
      ownValue(traits, 'id'),
      ownValue(contextTraits, 'userId'),
      ownValue(contextTraits, 'id'),
      event.anonymousId,
    ],
    toId,
  );
}

/** When the event happened: `timestamp`, else `originalTimestamp`, in epoch ms. */
export function eventTimeMs(event: RelayEvent): number | undefined {
  return firstConverted([event.timestamp, event.originalTimestamp], toEpochMs);
}
