import { once } from 'node:events';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Plan, planEvent } from '../delivery/plan.ts';
import { type EventOutcome, runPlan } from '../delivery/process.ts';
import { KeyRefusedError, isRelayError } from '../errors.ts';
import { type RelayEvent, parseEvent } from '../events/index.ts';
import { resolveUserId } from '../mapping/index.ts';
import { Checkpoint, type DoneOutcome, type RetryEntry } from './checkpoint.ts';
import { buildPipeline } from '../pipeline.ts';
import { type CliConfig, mappingContextOf } from './config.ts';
import { JsonArrayError } from './json-array.ts';
import { Lanes, Pool, RateLimiter } from './pacing.ts';
import { type OutputStream, ProgressReporter, formatCount } from './progress.ts';
import {
  DEFAULT_MAX_RECORD_BYTES,
  type InputFormat,
  type RawRecord,
  countRecords,
  detectFormat,
  fingerprint,
  readRange,
  readRecords,
} from './records.ts';
import { type RelayItem, RelayPoster } from './relay-target.ts';

/**
 * `gainsight-px-relay replay <file>`: delivers an export of past events (JSON Lines or a JSON
 * array, streamed) with the relay's own validation, mapping, planning, retries and Gainsight
 * client — or posts them to a deployed relay — paced by a rate limit, resumable from a
 * checkpoint, with progress and a summary by outcome.
 */

export type ReplayTarget =
  /** Straight to Gainsight PX with the relay's client (a dry run when `config.dryRun`). */
  | { kind: 'gainsight'; config: CliConfig }
  /** To a deployed relay's `POST /events`, in batches. */
  | { kind: 'relay'; url: string; secret: string | undefined; batchSize: number };

export interface WritableOutput extends OutputStream {
  once(event: 'drain', listener: () => void): unknown;
}

export interface ReplayOptions {
  file: string;
  target: ReplayTarget;
  /** Gainsight requests per second (relay mode: events per second). */
  rate: number;
  concurrency: number;
  /** Time one event (relay mode: one batch) may spend on retries. */
  budgetMs: number;
  checkpointPath?: string;
  rejectedPath?: string;
  /** Ignore (and overwrite) an existing checkpoint. */
  restart?: boolean;
  /** Dry-run requests, one JSON object per line. */
  stdout: WritableOutput;
  /** Progress, problems, summary. */
  stderr: OutputStream;
  isTTY?: boolean;
  progressIntervalMs?: number;
  /** Stop gracefully: start nothing new, let events in flight finish, save the checkpoint. */
  signal?: AbortSignal;
  /** Stop now: abort calls in flight too (their events are retried by the next run). */
  abortSignal?: AbortSignal;
  maxRecordBytes?: number;
  checkpointIntervalMs?: number;
  /** Problems printed one by one before only the rejected file gets them; default 20. */
  maxReports?: number;
}

export type StopReason = 'end' | 'interrupted' | 'target-refused' | 'target-failing' | 'input-error';

export interface ReplayCounts {
  delivered: number;
  skipped: number;
  /** Relay mode: parked by the relay for its own redrive (answered 202). */
  queued: number;
  /** Dry run: events whose requests were printed. */
  planned: number;
  /** Gainsight (or the relay) refused the event for good. */
  rejected: number;
  /** Not JSON, not a valid event, or too large. */
  invalid: number;
  /** Still failing after the retries (Gainsight down, throttling): the next run tries again. */
  failed: number;
  /** Settled by an earlier run: not sent again. */
  alreadyDone: number;
}

export interface ReplaySummary {
  counts: ReplayCounts;
  stoppedBy: StopReason;
  message?: string;
  elapsedMs: number;
  format: InputFormat;
  checkpointPath?: string;
  rejectedPath?: string;
}

/** Retryable failures in a row after which the run stops (the target is down). */
const MAX_CONSECUTIVE_FAILURES = 10;
/** Longest raw text kept in the rejected file for a line that is not JSON. */
const MAX_REJECTED_TEXT = 10_000;

/** A validated record on its way out. */
interface Prepared {
  record: RawRecord;
  raw: unknown;
  event: RelayEvent;
  plan: Plan | undefined;
  userKey: string;
}

interface Reason {
  code: string;
  message: string;
  [detail: string]: unknown;
}

const reasonOf = (error: unknown): Reason => {
  if (!isRelayError(error)) return { code: 'internal', message: error instanceof Error ? error.message : String(error) };
  const details = error.details as { gainsightStatus?: unknown; gainsightMessage?: unknown } | undefined;
  return {
    code: error.code,
    message: error.message,
    ...(details?.gainsightStatus === undefined ? {} : { gainsightStatus: details.gainsightStatus }),
    ...(details?.gainsightMessage === undefined ? {} : { gainsightMessage: details.gainsightMessage }),
  };
};

