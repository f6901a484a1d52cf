import { closeSync, writeSync } from 'node:fs';
import { type Plan, planEvent } from '../delivery/plan.ts';
import { type EventOutcome, runPlan } from '../delivery/process.ts';
import { KeyRefusedError, isRelayError } from '../errors.ts';
import { type RelayEvent, parseEvent } from '../events/index.ts';
import { resolveUserId } from '../mapping/index.ts';
import { buildPipeline } from '../pipeline.ts';
import { type Checkpoint, CheckpointError, type DoneOutcome, type RetryEntry, openPrivate } from './checkpoint.ts';
import { type CliConfig, mappingContextOf } from './config.ts';
import type { EventFilter } from './filters.ts';
import { JsonArrayError } from './json-array.ts';
import { Lanes, Pool, RateLimiter } from './pacing.ts';
import { type OutputStream, ProgressReporter, type ProgressSnapshot, formatCount, progressTarget } from './progress.ts';
import { type DailyQuota, QuotaSpentError, RELAY_CALLS, planCalls } from './quota.ts';
import { DEFAULT_MAX_RECORD_BYTES, type InputFormat, type RawRecord, splitRecords } from './records.ts';
import { type RelayItem, RelayPoster } from './relay-target.ts';
import { type RunSetup, setUpRun } from './replay-setup.ts';
import type { ReplayCounts, ReplaySummary, StopReason } from './replay-summary.ts';
import type { S3Reader } from './s3.ts';
import { type InputObject, countObjectRecords, openObject, readObjectRange } from './sources.ts';

/**
 * `gainsight-px-relay replay <input>...`: delivers past events — local files, directories and
 * `s3://` prefixes of JSON Lines or JSON arrays, gzipped or not, streamed — with the relay's own
 * validation, mapping, planning, retries and Gainsight client, or posts them to a deployed relay;
 * filtered by time and type, paced by a rate and by a share of Gainsight's daily quota, resumable
 * from a checkpoint across objects and days, with progress and a summary by outcome.
 */

export type ReplayTarget =
  /** Straight to Gainsight PX with the relay's client (a dry run when `config.dryRun`). */
  | { kind: 'gainsight'; config: CliConfig }
  /** To a deployed relay's `POST /events`, in batches. */
  | { kind: 'relay'; url: string; secret: string | undefined; batchSize: number };

export interface WritableOutput extends OutputStream {
  once(event: 'drain', listener: () => void): unknown;
}

