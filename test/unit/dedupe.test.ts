import { describe, expect, it } from 'vitest';
import { AcknowledgedEvents } from '../../src/delivery/dedupe.ts';

/** An event as a sender sent it (before any parsing); `overrides` spread over it. */
const makeSent = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'identify',
  messageId: 'm-1',
  userId: 'user-1',
  traits: { email: 'a@example.com' },
  ...overrides,
});

/** The key of a sent event, as the events route computes it. */
const keyOf = (sent: Record<string, unknown>): string | undefined =>
  AcknowledgedEvents.keyOf(typeof sent.messageId === 'string' ? sent.messageId : undefined, sent);

/** A key that must exist. */
const definedKeyOf = (sent: Record<string, unknown>): string => {
  const key = keyOf(sent);
  if (key === undefined) throw new Error('expected the event to have a key');
  return key;
};

/** base64 of a SHA-256 digest. */
const DIGEST_LENGTH = 44;

describe('AcknowledgedEvents.keyOf', () => {
  it('gives the same key to the same event sent twice (same message id, same content)', () => {
    // Act
    const first = keyOf(makeSent());
    const second = keyOf(makeSent());
    // Assess
    expect(first).toBeDefined();
    expect(second).toBe(first);
  });

  it.each([
    ['the content differs', makeSent({ traits: { email: 'b@example.com' } })],
    ['the message id differs', makeSent({ messageId: 'm-2' })],
    ['the user differs', makeSent({ userId: 'user-2' })],
    ['the type differs', makeSent({ type: 'track', event: 'Report Exported' })],
    ['the time differs', makeSent({ timestamp: '2024-01-02T03:04:05.678Z' })],
  ])('gives another key when %s', (_label, other) => {
    // Prepare
    const key = definedKeyOf(makeSent());
    // Act
    const otherKey = keyOf(other);
    // Assess
    expect(otherKey).toBeDefined();
    expect(otherKey).not.toBe(key);
  });

  it('gives no key to an event without a message id', () => {
    // Act
    const key = AcknowledgedEvents.keyOf(undefined, makeSent({ messageId: undefined }));
    // Assess
    expect(key).toBeUndefined();
  });

  it.each([
    ['that cannot be encoded (a cycle)', (() => {
      const cyclic: Record<string, unknown> = makeSent();
      cyclic.self = cyclic;
      return cyclic;
    })()],
    ['that cannot be encoded (a BigInt)', makeSent({ traits: { seats: 10n } })],
    ['that is missing', undefined],
  ])('gives no key to content %s: such an event is simply not remembered', (_label, sent) => {
    // Act
    const key = AcknowledgedEvents.keyOf('m-1', sent);
    // Assess
    expect(key).toBeUndefined();
  });

  it('keeps a digest, never the message id: a 200-character id yields a key of fixed length that quotes none of it', () => {
    // Prepare
    const longId = `msg-${'x7Q'.repeat(65)}-end`.slice(0, 200);
    expect(longId).toHaveLength(200);
    // Act
    const longKey = definedKeyOf(makeSent({ messageId: longId, userId: 'person@example.com' }));
    const shortKey = definedKeyOf(makeSent({ messageId: 'm' }));
    // Assess
    expect(longKey).toHaveLength(DIGEST_LENGTH);
    expect(shortKey).toHaveLength(DIGEST_LENGTH);
    expect(longKey).not.toContain('x7Q');
    expect(longKey).not.toContain('person');
  });
});

describe('AcknowledgedEvents memory', () => {
  it('remembers a key for its time to live, then forgets it', () => {
    // Prepare
    const delivered = new AcknowledgedEvents(10, 1000);
    delivered.remember('k1', 'delivered', 0);
    // Act
    const seen = [delivered.recall('k1', 999), delivered.recall('k2', 0), delivered.recall('k1', 1000)];
    // Assess
    expect(seen).toEqual(['delivered', undefined, undefined]);
    expect(delivered.size).toBe(0);
  });

  it.each([
    ['forgets the oldest keys beyond its size', ['a', 'b', 'c'], [false, true, true]],
    ['counts a key added again as the newest', ['a', 'b', 'a', 'c'], [true, false, true]],
  ])('%s', (_label, added, expected) => {
    // Prepare
    const delivered = new AcknowledgedEvents(2, 60_000);
    // Act
    added.forEach((key, at) => delivered.remember(key, 'delivered', at));
    // Assess
    expect(['a', 'b', 'c'].map((key) => delivered.recall(key, added.length) !== undefined)).toEqual(expected);
    expect(delivered.size).toBe(2);
  });

  it('renews the time to live of a key added again', () => {
    // Prepare
    const delivered = new AcknowledgedEvents(10, 1000);
    delivered.remember('a', 'delivered', 0);
    // Act
    delivered.remember('a', 'delivered', 500);
    // Assess
    expect(delivered.recall('a', 1499) !== undefined).toBe(true);
  });

  it('holds at most its size in keys, however many events pass', () => {
    // Prepare
    const delivered = new AcknowledgedEvents(100, 60_000);
    // Act
    for (let index = 0; index < 1000; index += 1) delivered.remember(definedKeyOf(makeSent({ messageId: `m-${index}` })), 'delivered', index);
    // Assess
    expect(delivered.size).toBe(100);
    expect(delivered.recall(definedKeyOf(makeSent({ messageId: 'm-999' })), 1000) !== undefined).toBe(true);
    expect(delivered.recall(definedKeyOf(makeSent({ messageId: 'm-899' })), 1000) !== undefined).toBe(false);
  });

  it('recalls what became of each event: delivered or parked', () => {
    // Prepare
    const acknowledged = new AcknowledgedEvents(10, 1000);
    acknowledged.remember('sent', 'delivered', 0);
    acknowledged.remember('parked', 'queued', 0);
    // Act
    const recalled = [acknowledged.recall('sent', 1), acknowledged.recall('parked', 1)];
    // Assess
    expect(recalled).toEqual(['delivered', 'queued']);
  });

  it('keeps 10 000 keys for an hour by default', () => {
    // Act
    const delivered = new AcknowledgedEvents();
    // Assess
    expect([delivered.maxEntries, delivered.ttlMs]).toEqual([10_000, 3_600_000]);
  });
});
