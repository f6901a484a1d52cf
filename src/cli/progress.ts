/**
 * Progress for long runs. On a terminal: one line redrawn in place (bar, done/total, rate, ETA,
 * failures). Otherwise (a pipe, a CI log): a plain line every few seconds. The stream and whether
 * it is a terminal are injected, so both forms are testable.
 */

export interface ProgressSnapshot {
  /** Records (or messages) finished, including those settled by earlier runs. */
  done: number;
  /** Known total, when known. */
  total?: number;
  /** Fraction of the input read (bytes), used for ETA while the total is unknown. */
  fraction?: number;
  /** Finished in this run (the rate is computed from these). */
  doneThisRun: number;
  failures: number;
  /** Refused for good (rejected or invalid), shown when there are any. */
  rejected?: number;
  /** Extra counts for the plain line, e.g. `{ delivered: 10, rejected: 1 }`. */
  counts?: Record<string, number>;
  /** Gainsight calls against the day's share, when a quota paces the run. */
  quota?: QuotaView;
}

export interface QuotaView {
  /** Calls made today (UTC), earlier runs included. */
  used: number;
  /** Calls allowed per UTC day. */
  limit: number;
  /** Set while the run waits for the next day: when it resumes (epoch ms), and in how long. */
  resumesAt?: number;
  resumesInMs?: number;
  /** Days left when the quota, not the rate, is what limits the run. */
  etaDays?: number;
}

export interface OutputStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  stream: OutputStream;
  /** Overrides `stream.isTTY`. */
  isTTY?: boolean;
  label: string;
  /** Unit shown after the counts: `events`, `messages`. */
  unit: string;
  snapshot: () => ProgressSnapshot;
  /** Plain-line period when not on a terminal; default 5000 ms. */
  intervalMs?: number;
  /** Redraw period on a terminal; default 250 ms. */
  redrawMs?: number;
  now?: () => number;
}

const BAR_WIDTH = 24;

export const formatCount = (value: number): string => value.toLocaleString('en-US');

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** `2026-12-07 00:00 UTC` */
const utcMinute = (ms: number): string => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** Where a command's progress goes: its stderr, drawn as its caller asked (terminal or not, how often). */
export function progressTarget(o: { stderr: OutputStream; isTTY?: boolean; progressIntervalMs?: number }): Pick<ProgressOptions, 'stream' | 'isTTY' | 'intervalMs'> {
  return {
    stream: o.stderr,
    ...(o.isTTY === undefined ? {} : { isTTY: o.isTTY }),
    ...(o.progressIntervalMs === undefined ? {} : { intervalMs: o.progressIntervalMs }),
  };
}

/** One outcome of a final summary: its name, its count, and a note said only when the count is not 0. */
export type OutcomeRow = [name: string, count: number, note: string];

/**
 * A final summary's outcome lines, `  name:   count  (note)`, counts aligned over every row (so
 * reruns line up) but only the `shown` ones printed.
 */
export function outcomeLines(rows: readonly OutcomeRow[], shown: (row: OutcomeRow) => boolean, nameWidth: number): string[] {
  const width = Math.max(...rows.map(([, count]) => formatCount(count).length));
  return rows
    .filter(shown)
    .map(([name, count, note]) => `  ${`${name}:`.padEnd(nameWidth)}${formatCount(count).padStart(width)}${count > 0 && note ? `  (${note})` : ''}`);
}

export class ProgressReporter {
  readonly #options: ProgressOptions;
  readonly #tty: boolean;
  readonly #now: () => number;
  readonly #startedAt: number;
  #timer: NodeJS.Timeout | undefined;
  #drawn = false;

  constructor(options: ProgressOptions) {
    this.#options = options;
    this.#tty = options.isTTY ?? options.stream.isTTY === true;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
  }

  get isTTY(): boolean {
    return this.#tty;
  }

