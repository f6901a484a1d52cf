/**
 * Pacing for the command-line tools: a rate limiter (Gainsight PX allows about 200 requests/s
 * per key, and the relay's own traffic shares that), and lanes that keep one user's events in
 * file order while different users run in parallel (an identify must land before the group that
 * links that user).
 */
import { abortableSleep } from '../delivery/retry.ts';

/** Gainsight PX's documented ceiling: the tools refuse a higher --rate. */
export const MAX_RATE = 200;

/** Resolves after `ms`, or at once when `signal` aborts: the relay's own (see retry.ts). */
export const sleep = abortableSleep;

/**
 * Spaces permits evenly, `1000 / perSecond` ms apart, without bursts: N permits take at least
 * (N − 1) / perSecond seconds. Start times are scheduled, not measured after the fact, so timer
 * jitter does not accumulate.
 */
export class RateLimiter {
  readonly #intervalMs: number;
  #nextAt = 0;

  constructor(readonly perSecond: number) {
    this.#intervalMs = 1000 / perSecond;
  }

  /** Waits for `permits` consecutive slots (a batch of events posted at once takes one each). */
  async take(permits = 1, signal?: AbortSignal): Promise<void> {
    const now = performance.now();
    const at = Math.max(now, this.#nextAt);
    this.#nextAt = at + this.#intervalMs * permits;
    await sleep(at - now, signal);
  }
}

/** Runs tasks so that two tasks sharing a key run one after the other, in the order started. */
export class Lanes {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const previous = keys.flatMap((key) => {
      const tail = this.#tails.get(key);
      return tail ? [tail] : [];
    });
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    for (const key of keys) this.#tails.set(key, mine);
    try {
      await Promise.all(previous);
      return await task();
    } finally {
      release();
      for (const key of keys) if (this.#tails.get(key) === mine) this.#tails.delete(key);
    }
  }
}

/** At most `limit` tasks at once; `add` waits for a free slot (the reader pauses meanwhile). */
export class Pool {
  readonly #running = new Set<Promise<void>>();

  constructor(readonly limit: number) {}

  async add(task: () => Promise<void>): Promise<void> {
    while (this.#running.size >= this.limit) await Promise.race(this.#running);
    const running: Promise<void> = task().finally(() => this.#running.delete(running));
    this.#running.add(running);
  }

  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.race(this.#running);
  }
}