export const exitCodeOf = (summary: ReplaySummary): number =>
  summary.stoppedBy === 'end' && summary.counts.rejected + summary.counts.invalid + summary.counts.failed === 0 ? 0 : 1;

export async function replay(options: ReplayOptions): Promise<ReplaySummary> {
  return new ReplayRun(options).run();
}

class ReplayRun {
  readonly #o: ReplayOptions;
  readonly #file: string;
  readonly #dryRun: boolean;
  readonly counts: ReplayCounts = {
    delivered: 0,
    skipped: 0,
    queued: 0,
    planned: 0,
    rejected: 0,
    invalid: 0,
    failed: 0,
    alreadyDone: 0,
  };
  readonly #stop = new AbortController();
  #stoppedBy: StopReason = 'end';
  #stopMessage: string | undefined;
  #checkpoint: Checkpoint | undefined;
  #rejectedFd: number | undefined;
  readonly #rejectedPath: string;
  #reports = 0;
  #consecutiveFailures = 0;
  #total: number | undefined;
  #offset = 0;
  #size = 0;
  #progress!: ProgressReporter;
  readonly #limiter: RateLimiter;
  readonly #lanes = new Lanes();
  readonly #pool: Pool;

  constructor(options: ReplayOptions) {
    this.#o = options;
    this.#file = resolve(options.file);
    this.#dryRun = options.target.kind === 'gainsight' && options.target.config.dryRun;
    this.#rejectedPath = resolve(options.rejectedPath ?? `${options.file}.rejected.jsonl`);
    this.#limiter = new RateLimiter(options.rate);
    // A request waits for its turn at most concurrency / rate seconds; keep that well under the
    // per-attempt timeout, so pacing never makes a call time out.
    this.#pool = new Pool(Math.max(1, Math.min(options.concurrency, Math.floor(options.rate * 2))));
  }

