/**
 * Message ids of custom events this container delivered recently. A sender that retries a
 * batch after a 5xx/429 (the SDKs do) resends events that were already delivered; upserts are
 * harmless to repeat, custom events are not. Within a warm container, such a resend is answered
 * `delivered` (`duplicate: true`) without another Gainsight call.
 *
 * Bounded in size and age: the oldest ids go first. A retry that lands on another container is
 * not recognised — with a parking queue configured, a batch is never answered 5xx for events
 * that could be parked, so the SDKs do not resend in the first place.
 */
export class RecentIds {
  readonly #expiry = new Map<string, number>();

  constructor(
    readonly maxEntries = 10_000,
    readonly ttlMs = 60 * 60 * 1000,
  ) {}

  has(id: string, now = Date.now()): boolean {
    const expires = this.#expiry.get(id);
    if (expires === undefined) return false;
    if (expires > now) return true;
    this.#expiry.delete(id);
    return false;
  }

  add(id: string, now = Date.now()): void {
    this.#expiry.delete(id); // re-insert at the newest end
    this.#expiry.set(id, now + this.ttlMs);
    while (this.#expiry.size > this.maxEntries) {
      const oldest = this.#expiry.keys().next().value as string;
      this.#expiry.delete(oldest);
    }
  }

  get size(): number {
    return this.#expiry.size;
  }
}

/** Call types whose delivery is a custom event: sending them twice duplicates data. */
export const CUSTOM_EVENT_TYPES: ReadonlySet<string> = new Set(['track', 'page', 'screen']);
