import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import type { InputFormat, Position } from './records.ts';

/**
 * The replay's checkpoint: which records of the input are settled, so that a rerun continues
 * where a run stopped and never sends an acknowledged event twice.
 *
 * - `next`: every record before this index is settled (delivered, skipped, parked by the relay,
 *   rejected, invalid — or failed and listed in `retry`), with the byte offset and line where
 *   reading resumes. A rerun seeks there instead of reading the file again.
 * - `done`: records beyond `next` that are settled too (concurrent deliveries finish out of
 *   order); a rerun skips them.
 * - `retry`: records before `next` whose delivery failed retryably (Gainsight down past the
 *   budget): a rerun reads them again by byte range and tries once more.
 *
 * The snapshot is written atomically (temporary file, then rename) every few seconds, on
 * SIGINT/SIGTERM and at the end. Between snapshots, each acknowledged record is appended to a
 * journal (`<checkpoint>.journal`) with a synchronous write as soon as its answer arrives, so
 * even a killed process (SIGKILL, a crash) forgets nothing it was told was delivered; only the
 * events in flight at that instant are ambiguous, as in any at-least-once delivery.
 */

/** How one record was settled; `failed` records are retried by the next run. */
export type DoneOutcome = 'delivered' | 'skipped' | 'queued' | 'rejected' | 'invalid';

export interface RetryEntry {
  index: number;
  line: number;
  start: number;
  end: number;
}

export interface InputIdentity {
  path: string;
  size: number;
  fingerprint: string;
}

export interface CheckpointFile {
  version: 1;
  tool: 'gainsight-px-relay replay';
  input: InputIdentity;
  format: InputFormat;
  next: Position;
  done: number[];
  retry: RetryEntry[];
  /** Records settled so far, over every run, by outcome. */
  totals: Record<DoneOutcome, number>;
  /** True when the whole file was read and nothing is left to retry. */
  complete: boolean;
  updatedAt: string;
}

/** The checkpoint cannot be used for this input (another file, unreadable). */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

const emptyTotals = (): Record<DoneOutcome, number> => ({ delivered: 0, skipped: 0, queued: 0, rejected: 0, invalid: 0 });

const OUTCOMES = new Set<string>(['delivered', 'skipped', 'queued', 'rejected', 'invalid']);

export class Checkpoint {
  readonly path: string;
  readonly journalPath: string;
  readonly input: InputIdentity;
  readonly format: InputFormat;
  #next: Position;
  /** Settled beyond `next`. */
  readonly #done: Set<number>;
  /** Failed beyond `next`: move to `retry` when `next` passes them. */
  readonly #failedAhead = new Map<number, RetryEntry>();
  readonly #retry: Map<number, RetryEntry>;
  /** Where reading continues after each record read but not yet passed by `next`. */
  readonly #after = new Map<number, Position>();
  readonly totals: Record<DoneOutcome, number>;
  #settledBefore = 0;
  #journal: number | undefined;
  #complete = false;

  private constructor(path: string, input: InputIdentity, format: InputFormat, saved: CheckpointFile | undefined) {
    this.path = path;
    this.journalPath = `${path}.journal`;
    this.input = input;
    this.format = format;
    this.#next = saved ? { ...saved.next } : { index: 0, offset: 0, line: 1 };
    this.#done = new Set(saved?.done ?? []);
    this.#retry = new Map((saved?.retry ?? []).map((entry) => [entry.index, entry]));
    this.totals = saved ? { ...emptyTotals(), ...saved.totals } : emptyTotals();
    this.#complete = saved?.complete ?? false;
  }

  /**
   * Opens the checkpoint for `input`, or starts a new one (`restart`, or none on disk). Entries
   * journaled after the last snapshot are folded in and a fresh snapshot is written.
   *
   * @throws CheckpointError when the checkpoint belongs to another file or cannot be read.
   */
  static open(path: string, input: InputIdentity, format: InputFormat, options: { restart?: boolean } = {}): Checkpoint {
    const journalPath = `${path}.journal`;
    if (options.restart) {
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
      if (saved?.version !== 1 || saved.tool !== 'gainsight-px-relay replay' || typeof saved.next?.offset !== 'number') {
        throw new CheckpointError(`${path} is not a gainsight-px-relay replay checkpoint; pass another --checkpoint or --restart`);
      }
      if (saved.input.fingerprint !== input.fingerprint || saved.format !== format || input.size < saved.next.offset) {
        throw new CheckpointError(
          `Checkpoint ${path} was written for a different file (or this file was rewritten since); ` +
            'delete it, pass --restart to start over, or --checkpoint to use another one',
        );
      }
    }
    const checkpoint = new Checkpoint(path, input, format, saved);
    checkpoint.#replayJournal();
    checkpoint.#settledBefore = checkpoint.#settledCount();
    checkpoint.flush();
    return checkpoint;
  }

