import type { Plan } from '../delivery/plan.ts';
import { abortableSleep } from '../delivery/retry.ts';
import type { EventType } from '../events/index.ts';
import { type QuotaView, formatCount } from './progress.ts';

/**
 * Gainsight PX's daily quota, shared with the live relay: about 1 000 000 calls a day per
 * subscription. A backfill takes at most `--daily-quota` × `--quota-share` calls per UTC day
 * (default half of it), counting Gainsight calls, not events — an identify for a new user is two
 * calls, every retry is one more. Calls of earlier runs the same day (the checkpoint keeps them)
 * count against the share.
 *
 * How it is kept: before an event starts, its largest number of calls (a plan's upserts counted
 * as two) is reserved; it starts only when today's calls plus every reservation plus its own fit
 * the share, so an event is seldom cut in two by the end of the day. Each call is then counted as
 * it is made, taken out of the reservations, and made only within the share (a retry beyond what
 * its event reserved included); what an event did not use is given back when it ends. When the share is spent, the run waits for the next UTC day (or,
 * with `--no-wait`, stops). The clock and the sleep are injected: tests cross midnight at once.
 */

export interface QuotaState {
  /** UTC day, `YYYY-MM-DD`. */
  day: string;
  /** Gainsight calls made (or, through a relay, estimated) that day. */
  calls: number;
}

export interface DailyQuotaOptions {
  dailyQuota: number;
  /** Fraction of the daily quota the backfill may use, in (0, 1]. */
  share: number;
  /** Wait for the next day when the share is spent (false: `--no-wait`, the run stops). */
  wait: boolean;
  /** Today's calls of earlier runs, from the checkpoint. */
  state?: QuotaState;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** A call would exceed the day's share and the run does not wait (`--no-wait`). */
export class QuotaSpentError extends Error {
  constructor(readonly resumesAt: number) {
    super(`the daily share of Gainsight calls is spent; it renews at ${new Date(resumesAt).toISOString()}`);
    this.name = 'QuotaSpentError';
  }
}

/** The most calls a plan can take, retries aside: an upsert is two (update, then create on 404). */
export const planCalls = (plan: Plan): number =>
  plan.action === 'skip' ? 0 : plan.steps.reduce((sum, step) => sum + (step.kind === 'upsert' ? 2 : 1), 0);

/**
 * The most Gainsight calls an event can take through a deployed relay, which does not say how
 * many it made: an identify upserts the user, a group upserts the account and links the user;
 * page and screen count one (sent when the relay's pageEvents is on).
 */
export const RELAY_CALLS: Readonly<Record<EventType, number>> = { identify: 2, group: 4, track: 1, page: 1, screen: 1, alias: 0 };

export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The next UTC midnight after `ms`. */
export const nextUtcMidnight = (ms: number): number => {
  const date = new Date(ms);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1);
};

export class DailyQuota {
  /** Calls allowed per UTC day. */
  readonly limit: number;
  readonly #wait: boolean;
  readonly #options: DailyQuotaOptions;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  #day: string;
  #used: number;
  #reserved = 0;
  #resumesAt: number | undefined;
  /** Calls made by this run (all days). */
  callsThisRun = 0;

  constructor(options: DailyQuotaOptions) {
    this.limit = Math.floor(options.dailyQuota * options.share);
    this.#wait = options.wait;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? abortableSleep;
    this.#day = utcDay(this.#now());
    this.#used = options.state?.day === this.#day ? options.state.calls : 0;
  }

  #roll(): void {
    const today = utcDay(this.#now());
    if (today !== this.#day) {
      this.#day = today;
      this.#used = 0;
    }
  }

  /** Today's calls, including earlier runs'. */
  get used(): number {
    this.#roll();
    return this.#used;
  }

  /** Today's calls plus those reserved by events in flight. */
  get committed(): number {
    return this.used + this.#reserved;
  }

  get state(): QuotaState {
    this.#roll();
    return { day: this.#day, calls: this.#used };
  }

  /** While the run waits for the next day: when it resumes (epoch ms). */
  get resumesAt(): number | undefined {
    return this.#resumesAt;
  }

  /** When the share renews: the next UTC midnight. */
  get renewsAt(): number {
    return nextUtcMidnight(this.#now());
  }

  /** Time left until the share renews, by the quota's own clock. */
  get untilRenewalMs(): number {
    return nextUtcMidnight(this.#now()) - this.#now();
  }

  /** For the run's header: `500,000 Gainsight calls per UTC day (50% of 1,000,000), 12 used today`. */
  describe(): string {
    const { dailyQuota, share } = this.#options;
    return `${formatCount(this.limit)} Gainsight calls per UTC day (${Math.round(share * 100)}% of ${formatCount(dailyQuota)}), ${formatCount(this.used)} used today${this.#wait ? '' : ', --no-wait'}`;
  }

  /**
   * What progress shows: today's calls against the share, the wait for the next day, and — when
   * the calls still to make (an estimate) exceed what is left today — the days left.
   */
  view(callsLeft: number | undefined): QuotaView {
    const used = this.used;
    const leftToday = this.limit - used;
    const etaDays =
      callsLeft !== undefined && this.callsThisRun > 0 && callsLeft > leftToday
        ? this.untilRenewalMs / 86_400_000 + (callsLeft - leftToday) / this.limit
        : undefined;
    return {
      used,
      limit: this.limit,
      ...(this.#resumesAt === undefined ? {} : { resumesAt: this.#resumesAt, resumesInMs: this.untilRenewalMs }),
      ...(etaDays === undefined ? {} : { etaDays }),
    };
  }

  async #waitForNextDay(signal: AbortSignal | undefined): Promise<boolean> {
    const until = nextUtcMidnight(this.#now());
    this.#resumesAt = until;
    try {
      await this.#sleep(until - this.#now(), signal);
    } finally {
      this.#resumesAt = undefined;
    }
    this.#roll();
    return !signal?.aborted;
  }

  /**
   * Reserves `calls` for an event about to start, waiting for the next UTC day if they do not fit
   * today's share. False when they do not fit and the run does not wait (or was stopped while
   * waiting): the event is not started.
   */
  async admit(calls: number, signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      this.#roll();
      if (this.#used + this.#reserved + calls <= this.limit) {
        this.#reserved += calls;
        return true;
      }
      if (!this.#wait || signal?.aborted) return false;
      if (!(await this.#waitForNextDay(signal))) return false;
    }
  }

  /** Gives back what an event reserved and did not use, when it ends. */
  release(calls: number): void {
    this.#reserved = Math.max(0, this.#reserved - calls);
  }

  /** Counts calls made on the run's behalf by a deployed relay (estimated: what was reserved). */
  count(calls: number): void {
    this.#roll();
    this.#used += calls;
    this.#reserved = Math.max(0, this.#reserved - calls);
    this.callsThisRun += calls;
  }

  /**
   * Counts one call about to be made. Within the share it returns at once; a call that would
   * exceed it (a retry beyond what its event reserved) waits for the next day.
   *
   * @throws QuotaSpentError under `--no-wait` when the call would exceed the share.
   */
  async spend(signal?: AbortSignal): Promise<void> {
    this.#roll();
    if (this.#used + 1 > this.limit) {
      if (!this.#wait) throw new QuotaSpentError(nextUtcMidnight(this.#now()));
      while (this.#used + 1 > this.limit) {
        if (!(await this.#waitForNextDay(signal))) throw new QuotaSpentError(nextUtcMidnight(this.#now()));
      }
    }
    this.#used += 1;
    this.#reserved = Math.max(0, this.#reserved - 1);
    this.callsThisRun += 1;
  }
}
