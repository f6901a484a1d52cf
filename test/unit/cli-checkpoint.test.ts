import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Checkpoint, CheckpointError } from '../../src/cli/checkpoint.ts';
import { acquireLock, takeOver } from '../../src/cli/lock.ts';
import { tempDir } from '../support/cli.ts';

const RUN = 'Gainsight PX https://api.aptrinsic.com/v1 product AP-1 (config from environment); all events';
const object = { id: '/data/export.jsonl', size: 1000, etag: 'sha256:abc' };
const second = { id: 's3://bucket/day=2/part-0.json.gz', size: 500, etag: '"e2"' };
let tmp: ReturnType<typeof tempDir>;
let path: string;
beforeEach(() => {
  tmp = tempDir();
  path = join(tmp.dir, 'export.jsonl.checkpoint.json');
});
afterEach(() => tmp.cleanup());

/** Records from..to-1 read, each 10 bytes on its own line. */
const readAll = (checkpoint: Checkpoint, from: number, to: number) => {
  for (let i = from; i < to; i += 1) checkpoint.read(i, { index: i + 1, offset: (i + 1) * 10, line: i + 2 });
};

const open = () => Checkpoint.open(path, RUN);

/** Begins `target` in `checkpoint`, reads its first `count` records and settles them all. */
const settleAll = (checkpoint: Checkpoint, target: typeof object, count: number, outcome: 'delivered' | 'filtered' = 'delivered') => {
  checkpoint.begin(target, target === second ? 'json-array' : 'jsonl');
  readAll(checkpoint, 0, count);
  for (let i = 0; i < count; i += 1) checkpoint.settle(target.id, i, outcome);
};

describe('the replay checkpoint', () => {
  it('advances a contiguous prefix and keeps the records settled out of order beyond it', () => {
    const checkpoint = open();
    checkpoint.begin(object, 'jsonl');
    readAll(checkpoint, 0, 5);
    checkpoint.settle(object.id, 0, 'delivered');
    checkpoint.settle(object.id, 2, 'delivered');
    checkpoint.settle(object.id, 4, 'rejected');
    expect(checkpoint.next).toEqual({ index: 1, offset: 10, line: 2 });
    checkpoint.settle(object.id, 1, 'skipped');
    expect(checkpoint.next).toEqual({ index: 3, offset: 30, line: 4 });
    checkpoint.close();

    const saved = JSON.parse(readFileSync(path, 'utf8'));
    expect(saved.objects[object.id]).toMatchObject({ finished: false, next: { index: 3, offset: 30, line: 4 }, done: [4] });
    expect(saved.totals).toMatchObject({ delivered: 2, skipped: 1, rejected: 1 });
    const reopened = open();
    expect(reopened.begin(object, 'jsonl')).toEqual({ index: 3, offset: 30, line: 4 });
    expect(reopened.isDone(3)).toBe(false);
    expect(reopened.isDone(4)).toBe(true);
    expect(reopened.settledBefore).toBe(4);
  });

  it('remembers acknowledged records of a killed run from the journal, without a snapshot', () => {
    const checkpoint = open();
    checkpoint.begin(object, 'jsonl');
    readAll(checkpoint, 0, 3);
    checkpoint.settle(object.id, 0, 'delivered');
    checkpoint.settle(object.id, 2, 'delivered');
    // No flush, no close: the process dies here.
    expect(existsSync(`${path}.journal`)).toBe(true);

    const reopened = open();
    reopened.begin(object, 'jsonl');
    expect(reopened.isDone(0)).toBe(true);
    expect(reopened.isDone(1)).toBe(false);
    expect(reopened.isDone(2)).toBe(true);
    expect(reopened.totals.delivered).toBe(2);
  });

  it('lists failed records for the next run, which removes them once settled', () => {
    const checkpoint = open();
    checkpoint.begin(object, 'jsonl');
    readAll(checkpoint, 0, 3);
    checkpoint.settle(object.id, 0, 'delivered');
    checkpoint.fail({ object: object.id, index: 1, line: 2, start: 10, end: 19 });
    checkpoint.settle(object.id, 2, 'delivered');
    checkpoint.finishObject();
    checkpoint.markEnd(true);
    expect(checkpoint.isFinished(object.id)).toBe(true);
    expect(checkpoint.complete).toBe(false);
    checkpoint.close();

    const rerun = open();
    expect(rerun.retry).toEqual([{ object: object.id, index: 1, line: 2, start: 10, end: 19 }]);
    rerun.settle(object.id, 1, 'delivered');
    rerun.markEnd(true);
    rerun.close();
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ retry: [], complete: true, totals: { delivered: 3 } });
  });

  it('refuses a checkpoint written for another target or filters, unless restarted', () => {
    open().close();
    const other = 'relay https://relay.example.com/events; all events';
    expect(() => Checkpoint.open(path, other)).toThrow(/written for another run \(Gainsight PX https:\/\/api.aptrinsic.com\/v1 product AP-1/);
    expect(() => Checkpoint.open(path, `${RUN.replace('all events', 'types track')}`)).toThrow(CheckpointError);
    expect(() => Checkpoint.open(path, other, { restart: true })).not.toThrow();
  });

  it('refuses a checkpoint of the earlier single-file format with a way out', () => {
    writeFileSync(path, JSON.stringify({ version: 1, tool: 'gainsight-px-relay replay', next: { index: 3, offset: 30, line: 4 } }));
    expect(() => open()).toThrow(/earlier version of replay .* --restart/);
  });

  it('keeps finished objects across runs and reports one whose size or ETag changed since', () => {
    const checkpoint = open();
    settleAll(checkpoint, object, 2);
    checkpoint.finishObject();
    settleAll(checkpoint, second, 1, 'filtered');
    checkpoint.close();

    const rerun = open();
    expect(rerun.isFinished(object.id)).toBe(true);
    expect(rerun.isFinished(second.id)).toBe(false);
    expect(rerun.changedObjects([object, second])).toEqual([]);
    expect(rerun.changedObjects([{ ...object, etag: 'sha256:new' }, { ...second, size: 501 }])).toEqual([
      `${object.id} (finished; ETag sha256:abc → sha256:new)`,
      `${second.id} (partly read; size 500 → 501)`,
    ]);
    expect(() => rerun.begin(second, 'jsonl')).toThrow(/was read as json-array and now looks like jsonl/);
  });

  it('carries the day’s Gainsight calls in the snapshot and in each journal line', () => {
    const checkpoint = open();
    let calls = 7;
    checkpoint.quotaSource = () => ({ day: '2026-12-06', calls });
    checkpoint.begin(object, 'jsonl');
    readAll(checkpoint, 0, 1);
    calls = 9;
    checkpoint.settle(object.id, 0, 'delivered');
    // killed: only the journal knows about the last two calls
    expect(open().savedQuota).toEqual({ day: '2026-12-06', calls: 9 });
  });

  it('journals the day\'s calls as they are made, so a killed run\'s calls count when the next one opens it', () => {
    const checkpoint = open();
    let calls = 0;
    checkpoint.quotaSource = () => ({ day: '2026-12-06', calls });
    calls = 7;
    checkpoint.noteQuota();
    // killed here: no snapshot, nothing settled
    expect(open().savedQuota).toEqual({ day: '2026-12-06', calls: 7 });
  });

  it('creates the checkpoint and its journal readable by their owner only', () => {
    settleAll(open(), object, 1);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(`${path}.journal`).mode & 0o777).toBe(0o600);
  });
});

