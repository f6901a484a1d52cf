import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Checkpoint, CheckpointError } from '../../src/cli/checkpoint.ts';
import { tempDir } from '../support/cli.ts';

const input = { path: '/data/export.jsonl', size: 1000, fingerprint: 'abc' };
let tmp: ReturnType<typeof tempDir>;
let path: string;
beforeEach(() => {
  tmp = tempDir();
  path = join(tmp.dir, 'export.jsonl.checkpoint.json');
});
afterEach(() => tmp.cleanup());

/** Records 0..n-1 read, each 10 bytes on its own line. */
const readAll = (checkpoint: Checkpoint, from: number, to: number) => {
  for (let i = from; i < to; i += 1) checkpoint.read(i, { index: i + 1, offset: (i + 1) * 10, line: i + 2 });
};

describe('the replay checkpoint', () => {
  it('advances a contiguous prefix and keeps the records settled out of order beyond it', () => {
    const checkpoint = Checkpoint.open(path, input, 'jsonl');
    readAll(checkpoint, 0, 5);
    checkpoint.settle(0, 'delivered');
    checkpoint.settle(2, 'delivered');
    checkpoint.settle(4, 'rejected');
    expect(checkpoint.next).toEqual({ index: 1, offset: 10, line: 2 });
    checkpoint.settle(1, 'skipped');
    expect(checkpoint.next).toEqual({ index: 3, offset: 30, line: 4 });
    checkpoint.close();

    const saved = JSON.parse(readFileSync(path, 'utf8'));
    expect(saved).toMatchObject({ next: { index: 3, offset: 30, line: 4 }, done: [4], totals: { delivered: 2, skipped: 1, rejected: 1 } });
    const reopened = Checkpoint.open(path, input, 'jsonl');
    expect(reopened.isDone(3)).toBe(false);
    expect(reopened.isDone(4)).toBe(true);
    expect(reopened.settledBefore).toBe(4);
  });

  it('remembers acknowledged records of a killed run from the journal, without a snapshot', () => {
    const checkpoint = Checkpoint.open(path, input, 'jsonl');
    readAll(checkpoint, 0, 3);
    checkpoint.settle(0, 'delivered');
    checkpoint.settle(2, 'delivered');
    // No flush, no close: the process dies here.
    expect(existsSync(`${path}.journal`)).toBe(true);

    const reopened = Checkpoint.open(path, input, 'jsonl');
    expect(reopened.isDone(0)).toBe(true);
    expect(reopened.isDone(1)).toBe(false);
    expect(reopened.isDone(2)).toBe(true);
    expect(reopened.totals.delivered).toBe(2);
  });

  it('lists failed records for the next run, which removes them once settled', () => {
    const checkpoint = Checkpoint.open(path, input, 'jsonl');
    readAll(checkpoint, 0, 3);
    checkpoint.settle(0, 'delivered');
    checkpoint.fail({ index: 1, line: 2, start: 10, end: 19 });
    checkpoint.settle(2, 'delivered');
    checkpoint.markEnd(true);
    expect(checkpoint.next.index).toBe(3);
    expect(checkpoint.complete).toBe(false);
    checkpoint.close();

    const rerun = Checkpoint.open(path, input, 'jsonl');
    expect(rerun.retry).toEqual([{ index: 1, line: 2, start: 10, end: 19 }]);
    expect(rerun.isDone(1)).toBe(false);
    rerun.settle(1, 'delivered');
    rerun.markEnd(true);
    rerun.close();
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ retry: [], complete: true, totals: { delivered: 3 } });
  });

  it('refuses a checkpoint written for another file, unless restarted', () => {
    Checkpoint.open(path, input, 'jsonl').close();
    expect(() => Checkpoint.open(path, { ...input, fingerprint: 'other' }, 'jsonl')).toThrow(CheckpointError);
    expect(() => Checkpoint.open(path, { ...input, fingerprint: 'other' }, 'jsonl', { restart: true })).not.toThrow();
  });
});