  #settledThisRun(): number {
    const c = this.counts;
    return c.delivered + c.skipped + c.queued + c.planned + c.rejected + c.invalid + c.failed;
  }

  /** Stops reading; the reason is kept when several arrive. */
  #halt(reason: StopReason, message?: string): void {
    if (this.#stop.signal.aborted) return;
    this.#stoppedBy = reason;
    this.#stopMessage = message;
    this.#stop.abort();
  }

  async run(): Promise<ReplaySummary> {
    const started = Date.now();
    const o = this.#o;
    this.#size = statSync(this.#file).size;
    const format = await detectFormat(this.#file);
    const checkpointPath = resolve(o.checkpointPath ?? `${o.file}.checkpoint.json`);
    if (!this.#dryRun) {
      this.#checkpoint = Checkpoint.open(
        checkpointPath,
        { path: this.#file, size: this.#size, fingerprint: await fingerprint(this.#file) },
        format,
        { restart: o.restart === true },
      );
      this.counts.alreadyDone = this.#checkpoint.settledBefore;
    }
    const onSignal = () => this.#halt('interrupted', 'interrupted: events in flight were finished and the checkpoint saved');
    o.signal?.addEventListener('abort', onSignal, { once: true });
    o.abortSignal?.addEventListener('abort', onSignal, { once: true });
    if (o.signal?.aborted || o.abortSignal?.aborted) onSignal();

    const counting = new AbortController();
    void countRecords(this.#file, format, counting.signal).then((total) => {
      this.#total = total;
    });
    this.#progress = new ProgressReporter({
      stream: o.stderr,
      ...(o.isTTY === undefined ? {} : { isTTY: o.isTTY }),
      ...(o.progressIntervalMs === undefined ? {} : { intervalMs: o.progressIntervalMs }),
      label: this.#dryRun ? 'replay (dry run)' : 'replay',
      unit: 'events',
      snapshot: () => ({
        done: this.counts.alreadyDone + this.#settledThisRun(),
        ...(this.#total === undefined ? {} : { total: this.#total }),
        ...(this.#size > 0 ? { fraction: this.#offset / this.#size } : {}),
        doneThisRun: this.#settledThisRun(),
        failures: this.counts.failed,
        rejected: this.counts.rejected + this.counts.invalid,
        counts: this.#countsForDisplay(),
      }),
    });
    this.#progress.log(this.#header(format, checkpointPath));
    const flushTimer = this.#checkpoint
      ? setInterval(() => this.#checkpoint?.flush(), o.checkpointIntervalMs ?? 5000)
      : undefined;
    flushTimer?.unref();
    this.#progress.start();

    const sink = this.#sink();
    try {
      for (const entry of this.#checkpoint?.retry ?? []) {
        if (this.#stop.signal.aborted) break;
        const text = await readRange(this.#file, entry.start, entry.end);
        const record: RawRecord = { ...entry, next: { index: entry.index + 1, offset: entry.end, line: entry.line }, text };
        await sink.accept(record);
      }
      const from = this.#checkpoint?.next;
      try {
        for await (const record of readRecords(this.#file, {
          format,
          ...(from ? { from } : {}),
          maxRecordBytes: o.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
        })) {
          if (this.#stop.signal.aborted) break;
          this.#offset = record.next.offset;
          if (this.#checkpoint?.isDone(record.index)) {
            this.#checkpoint.read(record.index, record.next);
            continue;
          }
          this.#checkpoint?.read(record.index, record.next);
          await sink.accept(record);
        }
        if (!this.#stop.signal.aborted) this.#offset = this.#size;
      } catch (error) {
        if (!(error instanceof JsonArrayError)) throw error;
        this.#halt('input-error', `${error.message} (records before it were processed; fix the file and rerun to continue)`);
      }
      await sink.finish();
    } finally {
      counting.abort();
      if (flushTimer) clearInterval(flushTimer);
      this.#progress.stop();
      if (this.#checkpoint) {
        this.#checkpoint.markEnd(this.#stoppedBy === 'end');
        this.#checkpoint.close();
      }
      if (this.#rejectedFd !== undefined) closeSync(this.#rejectedFd);
      o.signal?.removeEventListener('abort', onSignal);
      o.abortSignal?.removeEventListener('abort', onSignal);
    }
    const summary: ReplaySummary = {
      counts: { ...this.counts },
      stoppedBy: this.#stoppedBy,
      ...(this.#stopMessage === undefined ? {} : { message: this.#stopMessage }),
      elapsedMs: Date.now() - started,
      format,
      ...(this.#checkpoint ? { checkpointPath } : {}),
      ...(this.#rejectedFd !== undefined ? { rejectedPath: this.#rejectedPath } : {}),
    };
    return summary;
  }

  #header(format: InputFormat, checkpointPath: string): string {
    const o = this.#o;
    const target =
      o.target.kind === 'relay'
        ? `relay ${o.target.url} (batches of ${o.target.batchSize})`
        : o.target.config.dryRun
          ? `dry run (${o.target.config.baseUrl}, nothing is sent)`
          : `Gainsight PX ${o.target.config.baseUrl} (config from ${o.target.config.source})`;
    const resumed = this.#checkpoint && this.#checkpoint.settledBefore > 0
      ? `, resuming: ${formatCount(this.#checkpoint.settledBefore)} already done`
      : '';
    const pacing = this.#dryRun ? '' : `, ${o.rate}/s, concurrency ${this.#pool.limit}`;
    const checkpoint = this.#checkpoint ? `, checkpoint ${checkpointPath}` : '';
    return `replay ${this.#file} (${format === 'jsonl' ? 'JSON Lines' : 'JSON array'}) → ${target}${pacing}${checkpoint}${resumed}`;
  }

  #countsForDisplay(): Record<string, number> {
    const { delivered, skipped, queued, planned, rejected, invalid } = this.counts;
    return { delivered, skipped, queued, planned, rejected, invalid };
  }

  // ---- settling records ------------------------------------------------------------------

  #report(record: Pick<RawRecord, 'line'>, message: string): void {
    const max = this.#o.maxReports ?? 20;
    this.#reports += 1;
    if (this.#reports <= max) this.#progress.log(`line ${record.line}: ${message}`);
    else if (this.#reports === max + 1) {
      this.#progress.log(`… further problems are not printed${this.#dryRun ? '' : `; see ${this.#rejectedPath}`}`);
    }
  }

  #writeRejected(entry: Record<string, unknown>): void {
    if (this.#dryRun) return;
    this.#rejectedFd ??= openSync(this.#rejectedPath, 'a');
    writeSync(this.#rejectedFd, `${JSON.stringify({ ...entry, at: new Date().toISOString() })}\n`);
  }

  #settle(record: RawRecord, outcome: DoneOutcome | 'planned'): void {
    this.counts[outcome] += 1;
    if (outcome !== 'rejected' && outcome !== 'invalid') this.#consecutiveFailures = 0;
    if (outcome !== 'planned') this.#checkpoint?.settle(record.index, outcome);
  }

  #invalid(record: RawRecord, reason: Reason, raw?: unknown): void {
    this.#report(record, `invalid: ${reason.message}`);
    this.#writeRejected({
      line: record.line,
      index: record.index,
      outcome: 'invalid',
      reason,
      ...(raw !== undefined ? { event: raw } : record.text !== undefined ? { text: record.text.slice(0, MAX_REJECTED_TEXT) } : {}),
    });
    this.#settle(record, 'invalid');
  }

  #rejected(record: RawRecord, reason: Reason, raw: unknown): void {
    this.#report(record, `rejected: ${reason.message}`);
    this.#writeRejected({ line: record.line, index: record.index, outcome: 'rejected', reason, event: raw });
    this.#settle(record, 'rejected');
  }

  #failed(record: RawRecord, reason: Reason, options: { fatal?: boolean } = {}): void {
    this.counts.failed += 1;
    this.#report(record, `failed (retried by the next run): ${reason.message}`);
    const entry: RetryEntry = { index: record.index, line: record.line, start: record.start, end: record.end };
    this.#checkpoint?.fail(entry);
    if (options.fatal) {
      this.#halt('target-refused', reason.message);
      return;
    }
    this.#consecutiveFailures += 1;
    if (this.#consecutiveFailures >= MAX_CONSECUTIVE_FAILURES) {
      this.#halt('target-failing', `stopped after ${MAX_CONSECUTIVE_FAILURES} failures in a row; last: ${reason.message}`);
    }
  }

  /** JSON → event → (Gainsight mode) plan; an invalid record is settled here. */
  #prepare(record: RawRecord): Prepared | undefined {
    if (record.text === undefined) {
      this.#invalid(record, {
        code: 'record_too_large',
        message: `record larger than ${this.#o.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES} bytes`,
      });
      return undefined;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(record.text);
    } catch (error) {
      this.#invalid(record, { code: 'malformed_json', message: `not valid JSON (${(error as Error).message})` });
      return undefined;
    }
    try {
      const event = parseEvent(raw);
      const target = this.#o.target;
      const plan = target.kind === 'gainsight' ? planEvent(event, mappingContextOf(target.config)) : undefined;
      const userKey = plan?.userId ?? resolveUserId(event) ?? `#${record.index}`;
      return { record, raw, event, plan, userKey };
    } catch (error) {
      if (!isRelayError(error)) throw error;
      this.#invalid(record, reasonOf(error), raw);
      return undefined;
    }
  }

  // ---- sinks -----------------------------------------------------------------------------

  #sink(): { accept(record: RawRecord): Promise<void>; finish(): Promise<void> } {
    const target = this.#o.target;
    if (target.kind === 'relay') return this.#relaySink(target);
    if (target.config.dryRun) return this.#dryRunSink(target.config);
    return this.#gainsightSink(target.config);
  }

  #dryRunSink(config: CliConfig) {
    const stdout = this.#o.stdout;
    const deps = buildPipeline(config, { budgetMs: this.#o.budgetMs }).deps(Number.POSITIVE_INFINITY);
    return {
      accept: async (record: RawRecord) => {
        const prepared = this.#prepare(record);
        if (!prepared || !prepared.plan) return;
        const outcome = await runPlan(prepared.event, prepared.plan, deps);
        if (!outcome.ok) return;
        const line = `${JSON.stringify({ line: record.line, index: record.index, ...outcome.result })}\n`;
        this.#settle(record, outcome.result.status === 'skipped' ? 'skipped' : 'planned');
        if (!stdout.write(line)) await new Promise<void>((done) => stdout.once('drain', done));
      },
      finish: async () => {},
    };
  }

  #gainsightSink(config: CliConfig) {
    const o = this.#o;
    const hard = o.abortSignal;
    // Every attempt, retries included, waits for its turn: --rate caps what Gainsight sees.
    const pipeline = buildPipeline(config, { budgetMs: o.budgetMs, pace: () => this.#limiter.take(1, hard) });
    const settleOutcome = (prepared: Prepared, outcome: EventOutcome): void => {
      const { record } = prepared;
      if (outcome.ok) {
        this.#settle(record, outcome.result.status === 'skipped' ? 'skipped' : 'delivered');
      } else if (!outcome.error.retryable) {
        this.#rejected(record, reasonOf(outcome.error), prepared.raw);
      } else {
        this.#failed(record, reasonOf(outcome.error), { fatal: outcome.error instanceof KeyRefusedError });
      }
    };
    return {
      accept: async (record: RawRecord) => {
        const prepared = this.#prepare(record);
        if (!prepared || !prepared.plan) return;
        const plan = prepared.plan;
        await this.#pool.add(() =>
          this.#lanes.run([prepared.userKey], async () => {
            const outcome = await runPlan(prepared.event, plan, pipeline.deps(Date.now() + o.budgetMs, hard));
            settleOutcome(prepared, outcome);
          }),
        );
      },
      finish: () => this.#pool.drain(),
    };
  }

  #relaySink(target: Extract<ReplayTarget, { kind: 'relay' }>) {
    const o = this.#o;
    const poster = new RelayPoster({
      url: target.url,
      secret: target.secret,
      limiter: this.#limiter,
      budgetMs: o.budgetMs,
      ...(o.abortSignal ? { signal: o.abortSignal } : {}),
    });
    /** Requests stay well under the relay's 512 KiB body limit. */
    const MAX_BATCH_BYTES = 400 * 1024;
    let batch: (RelayItem & { prepared: Prepared })[] = [];
    let batchBytes = 0;

    const post = async (items: (RelayItem & { prepared: Prepared })[]): Promise<void> => {
      const keys = [...new Set(items.map((item) => item.prepared.userKey))];
      await this.#pool.add(() =>
        this.#lanes.run(keys, async () => {
          const outcomes = await poster.post(items);
          items.forEach((item, index) => {
            const outcome = outcomes[index];
            const record = item.prepared.record;
            if (outcome === undefined) return;
            if (outcome.kind === 'failed') this.#failed(record, outcome.reason, { fatal: outcome.fatal === true });
            else if (outcome.kind === 'rejected') this.#rejected(record, outcome.reason, item.raw);
            else this.#settle(record, outcome.kind);
          });
        }),
      );
    };
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const items = batch;
      batch = [];
      batchBytes = 0;
      await post(items);
    };
    return {
      accept: async (record: RawRecord) => {
        const prepared = this.#prepare(record);
        if (!prepared) return;
        batch.push({ raw: prepared.raw, prepared });
        batchBytes += record.text?.length ?? 0;
        if (batch.length >= target.batchSize || batchBytes >= MAX_BATCH_BYTES) await flush();
      },
      finish: async () => {
        // After a refusing or failing relay, what is still batched is left unread for the next run.
        if (this.#stoppedBy !== 'target-refused' && this.#stoppedBy !== 'target-failing') await flush();
        await this.#pool.drain();
      },
    };
  }
}