  start(): void {
    if (this.#timer) return;
    const period = this.#tty ? (this.#options.redrawMs ?? 250) : (this.#options.intervalMs ?? 5000);
    this.#timer = setInterval(() => this.render(), period);
    this.#timer.unref();
    if (this.#tty) this.render();
  }

  /** Rate (per second) and ETA (seconds) from the current snapshot. */
  measure(snapshot: ProgressSnapshot): { rate: number; eta: number | undefined; elapsed: number } {
    const elapsed = Math.max(0.001, (this.#now() - this.#startedAt) / 1000);
    const rate = snapshot.doneThisRun / elapsed;
    let eta: number | undefined;
    if (snapshot.total !== undefined && rate > 0) eta = Math.max(0, snapshot.total - snapshot.done) / rate;
    else if (snapshot.fraction !== undefined && snapshot.fraction > 0) eta = (elapsed * (1 - snapshot.fraction)) / snapshot.fraction;
    return { rate, eta, elapsed };
  }

  /** The terminal line: `[████░░░░]  42% 4,200/10,000 events · 49.8/s · ETA 1m56s · 3 failed`. */
  barLine(snapshot: ProgressSnapshot): string {
    const { rate, eta } = this.measure(snapshot);
    const fraction =
      snapshot.total !== undefined && snapshot.total > 0 ? Math.min(1, snapshot.done / snapshot.total) : snapshot.fraction;
    const parts: string[] = [this.#options.label];
    if (fraction !== undefined) {
      const filled = Math.round(fraction * BAR_WIDTH);
      parts.push(`[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`);
    }
    parts.push(
      snapshot.total !== undefined
        ? `${formatCount(snapshot.done)}/${formatCount(snapshot.total)} ${this.#options.unit}`
        : `${formatCount(snapshot.done)} ${this.#options.unit}`,
    );
    const quota = snapshot.quota;
    const line = [
      parts.join(' '),
      `${rate.toFixed(1)}/s`,
      ...(quota ? [`calls today ${formatCount(quota.used)}/${formatCount(quota.limit)}`] : []),
      this.#eta(eta, quota),
      `${formatCount(snapshot.failures)} failed`,
      ...(snapshot.rejected ? [`${formatCount(snapshot.rejected)} rejected`] : []),
    ].join(' · ');
    const columns = this.#options.stream.columns ?? 120;
    return line.length > columns - 1 ? line.slice(0, columns - 1) : line;
  }

  /** The periodic plain line: `replay: 4200/10000 events (42%), 49.8/s, ETA 1m56s, delivered 4100, ...`. */
  plainLine(snapshot: ProgressSnapshot): string {
    const { rate, eta } = this.measure(snapshot);
    const fraction =
      snapshot.total !== undefined && snapshot.total > 0 ? snapshot.done / snapshot.total : snapshot.fraction;
    const done = snapshot.total !== undefined ? `${snapshot.done}/${snapshot.total}` : `${snapshot.done}`;
    const percent = fraction === undefined ? '' : ` (${Math.floor(fraction * 100)}%)`;
    const counts = Object.entries(snapshot.counts ?? {})
      .filter(([, value]) => value > 0)
      .map(([name, value]) => `${name} ${value}`);
    const quota = snapshot.quota;
    return [
      `${this.#options.label}: ${done} ${this.#options.unit}${percent}`,
      `${rate.toFixed(1)}/s`,
      ...(quota ? [`calls today ${quota.used}/${quota.limit}`] : []),
      this.#eta(eta, quota),
      `failed ${snapshot.failures}`,
      ...counts,
    ].join(', ');
  }

  /** `ETA 1m56s`; in days when the quota is the limit; the resume time while waiting for it. */
  #eta(eta: number | undefined, quota: QuotaView | undefined): string {
    if (quota?.resumesAt !== undefined) {
      const wait = formatDuration((quota.resumesInMs ?? quota.resumesAt - this.#now()) / 1000);
      return `daily share spent, resumes ${utcMinute(quota.resumesAt)} (in ${wait})${quota.etaDays === undefined ? '' : `, ETA ${quota.etaDays.toFixed(1)} days`}`;
    }
    if (quota?.etaDays !== undefined) return `ETA ${quota.etaDays.toFixed(1)} days (daily quota)`;
    return `ETA ${eta === undefined ? '?' : formatDuration(eta)}`;
  }

  render(): void {
    const snapshot = this.#options.snapshot();
    if (this.#tty) {
      this.#options.stream.write(`\r\x1b[2K${this.barLine(snapshot)}`);
      this.#drawn = true;
    } else this.#options.stream.write(`${this.plainLine(snapshot)}\n`);
  }

  /** Prints a message above the bar (the bar is redrawn on the next tick). */
  log(message: string): void {
    if (this.#tty && this.#drawn) {
      this.#options.stream.write(`\r\x1b[2K${message}\n`);
      this.#drawn = false;
    } else this.#options.stream.write(`${message}\n`);
  }

  /** Stops redrawing; on a terminal the final state stays on screen. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#tty) {
      this.render();
      this.#options.stream.write('\n');
      this.#drawn = false;
    }
  }
}
