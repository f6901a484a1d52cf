import type { IncomingHttpHeaders } from 'node:http';
import { DEFAULT_RETRY_POLICY, backoffMs } from '../delivery/retry.ts';
import { retryAfterSeconds } from '../gainsight/classify.ts';
import { type RateLimiter, sleep } from './pacing.ts';

/**
 * Posting events to a deployed relay's `POST /events` in batches, honouring its answers
 * (docs/http-contract.md) so that nothing it acknowledged is sent twice:
 * - 200 / 202: every event is settled (`delivered`, `skipped`, or `queued` when the relay
 *   parked it for its own redrive);
 * - 400 `invalid_events`: nothing was sent; the listed events are rejected, the others are
 *   posted again at once. Other 400s list each event's outcome: the failed ones are rejected;
 *   without a list, a batch is split into single events to find the culprit;
 * - 413: the batch is split in halves (a single event that is too large is rejected);
 * - 429 / 5xx / timeouts / connection errors: retried with backoff (or after `Retry-After`)
 *   within the budget. When the answer lists outcomes, only the events that failed retryably
 *   are posted again — the delivered ones are not;
 * - 401 (wrong secret), 404 / 405 (wrong URL), a relay in dry-run mode: the run stops.
 */

export interface RelayItem {
  raw: unknown;
}

export type RelayOutcome =
  | { kind: 'delivered' | 'skipped' | 'queued' }
  | { kind: 'rejected'; reason: { code: string; message: string; status?: number } }
  | { kind: 'failed'; reason: { code: string; message: string; status?: number }; fatal?: boolean };

export interface RelayPosterOptions {
  /** The relay's base URL or its `/events` URL. */
  url: string;
  secret: string | undefined;
  limiter: RateLimiter;
  /** Time one batch may spend on retries. */
  budgetMs: number;
  signal?: AbortSignal;
  /** Longest wait for one answer (API Gateway gives up at 30 s). */
  requestTimeoutMs?: number;
  fetch?: typeof globalThis.fetch;
  /** Called before events are posted again (the relay answered 429/503 or could not be reached). */
  onResend?: (items: readonly RelayItem[]) => void;
}

/** `https://x/` or `https://x/prod` → `https://x/events`, `https://x/prod/events`; `.../events` stays. */
export function eventsUrl(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return /\/events$/.test(trimmed) ? trimmed : `${trimmed}/events`;
}

/** Codes of events the relay will never accept as sent: fix the event, not the relay. */
const FINAL_CODES = new Set(['gainsight_rejected', 'invalid_event', 'missing_type', 'unsupported_type', 'limit_exceeded']);

interface ResultEntry {
  status?: unknown;
  error?: { code?: unknown; message?: unknown };
}

interface Answer {
  status: number;
  body: { results?: unknown; error?: { code?: unknown; message?: unknown; details?: { results?: unknown; events?: unknown } } } | undefined;
  /** The headers the retries read (names in lower case). */
  headers: IncomingHttpHeaders;
}

const textOf = (value: unknown, fallback: string): string => (typeof value === 'string' && value !== '' ? value : fallback);

export class RelayPoster {
  readonly #o: RelayPosterOptions;
  readonly #url: string;
  readonly #fetch: typeof globalThis.fetch;