  /** Where streaming resumes. */
  get next(): Position {
    return { ...this.#next };
  }

  /** Failed records of earlier runs, to try again first. */
  get retry(): RetryEntry[] {
    return [...this.#retry.values()].sort((a, b) => a.index - b.index);
  }

  /** Records settled by earlier runs when this one started. */
  get settledBefore(): number {
    return this.#settledBefore;
  }

  get complete(): boolean {
    return this.#complete;
  }

  #settledCount(): number {
    return this.#next.index - this.#retry.size + this.#done.size;
  }

  #replayJournal(): void {
    if (!existsSync(this.journalPath)) return;
    for (const line of readFileSync(this.journalPath, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      let entry: { i?: unknown; o?: unknown };
      try {
        entry = JSON.parse(line) as { i?: unknown; o?: unknown };
      } catch {
        continue; // a line cut short by a crash: that record was not acknowledged
      }
      if (typeof entry.i === 'number' && typeof entry.o === 'string' && OUTCOMES.has(entry.o)) {
        this.#apply(entry.i, entry.o as DoneOutcome);
      }
    }
  }

  /** Marks a record settled; ignores one already settled. */
  #apply(index: number, outcome: DoneOutcome): boolean {
    if (index < this.#next.index) {
      if (!this.#retry.delete(index)) return false;
    } else {
      if (this.#done.has(index)) return false;
      this.#done.add(index);
      this.#failedAhead.delete(index);
    }
    this.totals[outcome] += 1;
    return true;
  }

  /** True when an earlier run settled this record (it is skipped). */
  isDone(index: number): boolean {
    return index >= this.#next.index ? this.#done.has(index) : !this.#retry.has(index);
  }

  /** Notes where reading continues after a record just read; `next` can then pass it. */
  read(index: number, after: Position): void {
    if (index >= this.#next.index) this.#after.set(index, after);
    this.#advance();
  }

  /**
   * Records a settled record: journaled at once (synchronously), folded into the next snapshot.
   */
  settle(index: number, outcome: DoneOutcome): void {
    if (!this.#apply(index, outcome)) return;
    this.#journal ??= openSync(this.journalPath, 'a');
    writeSync(this.#journal, `${JSON.stringify({ i: index, o: outcome })}\n`);
    this.#advance();
  }

  /** Records a retryable failure: the next run tries this record again. */
  fail(entry: RetryEntry): void {
    if (entry.index < this.#next.index) {
      this.#retry.set(entry.index, entry);
      return;
    }
    this.#failedAhead.set(entry.index, entry);
    this.#advance();
  }

  #advance(): void {
    for (;;) {
      const index = this.#next.index;
      const after = this.#after.get(index);
      if (after === undefined) return;
      const failed = this.#failedAhead.get(index);
      if (this.#done.delete(index)) {
        // settled
      } else if (failed) {
        this.#failedAhead.delete(index);
        this.#retry.set(index, failed);
      } else return;
      this.#after.delete(index);
      this.#next = { index: index + 1, offset: after.offset, line: after.line };
    }
  }

  /** Whether the run reached the end of the input with nothing left to retry. */
  markEnd(reachedEnd: boolean): void {
    this.#complete = reachedEnd && this.#retry.size === 0 && this.#failedAhead.size === 0 && this.#after.size === 0;
  }

  /** Writes the snapshot atomically, then empties the journal it now contains. */
  flush(): void {
    const snapshot: CheckpointFile = {
      version: 1,
      tool: 'gainsight-px-relay replay',
      input: this.input,
      format: this.format,
      next: this.#next,
      done: [...this.#done].sort((a, b) => a - b),
      retry: this.retry,
      totals: this.totals,
      complete: this.#complete,
      updatedAt: new Date().toISOString(),
    };
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(snapshot, null, 1)}\n`);
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
