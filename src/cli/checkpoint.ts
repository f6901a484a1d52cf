import { closeSync, existsSync, fchmodSync, ftruncateSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import type { QuotaState } from './quota.ts';
import type { InputFormat, Position } from './records.ts';

/**
 * The replay's checkpoint: which objects of the input are finished, how far the current one was
 * read, which records failed and must be tried again, and the Gainsight calls made today — so a
 * rerun (or the next day's run) continues where a run stopped and never sends an acknowledged
 * event twice.
 *
 * Per object (a local file, or an S3 object), keyed by its id (path or `s3://bucket/key`), with
 * the size and ETag (a local file: SHA-256) it had when it was read:
 * - finished: every record was settled (or is listed in `retry`); a rerun skips the object;
 * - started: `next` — every record before this index is settled, with the byte offset (of the
 *   decompressed content) and line where reading resumes — and `done`, records beyond `next`
 *   settled too (concurrent deliveries finish out of order).
 * `retry` lists records whose delivery failed retryably (Gainsight down past the budget), by
 * object and byte range: a rerun reads them again and tries once more.
 *
 * An object whose size or ETag changed since is reported (`changedObjects`), never mixed: its
 * offsets and settled records describe other content.
 *
 * The snapshot is written atomically (temporary file, then rename) every few seconds, at each
 * finished object, on SIGINT/SIGTERM and at the end. Between snapshots, each acknowledged record
 * is appended to a journal (`<checkpoint>.journal`) with a synchronous write as soon as its answer
 * arrives, with the day's call count, so even a killed process (SIGKILL, a crash) forgets nothing
 * it was told was delivered; only the events in flight at that instant are ambiguous, as in any
 * at-least-once delivery. The files hold whole events' positions and the rejected file whole
 * events: all are created readable by their owner only.
 */

/** How one record was settled; `failed` records are retried by the next run. */
export type DoneOutcome = 'delivered' | 'skipped' | 'queued' | 'rejected' | 'invalid' | 'filtered';

export interface RetryEntry {
  /** The object's id. */
  object: string;
  index: number;
  line: number;
  start: number;
  end: number;
}

/** What identifies an object's content. */
export interface ObjectIdentity {
  id: string;
  size: number;
  etag: string;
}

interface ObjectEntry {
  size: number;
  etag: string;
  finished: boolean;
  /** Records in the object (finished objects). */
  records?: number;
  /** Started objects: */
  format?: InputFormat;
  next?: Position;
  done?: number[];
}

export interface CheckpointFile {
  version: 2;
  tool: 'gainsight-px-relay replay';
  /** Where the events go and which are sent (target, filters): a rerun must agree. */
  run: string;
  objects: Record<string, ObjectEntry>;
  retry: RetryEntry[];
  /** Records settled so far, over every run, by outcome. */
  totals: Record<DoneOutcome, number>;
  /** Gainsight calls of the latest UTC day a run worked on. */
  quota: QuotaState | null;
  /** True when every object was read and nothing is left to retry. */
  complete: boolean;
  updatedAt: string;
}

/** The checkpoint cannot be used for this run (another target, changed input, unreadable). */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** Files replay writes hold whole events: readable by their owner only. */
export const PRIVATE_FILE_MODE = 0o600;

/** Opens a file to append to, created (or made) readable by its owner only. */
export function openPrivate(path: string): number {
  const fd = openSync(path, 'a', PRIVATE_FILE_MODE);
  fchmodSync(fd, PRIVATE_FILE_MODE);
  return fd;
}

const OUTCOMES = ['delivered', 'skipped', 'queued', 'rejected', 'invalid', 'filtered'] as const satisfies readonly DoneOutcome[];

const emptyTotals = (): Record<DoneOutcome, number> =>
  Object.fromEntries(OUTCOMES.map((outcome) => [outcome, 0])) as Record<DoneOutcome, number>;

const retryKey = (object: string, index: number): string => `${index}\u0000${object}`;

/** The object being read: its settled prefix and what lies beyond. */
interface Active {
  id: string;
  next: Position;
  /** Settled beyond `next`. */
  done: Set<number>;
  /** Failed beyond `next`: move to `retry` when `next` passes them. */
  failedAhead: Map<number, RetryEntry>;
  /** Where reading continues after each record read but not yet passed by `next`. */
  after: Map<number, Position>;
}

export class Checkpoint {
  readonly path: string;
  readonly journalPath: string;
  readonly run: string;
  readonly #objects: Map<string, ObjectEntry>;
  readonly #retry: Map<string, RetryEntry>;
  readonly totals: Record<DoneOutcome, number>;
  #savedQuota: QuotaState | undefined;
  #quotaSource: (() => QuotaState) | undefined;
  #active: Active | undefined;
  #settledBefore = 0;
  #journal: number | undefined;
  #complete = false;

  private constructor(path: string, run: string, saved: CheckpointFile | undefined) {
    this.path = path;
    this.journalPath = `${path}.journal`;
    this.run = run;
    this.#objects = new Map(Object.entries(saved?.objects ?? {}));
    this.#retry = new Map((saved?.retry ?? []).map((entry) => [retryKey(entry.object, entry.index), entry]));
    this.totals = { ...emptyTotals(), ...(saved?.totals ?? {}) };
    this.#savedQuota = saved?.quota ?? undefined;
    this.#complete = saved?.complete ?? false;
  }

  /**
   * Opens the checkpoint, or starts a new one (`restart`, or none on disk). Entries journaled
   * after the last snapshot are folded in and a fresh snapshot is written.
   *
   * @throws CheckpointError when it cannot be read, or was written for another target or filters.
   */
  static open(path: string, run: string, options: { restart?: boolean } = {}): Checkpoint {
    const journalPath = `${path}.journal`;
    let carried: QuotaState | undefined;
    if (options.restart) {
      // Starting over does not give back the calls already made today: they stay counted.
      carried = Checkpoint.#quotaOf(path);
      rmSync(path, { force: true });
      rmSync(journalPath, { force: true });
    }
    let saved: CheckpointFile | undefined;
    if (existsSync(path)) {
      try {
        saved = JSON.parse(readFileSync(path, 'utf8')) as CheckpointFile;
      } catch (error) {
        throw new CheckpointError(`Checkpoint ${path} cannot be read (${(error as Error).message}); delete it or pass --restart`);
      }
      const version = (saved as { version?: unknown } | null)?.version;
      if (saved?.tool !== 'gainsight-px-relay replay' || (version !== 1 && version !== 2)) {
        throw new CheckpointError(`${path} is not a gainsight-px-relay replay checkpoint; pass another --checkpoint or --restart`);
      }
      if (version === 1) {
        throw new CheckpointError(
          `Checkpoint ${path} was written by an earlier version of replay (one file, fingerprinted by its first 64 KiB): ` +
            'finish that run with the earlier version, or pass --restart to start over (events already sent would be sent again)',
        );
      }
      if (saved.run !== run) {
        throw new CheckpointError(
          `Checkpoint ${path} was written for another run (${saved.run}); this one is (${run}). ` +
            'Pass another --checkpoint, or --restart to start over',
        );
      }
    }
    const checkpoint = new Checkpoint(path, run, saved);
    if (carried) checkpoint.#savedQuota = carried;
    checkpoint.#replayJournal();
    checkpoint.#settledBefore = OUTCOMES.reduce((sum, outcome) => sum + checkpoint.totals[outcome], 0);
    checkpoint.flush();
    return checkpoint;
  }

  /** The day's calls a checkpoint on disk holds (snapshot, then journal), whatever run wrote it. */
  static #quotaOf(path: string): QuotaState | undefined {
    let quota: QuotaState | undefined;
    try {
      const saved = JSON.parse(readFileSync(path, 'utf8')) as Partial<CheckpointFile>;
      if (saved.quota && typeof saved.quota.day === 'string' && typeof saved.quota.calls === 'number') quota = saved.quota;
    } catch {
      // none, or unreadable: nothing carried from the snapshot
    }
    try {
      for (const line of readFileSync(`${path}.journal`, 'utf8').split('\n')) {
        const q = (JSON.parse(line || 'null') as { q?: unknown } | null)?.q;
        if (Array.isArray(q) && typeof q[0] === 'string' && typeof q[1] === 'number') quota = { day: q[0], calls: q[1] };
      }
    } catch {
      // no journal, or a line cut short by a crash: what was read stands
    }
    return quota;
  }

  /** The day's calls as saved by earlier runs (snapshot or journal). */
  get savedQuota(): QuotaState | undefined {
    return this.#savedQuota;
  }

  /** The day's call count to save with each snapshot and journal entry. */
  set quotaSource(source: () => QuotaState) {
    this.#quotaSource = source;
  }

  /** Objects that were read (finished or started) by an earlier run and differ now: `id: why`. */
  changedObjects(objects: readonly ObjectIdentity[]): string[] {
    return objects.flatMap((object) => {
      const entry = this.#objects.get(object.id);
      if (entry === undefined || (entry.size === object.size && entry.etag === object.etag)) return [];
      const why = entry.size !== object.size ? `size ${entry.size} → ${object.size}` : `ETag ${entry.etag} → ${object.etag}`;
      return [`${object.id} (${entry.finished ? 'finished' : 'partly read'}; ${why})`];
    });
  }

  isFinished(id: string): boolean {
    return this.#objects.get(id)?.finished === true;
  }

  /** Where reading an object starts: where an earlier run left it, or its beginning. */
  resumeAt(id: string): Position {
    return { ...(this.#objects.get(id)?.next ?? { index: 0, offset: 0, line: 1 }) };
  }

  /**
   * Starts (or resumes) reading an object: returns where reading starts.
   *
   * @throws CheckpointError when the object was started with another format.
   */
  begin(object: ObjectIdentity, format: InputFormat): Position {
    const entry = this.#objects.get(object.id);
    if (entry?.format !== undefined && entry.format !== format) {
      throw new CheckpointError(`${object.id} was read as ${entry.format} and now looks like ${format}: it changed since`);
    }
    const next = entry?.next ?? { index: 0, offset: 0, line: 1 };
    this.#objects.set(object.id, { size: object.size, etag: object.etag, finished: false, format, next, done: entry?.done ?? [] });
    this.#active = { id: object.id, next: { ...next }, done: new Set(entry?.done ?? []), failedAhead: new Map(), after: new Map() };
    // On disk before any of its records is journaled: a killed run's journal must find it.
    this.flush();
    return { ...next };
  }

  /** Where streaming of the active object resumes (tests). */
  get next(): Position {
    return { ...(this.#active?.next ?? { index: 0, offset: 0, line: 1 }) };
  }

  /** Failed records of earlier runs (and of this one, once passed), to try again. */
  get retry(): RetryEntry[] {
    return [...this.#retry.values()].sort((a, b) => (a.object === b.object ? a.index - b.index : a.object < b.object ? -1 : 1));
  }

  /** Records settled by earlier runs when this one started. */
  get settledBefore(): number {
    return this.#settledBefore;
  }

  get complete(): boolean {
    return this.#complete;
  }

  #replayJournal(): void {
    if (!existsSync(this.journalPath)) return;
    for (const line of readFileSync(this.journalPath, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      let entry: { f?: unknown; i?: unknown; o?: unknown; q?: unknown };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue; // a line cut short by a crash: that record was not acknowledged
      }
      const quota = entry.q as [unknown, unknown] | undefined;
      if (Array.isArray(quota) && typeof quota[0] === 'string' && typeof quota[1] === 'number') {
        this.#savedQuota = { day: quota[0], calls: quota[1] };
      }
      if (typeof entry.f !== 'string' || typeof entry.i !== 'number' || !(OUTCOMES as readonly unknown[]).includes(entry.o)) continue;
      const object = this.#objects.get(entry.f);
      if (object && !object.finished && !this.#retry.has(retryKey(entry.f, entry.i))) {
        // A record of a started object: fold it into the object's own progress.
        const next = object.next ?? { index: 0, offset: 0, line: 1 };
        if (entry.i >= next.index && !(object.done ?? []).includes(entry.i)) {
          object.done = [...(object.done ?? []), entry.i];
          this.totals[entry.o as DoneOutcome] += 1;
        }
      } else if (this.#retry.delete(retryKey(entry.f, entry.i))) {
        this.totals[entry.o as DoneOutcome] += 1;
      }
    }
  }

  /** Marks a record settled; ignores one already settled. */
  #apply(object: string, index: number, outcome: DoneOutcome): boolean {
    const active = this.#active;
    if (active?.id === object && index >= active.next.index) {
      if (active.done.has(index)) return false;
      active.done.add(index);
      active.failedAhead.delete(index);
    } else if (!this.#retry.delete(retryKey(object, index))) return false;
    this.totals[outcome] += 1;
    return true;
  }

  /** True when an earlier run settled this record of the active object (it is skipped). */
  isDone(index: number): boolean {
    const active = this.#active;
    if (active === undefined) return false;
    return index >= active.next.index ? active.done.has(index) : !this.#retry.has(retryKey(active.id, index));
  }

  /** Notes where reading continues after a record of the active object; `next` can then pass it. */
  read(index: number, after: Position): void {
    const active = this.#active;
    if (active === undefined) return;
    if (index >= active.next.index) active.after.set(index, after);
    this.#advance();
  }

  /** Records a settled record: journaled at once (synchronously), folded into the next snapshot. */
  settle(object: string, index: number, outcome: DoneOutcome): void {
    if (!this.#apply(object, index, outcome)) return;
    this.#journal ??= openPrivate(this.journalPath);
    const quota = this.#quotaSource?.();
    writeSync(this.#journal, `${JSON.stringify({ f: object, i: index, o: outcome, ...(quota ? { q: [quota.day, quota.calls] } : {}) })}\n`);
    this.#advance();
  }

  /**
   * Journals the day's calls as they are counted (a call of a failing or unfinished event, a
   * retry), so that a killed run's calls still count against the share when the next run starts.
   */
  noteQuota(): void {
    const quota = this.#quotaSource?.();
    if (quota === undefined) return;
    this.#journal ??= openPrivate(this.journalPath);
    writeSync(this.#journal, `${JSON.stringify({ q: [quota.day, quota.calls] })}\n`);
  }

  /** Records a retryable failure: the next run tries this record again. */
  fail(entry: RetryEntry): void {
    const active = this.#active;
    if (active?.id === entry.object && entry.index >= active.next.index) {
      active.failedAhead.set(entry.index, entry);
      this.#advance();
    } else this.#retry.set(retryKey(entry.object, entry.index), entry);
  }

  #advance(): void {
    const active = this.#active;
    if (active === undefined) return;
    for (;;) {
      const index = active.next.index;
      const after = active.after.get(index);
      if (after === undefined) return;
      const failed = active.failedAhead.get(index);
      if (active.done.delete(index)) {
        // settled
      } else if (failed) {
        active.failedAhead.delete(index);
        this.#retry.set(retryKey(active.id, index), failed);
      } else return;
      active.after.delete(index);
      active.next = { index: index + 1, offset: after.offset, line: after.line };
    }
  }

  /**
   * The active object was read to its end and every record read is settled (or listed for a
   * retry): it is finished, and the snapshot is written.
   */
  finishObject(): void {
    const active = this.#active;
    if (active === undefined) return;
    this.#advance();
    const entry = this.#objects.get(active.id) as ObjectEntry;
    if (active.after.size > 0 || active.done.size > 0 || active.failedAhead.size > 0) return; // not all settled
    this.#objects.set(active.id, { size: entry.size, etag: entry.etag, finished: true, records: active.next.index });
    this.#active = undefined;
    this.flush();
  }

  /** Whether the run reached the end of the input with nothing left to retry. */
  markEnd(reachedEnd: boolean): void {
    this.#complete = reachedEnd && this.#retry.size === 0 && this.#active === undefined;
  }

  /** Writes the snapshot atomically, then empties the journal it now contains. */
  flush(): void {
    const objects: Record<string, ObjectEntry> = Object.fromEntries(this.#objects);
    const active = this.#active;
    if (active) {
      const entry = this.#objects.get(active.id) as ObjectEntry;
      objects[active.id] = { ...entry, next: active.next, done: [...active.done].sort((a, b) => a - b) };
    }
    const snapshot: CheckpointFile = {
      version: 2,
      tool: 'gainsight-px-relay replay',
      run: this.run,
      objects,
      retry: this.retry,
      totals: this.totals,
      quota: this.#quotaSource?.() ?? this.#savedQuota ?? null,
      complete: this.#complete,
      updatedAt: new Date().toISOString(),
    };
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(snapshot, null, 1)}\n`, { mode: PRIVATE_FILE_MODE });
    renameSync(temporary, this.path);
    if (this.#journal !== undefined) ftruncateSync(this.#journal, 0);
    else if (existsSync(this.journalPath)) rmSync(this.journalPath, { force: true });
  }

  /** Final snapshot; the journal is removed. */
  close(): void {
    this.flush();
    if (this.#journal !== undefined) {
      closeSync(this.#journal);
      this.#journal = undefined;
    }
    rmSync(this.journalPath, { force: true });
  }
}
