/**
 * The events of the drain scenario (bench/drain.mjs): `total` events over `users` users, made on
 * the fly from their index so the parent and the workers agree without passing them around.
 *
 * Event `i` belongs to user `i % users` and is that user's event number `seq = floor(i / users)`:
 * the users' events interleave as live traffic does (every user's first event, then every user's
 * second, …), and each user's events follow PATTERN, whose order matters — identify title v1, v2,
 * v3: delivering v2 after v3 leaves a stale title. Every event carries its place, so the order in
 * which Gainsight saw a user's writes can be compared with the order they were queued in:
 * - identify: `context.traits.score = seq` (PUT /users/{id}, or POST /users for a new user) and
 *   `context.traits.title = 'v<k>'` (the user's k-th identify: the final title must be the last);
 * - group: account `account-<(user + seq) % ACCOUNTS>` (one per user and seq), visible in the
 *   user's link `PUT /users/{id} {accountId}`;
 * - track: `properties.seq = seq` (POST /events/custom attributes.seq).
 */
import { group, identify, track } from './events.mjs';

/** One user's events, repeated when a user has more than ten. */
export const PATTERN = ['identify', 'track', 'group', 'track', 'identify', 'track', 'track', 'identify', 'track', 'track'];

/** Accounts the group events spread over (all of them exist in Gainsight). */
export const ACCOUNTS = 500;

/** Every tenth user is unknown to Gainsight: its first identify costs a PUT (404) and a POST. */
export const isNewUser = (user) => user % 10 === 0;

export const userIdOf = (user) => `drain-user-${user}`;
export const accountOf = (user, seq) => `account-${(user + seq) % ACCOUNTS}`;
export const messageIdOf = (user, seq) => `drain-${user}-${seq}`;

const IDENTIFIES_PER_ROUND = PATTERN.filter((type) => type === 'identify').length;

/** Which identify of its user this is (1, 2, 3, …), for an identify at `seq`. */
export function identifyNumber(seq) {
  const round = Math.floor(seq / PATTERN.length);
  const inRound = PATTERN.slice(0, (seq % PATTERN.length) + 1).filter((type) => type === 'identify').length;
  return round * IDENTIFIES_PER_ROUND + inRound;
}

/** Where event `index` stands: its user, its place in that user's sequence and its type. */
export function placeOf(index, users) {
  const user = index % users;
  const seq = Math.floor(index / users);
  return { user, seq, type: PATTERN[seq % PATTERN.length] };
}

/** Event `index` as RudderStack's webhook would send it. */
export function drainEvent(index, users) {
  const { user, seq, type } = placeOf(index, users);
  const userId = userIdOf(user);
  const messageId = messageIdOf(user, seq);
  if (type === 'identify') {
    const event = identify(index, userId);
    event.context.traits = { ...event.context.traits, title: `v${identifyNumber(seq)}`, score: seq };
    return { ...event, messageId };
  }
  if (type === 'group') return { ...group(index, accountOf(user, seq), userId), messageId };
  const event = track(index, userId);
  return { ...event, messageId, properties: { ...event.properties, seq } };
}

/** `messageIdOf`'s inverse: the user and seq of a queued event, or undefined. */
export function parseMessageId(messageId) {
  const match = /^drain-(\d+)-(\d+)$/.exec(String(messageId));
  return match ? { user: Number(match[1]), seq: Number(match[2]) } : undefined;
}

/**
 * The Gainsight calls the relay must make for the first `total` events when nothing fails:
 * identify 1 (2 for a new user's first), group 2 (account PUT, user link PUT), track 1.
 */
export function expectedCalls(total, users) {
  let calls = 0;
  for (let index = 0; index < total; index += 1) {
    const { user, seq, type } = placeOf(index, users);
    if (type === 'identify') calls += isNewUser(user) && identifyNumber(seq) === 1 ? 2 : 1;
    else if (type === 'group') calls += 2;
    else calls += 1;
  }
  return calls;
}
