import { createHash } from 'node:crypto';

/**
 * Events this container delivered lately (SPEC §4). A sender that retries a request after a
 * 5xx/429 resends the events that were already delivered with it; within a warm container such
 * a resend is answered `delivered` (`duplicate: true`) without another Gainsight call, on every
 * route. An event is known by its message id AND its content, so a new event that reuses an id
 * is still sent. Only digests are kept, never ids or events: the memory is
 * bounded by count (oldest first) and age, whatever the senders put in their ids.
 *
 * A resend that lands on another container is not recognised; with a parking queue a request is
 * rarely answered 5xx for events that could be parked, so such resends are rare.
 */
export class DeliveredEvents {
  readonly #expiry = new Map<string, number>();

  constructor(
    readonly maxEntries = 10_000,
    readonly ttlMs = 60 * 60 * 1000,
  ) {}

  /**
   * The digest an event is remembered by: its message id and its content as the sender sent it
   * (before the relay derived anything, such as a tracking-API event time from the arrival time,
   * which differs on a resend). Undefined without a message id, or for content that cannot be
   * encoded (a hostile, deeply nested event is simply not remembered).
   */
  static keyOf(messageId: string | undefined, sent: unknown): string | undefined {
    if (messageId === undefined) return undefined;
    let content: string | undefined;
    try {
      content = JSON.stringify(sent);
    } catch {
      return undefined;
    }
    if (content === undefined) return undefined;
    return createHash('sha256').update(messageId, 'utf8').update('\0').update(content, 'utf8').digest('base64');
  }

  has(key: string, now = Date.now()): boolean {
    const expires = this.#expiry.get(key);
    if (expires === undefined) return false;
    if (expires > now) return true;
    this.#expiry.delete(key);
    return false;
  }

  add(key: string, now = Date.now()): void {
    this.#expiry.delete(key); // re-insert at the newest end
    this.#expiry.set(key, now + this.ttlMs);
    while (this.#expiry.size > this.maxEntries) {
      const oldest = this.#expiry.keys().next().value as string;
      this.#expiry.delete(oldest);
    }
  }

  get size(): number {
    return this.#expiry.size;
  }
}