/** The share of Gainsight's daily quota a run may use (not in a dry run). */
export interface QuotaOptions {
  dailyQuota: number;
  share: number;
  /** Wait for the next UTC day when the share is spent; false: stop with a resume hint. */
  wait: boolean;
  /** Injected clock and sleep (tests cross a UTC midnight without waiting). */
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface ReplayOptions {
  /** Local files, directories, `s3://bucket/prefix`. */
  inputs: readonly string[];
  target: ReplayTarget;
  /** Gainsight requests per second (relay mode: events per second). */
  rate: number;
  concurrency: number;
  /** Time one event (relay mode: one batch) may spend on retries. */
  budgetMs: number;
  /** Required unless the input is one local file (default `<file>.checkpoint.json`) or a dry run. */
  checkpointPath?: string;
  /** Default `<file>.rejected.jsonl` for one local file, else `<checkpoint>.rejected.jsonl`. */
  rejectedPath?: string;
  /** Ignore (and overwrite) an existing checkpoint. */
  restart?: boolean;
  filter?: EventFilter;
  /** Default: 1 000 000 calls a day, half of it, waiting for the next day. */
  quota?: QuotaOptions;
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
  /** Tests: another S3 reader. */
  s3?: () => Promise<S3Reader>;
}

/** Retryable failures in a row after which the run stops (the target is down). */
const MAX_CONSECUTIVE_FAILURES = 10;
/** Longest raw text kept in the rejected file for a line that is not JSON. */
const MAX_REJECTED_TEXT = 10_000;

/** A record with the object it was read from. */
type InputRecord = RawRecord & { object: string };

interface Sink {
  accept(record: InputRecord): Promise<void>;
  /** Flushes what is batched and waits for everything in flight. */
  finish(): Promise<void>;
}

/** A validated record on its way out. */
interface Prepared {
  record: InputRecord;
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

export async function replay(options: ReplayOptions): Promise<ReplaySummary> {
  return new ReplayRun(options).run();
}

class ReplayRun {
  readonly #o: ReplayOptions;
  readonly #dryRun: boolean;
  readonly counts: ReplayCounts = {
    delivered: 0,
    skipped: 0,
    queued: 0,
    planned: 0,
    filtered: 0,
    rejected: 0,
    invalid: 0,
    failed: 0,
    alreadyDone: 0,
  };
  readonly #stop = new AbortController();
  #stoppedBy: StopReason = 'end';
  #stopMessage: string | undefined;
  #checkpoint: Checkpoint | undefined;
  #setup!: RunSetup;
  #quota: DailyQuota | undefined;
  #rejectedFd: number | undefined;
  #rejectedPath = '';
  #objects: InputObject[] = [];
  #multi = false;
  #reports = 0;
  #consecutiveFailures = 0;
  #total: number | undefined;
  /** Stored bytes of the objects finished, and of the one being read. */
  #bytesDone = 0;
  #bytesTotal = 0;
  #current: { rawBytes: number } | undefined;
  #finishedObjects = 0;
  #progress!: ProgressReporter;
  readonly #limiter: RateLimiter;
  readonly #lanes = new Lanes();
  readonly #pool: Pool;

  constructor(options: ReplayOptions) {
    this.#o = options;
    this.#dryRun = options.target.kind === 'gainsight' && options.target.config.dryRun;
    this.#limiter = new RateLimiter(options.rate);
    // A request waits for its turn at most concurrency / rate seconds; keep that well under the
    // per-attempt timeout, so pacing never makes a call time out.
    this.#pool = new Pool(Math.max(1, Math.min(options.concurrency, Math.floor(options.rate * 2))));
  }