describe('the checkpoint lock', () => {
  it('refuses a second run on the same checkpoint while the first holds it, and frees it on release', () => {
    const lock = acquireLock(path);
    expect(() => acquireLock(path)).toThrow(new RegExp(`Another replay is using checkpoint .*pid ${process.pid}.*send every event twice`));
    expect(statSync(`${path}.lock`).mode & 0o777).toBe(0o600);
    lock.release();
    expect(existsSync(`${path}.lock`)).toBe(false);
    acquireLock(path).release();
  });

  it('takes over the lock of a run that no longer exists', () => {
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), startedAt: 'then' }));
    const lock = acquireLock(path);
    expect(lock.tookOver).toMatch(/took over the lock of a run that no longer exists \(pid 4206649/);
    expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('gives way when another run replaced the dead run\'s lock between our read and our takeover', () => {
    const stale = JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), startedAt: 'then' });
    // Another run took over first: the file is now its fresh lock, not the stale one we read.
    const fresh = JSON.stringify({ pid: process.pid, host: hostname(), startedAt: 'now', token: 'the-other-run' });
    writeFileSync(`${path}.lock`, fresh);

    expect(takeOver(`${path}.lock`, stale, 'our-token')).toBe(false);

    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(fresh);
    expect(readdirSync(dirname(path)).filter((name) => name.includes('.stale'))).toEqual([]);
  });

  it('takes over only the stale lock it read, and releases only its own lock', () => {
    const stale = JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), startedAt: 'then' });
    writeFileSync(`${path}.lock`, stale);
    expect(takeOver(`${path}.lock`, stale, 'our-token')).toBe(true);
    expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({ pid: process.pid, token: 'our-token' });

    const lock = acquireLock(`${path}-2`);
    writeFileSync(`${path}-2.lock`, JSON.stringify({ pid: process.pid, host: hostname(), token: 'someone-else' }));
    lock.release();
    expect(existsSync(`${path}-2.lock`)).toBe(true);
  });
});