  constructor(options: RelayPosterOptions) {
    this.#o = options;
    this.#url = eventsUrl(options.url);
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  async #send(items: readonly RelayItem[]): Promise<Answer> {
    await this.#o.limiter.take(items.length, this.#o.signal);
    const timeout = AbortSignal.timeout(this.#o.requestTimeoutMs ?? 30_000);
    const response = await this.#fetch(this.#url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(this.#o.secret ? { authorization: `Bearer ${this.#o.secret}` } : {}),
      },
      body: JSON.stringify(items.map((item) => item.raw)),
      signal: this.#o.signal ? AbortSignal.any([this.#o.signal, timeout]) : timeout,
    });
    const text = await response.text();
    let body: Answer['body'];
    try {
      body = text === '' ? undefined : (JSON.parse(text) as Answer['body']);
    } catch {
      body = undefined;
    }
    const retryAfter = response.headers.get('retry-after');
    return { status: response.status, body, headers: retryAfter === null ? {} : { 'retry-after': retryAfter } };
  }

  /** Posts the items and returns one outcome per item, in order. Never throws. */
  async post(items: readonly RelayItem[]): Promise<RelayOutcome[]> {
    const outcomes = new Map<RelayItem, RelayOutcome>();
    const deadline = Date.now() + this.#o.budgetMs;
    const work: RelayItem[][] = [[...items]];
    let fatal: RelayOutcome | undefined;

    for (let group = work.shift(); group !== undefined; group = work.shift()) {
      if (fatal) {
        for (const item of group) outcomes.set(item, fatal);
        continue;
      }
      for (let attempt = 1; group.length > 0; attempt += 1) {
        let answer: Answer | undefined;
        let failure: string | undefined;
        try {
          answer = await this.#send(group);
        } catch (error) {
          failure = `the relay could not be reached (${error instanceof Error ? error.message : String(error)})`;
        }
        const retry: RelayItem[] = [];
        let waitMs: number | undefined;
        if (answer === undefined) {
          retry.push(...group);
        } else {
          const verdict = this.#judge(answer, group);
          for (const [item, outcome] of verdict.settled) outcomes.set(item, outcome);
          if (verdict.fatal) {
            fatal = verdict.fatal;
            for (const item of group) if (!outcomes.has(item)) outcomes.set(item, fatal);
            break;
          }
          if (verdict.split) {
            work.unshift(...verdict.split);
            break;
          }
          if (verdict.again) {
            // Nothing was sent (invalid events removed): post the rest at once.
            group = verdict.again;
            attempt -= 1;
            continue;
          }
          retry.push(...verdict.retry);
          failure = verdict.failure;
          const after = retryAfterSeconds(answer.headers);
          if (after !== undefined) waitMs = after * 1000;
        }
        if (retry.length === 0) break;
        const wait = waitMs ?? backoffMs(attempt, DEFAULT_RETRY_POLICY) + 200 * attempt;
        if (Date.now() + wait > deadline || this.#o.signal?.aborted) {
          const reason = { code: 'relay_unavailable', message: failure ?? 'the relay kept failing' };
          for (const item of retry) outcomes.set(item, { kind: 'failed', reason });
          break;
        }
        await sleep(wait, this.#o.signal);
        group = retry;
        this.#o.onResend?.(group);
      }
    }
    return items.map(
      (item) => outcomes.get(item) ?? { kind: 'failed', reason: { code: 'internal', message: 'no answer recorded' } },
    );
  }

  /** What one answer means for each event of the group. */
  #judge(
    answer: Answer,
    group: RelayItem[],
  ): {
    settled: [RelayItem, RelayOutcome][];
    retry: RelayItem[];
    failure?: string;
    again?: RelayItem[];
    split?: RelayItem[][];
    fatal?: RelayOutcome;
  } {
    const { status, body } = answer;
    const error = body?.error;
    const code = textOf(error?.code, `http_${status}`);
    const message = `the relay answered ${status}${error?.message ? `: ${textOf(error.message, '')}` : ''}`;
    const results = Array.isArray(body?.results)
      ? (body.results as ResultEntry[])
      : Array.isArray(error?.details?.results)
        ? (error.details.results as ResultEntry[])
        : undefined;
    const aligned = results !== undefined && results.length === group.length ? results : undefined;

    if (status === 401 || status === 403 || status === 404 || status === 405) {
      const why =
        status === 401 || status === 403
          ? 'the relay refused the webhook secret (check WEBHOOK_SECRET or --secret-file)'
          : `the relay has no POST ${new URL(this.#url).pathname} (check --url)`;
      return { settled: [], retry: [], fatal: { kind: 'failed', reason: { code, message: `${why}: ${message}`, status }, fatal: true } };
    }

    // Each event's own outcome, where the answer lists them.
    const perEvent = (): { settled: [RelayItem, RelayOutcome][]; retry: RelayItem[]; fatal?: RelayOutcome } => {
      const settled: [RelayItem, RelayOutcome][] = [];
      const retry: RelayItem[] = [];
      let fatal: RelayOutcome | undefined;
      group.forEach((item, index) => {
        const entry = (aligned as ResultEntry[])[index] as ResultEntry;
        const s = entry?.status;
        if (s === 'delivered' || s === 'skipped' || s === 'queued') settled.push([item, { kind: s }]);
        else if (s === 'dry-run') {
          fatal = {
            kind: 'failed',
            reason: { code: 'relay_dry_run', message: 'the relay is in dry-run mode (DRY_RUN, or no PX_API_KEY): nothing reaches Gainsight' },
            fatal: true,
          };
        } else {
          const entryCode = textOf(entry?.error?.code, code);
          const reason = { code: entryCode, message: textOf(entry?.error?.message, message), status };
          if (FINAL_CODES.has(entryCode) || (status === 400 && s === 'failed')) settled.push([item, { kind: 'rejected', reason }]);
          else retry.push(item);
        }
      });
      return { settled, retry, ...(fatal ? { fatal } : {}) };
    };

    if (status >= 200 && status < 300) {
      if (aligned) return perEvent();
      return { settled: group.map((item) => [item, { kind: 'delivered' }]), retry: [] };
    }
    if (status === 413) {
      if (group.length === 1) {
        return { settled: [[group[0] as RelayItem, { kind: 'rejected', reason: { code, message, status } }]], retry: [] };
      }
      const half = Math.ceil(group.length / 2);
      return { settled: [], retry: [], split: [group.slice(0, half), group.slice(half)] };
    }
    if (status === 400) {
      const invalid = error?.details?.events;
      if (code === 'invalid_events' && Array.isArray(invalid)) {
        const byIndex = new Map<number, { code?: unknown; message?: unknown }>();
        for (const problem of invalid as { index?: unknown; code?: unknown; message?: unknown }[]) {
          if (typeof problem.index === 'number') byIndex.set(problem.index, problem);
        }
        const settled: [RelayItem, RelayOutcome][] = [];
        const again: RelayItem[] = [];
        group.forEach((item, index) => {
          const problem = byIndex.get(index);
          if (problem) {
            settled.push([
              item,
              { kind: 'rejected', reason: { code: textOf(problem.code, 'invalid_event'), message: textOf(problem.message, message), status } },
            ]);
          } else again.push(item);
        });
        if (settled.length > 0) return { settled, retry: [], ...(again.length > 0 ? { again } : {}) };
      }
      if (aligned) return perEvent();
      if (group.length === 1) {
        return { settled: [[group[0] as RelayItem, { kind: 'rejected', reason: { code, message, status } }]], retry: [] };
      }
      // A 400 about the request as a whole, before anything was sent: find the culprit alone.
      return { settled: [], retry: [], split: group.map((item) => [item]) };
    }
    if (status === 408 || status === 429 || status >= 500) {
      if (aligned) return { ...perEvent(), failure: message };
      return { settled: [], retry: [...group], failure: message };
    }
    return {
      settled: [],
      retry: [],
      fatal: { kind: 'failed', reason: { code, message: `unexpected answer: ${message}`, status }, fatal: true },
    };
  }
}