  #settledThisRun(): number {
    const c = this.counts;
    return c.delivered + c.skipped + c.queued + c.planned + c.filtered + c.rejected + c.invalid + c.failed;
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
    const setup = await setUpRun(o, this.#dryRun);
    this.#setup = setup;
    this.#checkpoint = setup.checkpoint;
    this.#quota = setup.quota;
    this.#objects = setup.objects;
    this.#multi = setup.multi;
    this.#rejectedPath = setup.rejectedPath;
    this.counts.alreadyDone = this.#checkpoint?.settledBefore ?? 0;
    const { checkpointPath } = setup;
    const onSignal = () => this.#halt('interrupted', 'interrupted: events in flight were finished and the checkpoint saved');
    o.signal?.addEventListener('abort', onSignal, { once: true });
    o.abortSignal?.addEventListener('abort', onSignal, { once: true });
    if (o.signal?.aborted || o.abortSignal?.aborted) onSignal();

    const counting = new AbortController();
    const only = this.#objects[0];
    if (this.#objects.length === 1 && only?.path !== undefined) {
      void countObjectRecords(only, counting.signal).then((total) => {
        this.#total = total;
      });
    }
    this.#bytesTotal = this.#objects.reduce((sum, object) => sum + object.size, 0);
    this.#progress = new ProgressReporter({
      ...progressTarget(o),
      label: this.#dryRun ? 'replay (dry run)' : 'replay',
      unit: 'events',
      snapshot: () => this.#snapshot(),
    });
    this.#progress.log(this.#header(checkpointPath));
    if (setup.lock?.tookOver) this.#progress.log(`note: ${setup.lock.tookOver}`);
    const flushTimer = this.#checkpoint
      ? setInterval(() => this.#checkpoint?.flush(), o.checkpointIntervalMs ?? 5000)
      : undefined;
    flushTimer?.unref();
    this.#progress.start();

    const sink = this.#sink();
    try {
      await this.#retryEarlierFailures(sink);
      for (const object of this.#objects) {
        if (this.#stop.signal.aborted) break;
        if (this.#checkpoint?.isFinished(object.id)) {
          this.#finishedObjects += 1;
          this.#bytesDone += object.size;
          continue;
        }
        await this.#readObject(object, sink);
        await sink.finish();
        if (this.#stop.signal.aborted) break;
        this.#checkpoint?.finishObject();
        this.#finishedObjects += 1;
        this.#bytesDone += object.size;
        this.#current = undefined;
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
      await setup.close();
      if (this.#rejectedFd !== undefined) closeSync(this.#rejectedFd);
      o.signal?.removeEventListener('abort', onSignal);
      o.abortSignal?.removeEventListener('abort', onSignal);
    }
    const quota = this.#quota;
    return {
      counts: { ...this.counts },
      stoppedBy: this.#stoppedBy,
      ...(this.#stopMessage === undefined ? {} : { message: this.#stopMessage }),
      elapsedMs: Date.now() - started,
      objects: { finished: this.#finishedObjects, total: this.#objects.length },
      ...(quota ? { calls: { thisRun: quota.callsThisRun, today: quota.used, limit: quota.limit } } : {}),
      ...(checkpointPath === undefined ? {} : { checkpointPath }),
      ...(this.#rejectedFd !== undefined ? { rejectedPath: this.#rejectedPath } : {}),
    };
  }

  /** Records that failed in earlier runs, read again by byte range, first. */
  async #retryEarlierFailures(sink: Sink): Promise<void> {
    const byId = new Map(this.#objects.map((object) => [object.id, object]));
    for (const entry of this.#checkpoint?.retry ?? []) {
      if (this.#stop.signal.aborted) return;
      const object = byId.get(entry.object);
      if (object === undefined) continue; // not among this run's inputs: kept for a later run
      let text: string;
      try {
        text = await readObjectRange(object, entry.start, entry.end);
      } catch (error) {
        this.#halt('input-error', `${entry.object}: ${(error as Error).message}`);
        return;
      }
      await sink.accept({ ...entry, next: { index: entry.index + 1, offset: entry.end, line: entry.line }, text });
    }
  }

  /** Streams one object's records (from where an earlier run stopped) into the sink. */
  async #readObject(object: InputObject, sink: Sink): Promise<void> {
    const o = this.#o;
    let opened: Awaited<ReturnType<typeof openObject>> | undefined;
    try {
      opened = await openObject(object, this.#checkpoint?.resumeAt(object.id).offset ?? 0);
      const from = this.#checkpoint?.begin(object, opened.format);
      this.#current = opened;
      if (this.#multi) this.#progress.log(`${object.id} (${opened.gzip ? 'gzip, ' : ''}${this.#formatName(opened.format)})`);
      for await (const raw of splitRecords(opened.chunks, {
        format: opened.format,
        ...(from ? { from } : {}),
        maxRecordBytes: o.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
      })) {
        if (this.#stop.signal.aborted) break;
        const record: InputRecord = { ...raw, object: object.id };
        if (this.#checkpoint?.isDone(record.index)) {
          this.#checkpoint.read(record.index, record.next);
          continue;
        }
        this.#checkpoint?.read(record.index, record.next);
        await sink.accept(record);
      }
    } catch (error) {
      if (error instanceof CheckpointError) throw error;
      const message = error instanceof JsonArrayError ? error.message : `${(error as Error).message}`;
      const where = this.#multi && !message.includes(object.id) ? `${object.id}: ` : '';
      this.#halt('input-error', `${where}${message} (records before it were processed; fix the input and rerun to continue)`);
    } finally {
      opened?.close();
    }
  }

  #formatName(format: InputFormat): string {
    return format === 'jsonl' ? 'JSON Lines' : 'JSON array';
  }

  #snapshot(): ProgressSnapshot {
    const quota = this.#quota;
    const bytes = this.#bytesDone + (this.#current?.rawBytes ?? 0);
    const fraction = this.#bytesTotal > 0 ? Math.min(1, bytes / this.#bytesTotal) : undefined;
    const done = this.counts.alreadyDone + this.#settledThisRun();
    // Days left when the quota, not the rate, is the limit: calls per event so far × events left.
    const settled = this.#settledThisRun();
    const eventsLeft =
      fraction === undefined || fraction <= 0 ? undefined : this.#total !== undefined ? this.#total - done : (done * (1 - fraction)) / fraction;
    const quotaView = quota?.view(eventsLeft === undefined || settled === 0 ? undefined : eventsLeft * (quota.callsThisRun / settled));
    return {
      done,
      ...(this.#total === undefined ? {} : { total: this.#total }),
      ...(fraction === undefined ? {} : { fraction }),
      doneThisRun: this.#settledThisRun(),
      failures: this.counts.failed,
      rejected: this.counts.rejected + this.counts.invalid,
      counts: this.#countsForDisplay(),
      ...(quotaView ? { quota: quotaView } : {}),
    };
  }

  #header(checkpointPath: string | undefined): string {
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
    const checkpoint = checkpointPath ? `, checkpoint ${checkpointPath}` : '';
    const only = this.#objects[0] as InputObject;
    const what = this.#multi
      ? `${formatCount(this.#objects.length)} objects (${formatCount(this.#bytesTotal)} bytes) from ${o.inputs.join(', ')}`
      : `${only.path ?? only.id}`;
    const quota = this.#quota ? `\n  quota: ${this.#quota.describe()}` : '';
    const filter = o.filter && o.filter.description !== 'all events' ? `\n  only: ${o.filter.description}` : '';
    const format = this.#setup.singleFormat === undefined ? '' : ` (${this.#formatName(this.#setup.singleFormat)})`;
    return `replay ${what}${format} → ${target}${pacing}${checkpoint}${resumed}${quota}${filter}`;
  }

  #countsForDisplay(): Record<string, number> {
    const { delivered, skipped, queued, planned, filtered, rejected, invalid } = this.counts;
    return { delivered, skipped, queued, planned, filtered, rejected, invalid };
  }

  // ---- settling records ------------------------------------------------------------------

  #report(record: Pick<InputRecord, 'line' | 'object'>, message: string): void {
    const max = this.#o.maxReports ?? 20;
    this.#reports += 1;
    if (this.#reports <= max) this.#progress.log(`${this.#multi ? `${record.object} ` : ''}line ${record.line}: ${message}`);
    else if (this.#reports === max + 1) {
      this.#progress.log(`… further problems are not printed${this.#dryRun ? '' : `; see ${this.#rejectedPath}`}`);
    }
  }

  #writeRejected(entry: Record<string, unknown>): void {
    if (this.#dryRun) return;
    this.#rejectedFd ??= openPrivate(this.#rejectedPath);
    writeSync(this.#rejectedFd, `${JSON.stringify({ ...entry, at: new Date().toISOString() })}\n`);
  }

  #settle(record: InputRecord, outcome: DoneOutcome | 'planned'): void {
    this.counts[outcome] += 1;
    if (outcome !== 'rejected' && outcome !== 'invalid') this.#consecutiveFailures = 0;
    if (outcome !== 'planned') this.#checkpoint?.settle(record.object, record.index, outcome);
  }

  /** Where a record came from, in the rejected file (several objects: which one). */
  #origin(record: InputRecord): Record<string, unknown> {
    return { ...(this.#multi ? { object: record.object } : {}), line: record.line, index: record.index };
  }

  #invalid(record: InputRecord, reason: Reason, raw?: unknown): void {
    this.#report(record, `invalid: ${reason.message}`);
    this.#writeRejected({
      ...this.#origin(record),
      outcome: 'invalid',
      reason,
      ...(raw !== undefined ? { event: raw } : record.text !== undefined ? { text: record.text.slice(0, MAX_REJECTED_TEXT) } : {}),
    });
    this.#settle(record, 'invalid');
  }

  #rejected(record: InputRecord, reason: Reason, raw: unknown): void {
    this.#report(record, `rejected: ${reason.message}`);
    this.#writeRejected({ ...this.#origin(record), outcome: 'rejected', reason, event: raw });
    this.#settle(record, 'rejected');
  }

  #failed(record: InputRecord, reason: Reason, options: { fatal?: boolean; quota?: QuotaSpentError } = {}): void {
    this.counts.failed += 1;
    const entry: RetryEntry = { object: record.object, index: record.index, line: record.line, start: record.start, end: record.end };
    this.#checkpoint?.fail(entry);
    if (options.quota) {
      this.#quotaSpent(options.quota.resumesAt);
      return;
    }
    this.#report(record, `failed (retried by the next run): ${reason.message}`);
    if (options.fatal) {
      this.#halt('target-refused', reason.message);
      return;
    }
    this.#consecutiveFailures += 1;
    if (this.#consecutiveFailures >= MAX_CONSECUTIVE_FAILURES) {
      this.#halt('target-failing', `stopped after ${MAX_CONSECUTIVE_FAILURES} failures in a row; last: ${reason.message}`);
    }
  }

  /** The day's share is spent and the run does not wait: it stops, saying when to rerun. */
  #quotaSpent(resumesAt: number): void {
    const quota = this.#quota as DailyQuota;
    this.#halt(
      'quota-spent',
      `today's share of Gainsight calls is spent (${formatCount(Math.min(quota.limit, quota.committed))}/${formatCount(quota.limit)}, --no-wait); ` +
        `rerun the same command after ${new Date(resumesAt).toISOString().replace('.000Z', 'Z')} to continue`,
    );
  }

  /** Reserves an event's (or batch's) calls in the day's share; false when the run stops instead. */
  async #admit(calls: number): Promise<boolean> {
    const quota = this.#quota;
    if (quota === undefined || calls === 0) return true;
    if (await quota.admit(calls, this.#stop.signal)) return true;
    if (!this.#stop.signal.aborted) this.#quotaSpent(quota.renewsAt);
    return false;
  }

  /** JSON → event → filter → (Gainsight mode) plan; an invalid or filtered record is settled here. */
  #prepare(record: InputRecord): Prepared | undefined {
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
      if (this.#o.filter && !this.#o.filter.accepts(event)) {
        this.#settle(record, 'filtered');
        return undefined;
      }
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

  #sink(): Sink {
    const target = this.#o.target;
    if (target.kind === 'relay') return this.#relaySink(target);
    if (target.config.dryRun) return this.#dryRunSink(target.config);
    return this.#gainsightSink(target.config);
  }

  #dryRunSink(config: CliConfig) {
    const stdout = this.#o.stdout;
    const deps = buildPipeline(config, { budgetMs: this.#o.budgetMs }).deps(Number.POSITIVE_INFINITY);
    return {
      accept: async (record: InputRecord) => {
        const prepared = this.#prepare(record);
        if (!prepared || !prepared.plan) return;
        const outcome = await runPlan(prepared.event, prepared.plan, deps);
        if (!outcome.ok) return;
        const line = `${JSON.stringify({ ...this.#origin(record), ...outcome.result })}\n`;
        this.#settle(record, outcome.result.status === 'skipped' ? 'skipped' : 'planned');
        if (!stdout.write(line)) await new Promise<void>((done) => stdout.once('drain', done));
      },
      finish: async () => {},
    };
  }

  #gainsightSink(config: CliConfig) {
    const o = this.#o;
    const hard = o.abortSignal;
    const quota = this.#quota;
    // A wait for the next day ends on the first Ctrl-C too.
    const waitSignal = hard ? AbortSignal.any([this.#stop.signal, hard]) : this.#stop.signal;
    // Every attempt, retries included, is counted against the day's share and waits for its
    // turn: --daily-quota × --quota-share and --rate cap what Gainsight sees.
    const pace = async (): Promise<void> => {
      await quota?.spend(waitSignal);
      this.#checkpoint?.noteQuota();
      await this.#limiter.take(1, hard);
    };
    const pipeline = buildPipeline(config, { budgetMs: o.budgetMs, pace });
    const settleOutcome = (prepared: Prepared, outcome: EventOutcome): void => {
      const { record } = prepared;
      if (outcome.ok) {
        this.#settle(record, outcome.result.status === 'skipped' ? 'skipped' : 'delivered');
      } else if (!outcome.error.retryable) {
        this.#rejected(record, reasonOf(outcome.error), prepared.raw);
      } else {
        const spent = outcome.error.cause instanceof QuotaSpentError ? outcome.error.cause : undefined;
        this.#failed(record, reasonOf(outcome.error), { fatal: outcome.error instanceof KeyRefusedError, ...(spent ? { quota: spent } : {}) });
      }
    };
    return {
      accept: async (record: InputRecord) => {
        const prepared = this.#prepare(record);
        if (!prepared || !prepared.plan) return;
        const plan = prepared.plan;
        const calls = planCalls(plan);
        if (!(await this.#admit(calls))) return;
        await this.#pool.add(() =>
          this.#lanes.run([prepared.userKey], async () => {
            let attempts = 0;
            try {
              const outcome = await runPlan(prepared.event, plan, pipeline.deps(Date.now() + o.budgetMs, hard));
              attempts = outcome.ok ? (outcome.result.status === 'delivered' ? outcome.result.attempts : 0) : outcome.attempts;
              settleOutcome(prepared, outcome);
            } finally {
              quota?.release(Math.max(0, calls - attempts));
            }
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
      // A resend costs the relay Gainsight calls again (it may have made some before answering 503).
      onResend: (items) => {
        this.#quota?.count(callsOf(items as readonly (RelayItem & { prepared: Prepared })[]));
        this.#checkpoint?.noteQuota();
      },
    });
    /** Requests stay well under the relay's 512 KiB body limit. */
    const MAX_BATCH_BYTES = 400 * 1024;
    const callsOf = (items: readonly (RelayItem & { prepared: Prepared })[]): number =>
      items.reduce((sum, item) => sum + RELAY_CALLS[item.prepared.event.type], 0);
    let batch: (RelayItem & { prepared: Prepared })[] = [];
    let batchBytes = 0;
    let batchCalls = 0;

    const post = async (items: (RelayItem & { prepared: Prepared })[]): Promise<void> => {
      const keys = [...new Set(items.map((item) => item.prepared.userKey))];
      const calls = callsOf(items);
      if (!(await this.#admit(calls))) return;
      await this.#pool.add(() =>
        this.#lanes.run(keys, async () => {
          // The relay does not say how many calls it made: its most, as reserved, count.
          const outcomes = await poster.post(items).finally(() => {
            this.#quota?.count(calls);
            this.#checkpoint?.noteQuota();
          });
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
      batchCalls = 0;
      await post(items);
    };
    return {
      accept: async (record: InputRecord) => {
        const prepared = this.#prepare(record);
        if (!prepared) return;
        // A batch is admitted whole: it never needs more calls than a day's share holds.
        const calls = RELAY_CALLS[prepared.event.type];
        if (this.#quota && batchCalls + calls > this.#quota.limit) await flush();
        batch.push({ raw: prepared.raw, prepared });
        batchBytes += record.text?.length ?? 0;
        batchCalls += calls;
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
