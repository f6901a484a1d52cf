import { hash } from 'node:crypto';

/** Call types whose delivery is a custom event, carrying its own date (the others are upserts). */
export const CUSTOM_EVENT_TYPES: ReadonlySet<string> = new Set(['track', 'page', 'screen']);

/** What became of an event this container acknowledged. */
export type Acknowledged = 'delivered' | 'queued';

/**
 * Events this container acknowledged lately: delivered, or parked for the redrive (docs/http-contract.md). A
 * sender that retries a request after a 5xx/429 resends the events that were already
 * acknowledged with it; within a warm container such a resend is answered as before
 * (`delivered` or `queued`, with `duplicate: true`) without another Gainsight call or another
 * parked copy, on every route. An event is known by its message id AND its content, so a new
 * event that reuses an id is still sent. Only digests are kept, never ids or events: the memory
 * is bounded by count (oldest first) and age, whatever the senders put in their ids.
 *
 * A resend that lands on another container is not recognised; with a parking queue a request is
 * rarely answered 5xx for events that could be parked, so such resends are rare.
 */
export class AcknowledgedEvents {
  readonly #entries = new Map<string, { until: number; status: Acknowledged }>();

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
    return hash('sha256', `${messageId}\0${content}`, 'base64');
  }

  /** What became of the event, if this container acknowledged it within the time to live. */
  recall(key: string, now = Date.now()): Acknowledged | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until > now) return entry.status;
    this.#entries.delete(key);
    return undefined;
  }

  remember(key: string, status: Acknowledged, now = Date.now()): void {
    this.#entries.delete(key); // re-insert at the newest end
    this.#entries.set(key, { until: now + this.ttlMs, status });
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}