/** The final summary, one outcome per line. */
export function formatSummary(summary: ReplaySummary): string {
  const c = summary.counts;
  const rows: [string, number, string][] = [
    ['delivered', c.delivered, ''],
    ['skipped', c.skipped, 'page/screen with pageEvents off, alias'],
    ['queued', c.queued, 'parked by the relay; its redrive delivers them'],
    ['planned', c.planned, 'dry run: requests printed, nothing sent'],
    ['rejected', c.rejected, 'refused for good; see the rejected file'],
    ['invalid', c.invalid, 'not JSON or not a valid event; see the rejected file'],
    ['failed', c.failed, 'still failing after retries; rerun to try again'],
    ['already done', c.alreadyDone, 'settled by an earlier run, not sent again'],
  ];
  const width = Math.max(...rows.map(([, value]) => formatCount(value).length));
  const lines = rows
    .filter(
      ([name, value]) =>
        value > 0 || (name === 'delivered' && c.planned === 0) || (name === 'failed' && summary.stoppedBy !== 'end'),
    )
    .map(([name, value, note]) => {
      const shown = summary.rejectedPath || !note.includes('rejected file') ? note : note.replace(/; see the rejected file$/, '');
      return `  ${`${name}:`.padEnd(14)}${formatCount(value).padStart(width)}${value > 0 && shown ? `  (${shown})` : ''}`;
    });
  const seconds = (summary.elapsedMs / 1000).toFixed(1);
  const head =
    summary.stoppedBy === 'end'
      ? `replay finished in ${seconds}s`
      : `replay stopped after ${seconds}s: ${summary.message ?? summary.stoppedBy}`;
  const files = [
    summary.rejectedPath ? `rejected events: ${summary.rejectedPath}` : undefined,
    summary.checkpointPath
      ? summary.stoppedBy === 'end' && c.failed === 0
        ? `checkpoint: ${summary.checkpointPath} (complete; a rerun sends nothing again)`
        : `checkpoint: ${summary.checkpointPath} (rerun the same command to continue)`
      : undefined,
  ].filter((line): line is string => line !== undefined);
  return [head, ...lines, ...files].join('\n');
}
