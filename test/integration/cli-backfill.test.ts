import { spawn } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CliConfig, loadCliConfig } from '../../src/cli/config.ts';
import { parseFilter } from '../../src/cli/filters.ts';
import { main } from '../../src/cli/main.ts';
import { replay } from '../../src/cli/replay.ts';
import { S3SourceError, s3Reader } from '../../src/cli/s3.ts';
import { Collector, identifyEvent, tempDir, trackEvent } from '../support/cli.ts';
import { type FakeGainsight, startFakeGainsight } from '../support/fake-gainsight.ts';
import { type FakeS3, startFakeS3 } from '../support/fake-s3.ts';

/**
 * Backfills from event archives (issue #16): objects listed on a loopback fake S3 with the real
 * `@aws-sdk/client-s3`, local directories, gzip, filters, the daily quota with a fake clock,
 * resuming across objects, and the safety rules of the command line.
 */

const PRODUCT_KEY = 'AP-BACKFILL-1';
const BUCKET = 'cdp-archive';
let px: FakeGainsight;
let s3: FakeS3;
let tmp: ReturnType<typeof tempDir>;
const savedEnv = { ...process.env };

const env = (extra: Record<string, string> = {}): Record<string, string | undefined> => ({
  PX_API_KEY: px.apiKey,
  PX_PRODUCT_KEY: PRODUCT_KEY,
  GAINSIGHT_PX_BASE_URL: px.baseUrl,
  ...extra,
});

const lines = (events: readonly unknown[]): string => `${events.map((event) => JSON.stringify(event)).join('\n')}\n`;
const gzLines = (events: readonly unknown[]): Buffer => gzipSync(lines(events));
const tracks = (from: number, to: number, userId?: string) =>
  Array.from({ length: to - from }, (_, i) => trackEvent(from + i, userId));

const eventNames = (): string[] => (px.customEvents as { eventName: string }[]).map((body) => body.eventName);

interface Clock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

async function run(args: string[], options: { env?: Record<string, string | undefined>; clock?: Clock } = {}) {
  const stdout = new Collector();
  const stderr = new Collector({ isTTY: false });
  const code = await main(args, {
    stdout,
    stderr,
    env: options.env ?? env(),
    progressIntervalMs: 60_000,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** The engine, without the command line's 200/s ceiling. */
async function fastReplay(inputs: string[], extra: Partial<Parameters<typeof replay>[0]> = {}) {
  const config: CliConfig = await loadCliConfig({ env: env() });
  const stderr = new Collector();
  const summary = await replay({
    inputs,
    target: { kind: 'gainsight', config },
    rate: 100_000,
    concurrency: 1,
    budgetMs: 5000,
    checkpointPath: join(tmp.dir, 'backfill.checkpoint.json'),
    stdout: new Collector(),
    stderr,
    progressIntervalMs: 40,
    ...extra,
  });
  return { summary, stderr: stderr.text };
}

/** A clock that starts at `iso` and a sleep that moves it (after a short real pause). */
function fakeClock(iso: string) {
  let now = Date.parse(iso);
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      await new Promise((resolve) => setTimeout(resolve, 150));
      now += ms;
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

beforeAll(async () => {
  px = await startFakeGainsight();
  s3 = await startFakeS3({ pageSize: 2 });
  Object.assign(process.env, {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDFAKES3',
    AWS_SECRET_ACCESS_KEY: 'fake-secret',
    AWS_ENDPOINT_URL_S3: s3.endpoint,
  });
});
afterAll(async () => {
  for (const key of ['AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_ENDPOINT_URL_S3']) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
  await Promise.all([px.close(), s3.close()]);
  tmp?.cleanup();
});
beforeEach(() => {
  px.reset();
  s3.reset();
  tmp?.cleanup();
  tmp = tempDir();
});

describe('sources', () => {
  it('lists an s3:// prefix page by page and delivers gzipped and plain objects, JSON Lines and arrays, in key order', async () => {
    s3.put(BUCKET, 'rudder/2024/05/01/a.jsonl.gz', gzLines(tracks(0, 3)));
    s3.put(BUCKET, 'rudder/2024/05/01/b.json', JSON.stringify(tracks(3, 5), null, 2));
    s3.put(BUCKET, 'rudder/2024/05/02/c', gzipSync(JSON.stringify(tracks(5, 7)))); // gzip without the name
    s3.put(BUCKET, 'rudder/2024/05/02/d.jsonl.gz', lines(tracks(7, 9))); // named .gz, plain inside
    s3.put(BUCKET, 'rudder/2024/05/03/e.jsonl', lines(tracks(9, 10)));
    s3.put(BUCKET, 'other/x.jsonl', lines(tracks(100, 101)));

    const result = await run(['replay', `s3://${BUCKET}/rudder/`, '--checkpoint', join(tmp.dir, 'cp.json')]);

    expect(result.code).toBe(0);
    expect(eventNames()).toEqual(Array.from({ length: 10 }, (_, i) => `Event ${i}`));
    const lists = s3.calls.filter((call) => call.operation === 'ListObjectsV2');
    expect(lists.map((call) => [call.query.prefix, call.query['continuation-token'] === undefined])).toEqual([
      ['rudder/', true],
      ['rudder/', false],
      ['rudder/', false],
    ]);
    const gets = s3.calls.filter((call) => call.operation === 'GetObject');
    expect(gets.map((call) => call.key)).toEqual([
      'rudder/2024/05/01/a.jsonl.gz',
      'rudder/2024/05/01/b.json',
      'rudder/2024/05/02/c',
      'rudder/2024/05/02/d.jsonl.gz',
      'rudder/2024/05/03/e.jsonl',
    ]);
    expect(gets[0]?.headers['if-match']).toBe(s3.etag(BUCKET, 'rudder/2024/05/01/a.jsonl.gz'));
    expect(gets[0]?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDFAKES3\/\d{8}\/eu-west-1\/s3\/aws4_request/);
    expect(result.stderr).toContain(`s3://${BUCKET}/rudder/2024/05/02/c (gzip, JSON array)`);
    expect(result.stderr).toContain(`s3://${BUCKET}/rudder/2024/05/02/d.jsonl.gz (JSON Lines)`);
    expect(result.stderr).toMatch(/objects: 5\/5 finished/);
  });

  it('walks local directories recursively in name order and streams .gz files through gunzip', async () => {
    const root = join(tmp.dir, 'exports');
    mkdirSync(join(root, '2024-05-02'), { recursive: true });
    mkdirSync(join(root, '2024-05-01'), { recursive: true });
    writeFileSync(join(root, '2024-05-02', 'part-0.jsonl.gz'), gzLines(tracks(4, 6)));
    writeFileSync(join(root, '2024-05-01', 'part-1.jsonl'), lines(tracks(2, 4)));
    writeFileSync(join(root, '2024-05-01', 'part-0.json.gz'), gzipSync(JSON.stringify(tracks(0, 2))));
    writeFileSync(join(root, '2024-05-01', '.DS_Store'), 'not events');

    const single = join(tmp.dir, 'extra.jsonl.gz');
    writeFileSync(single, gzLines(tracks(6, 7)));
    const { summary } = await fastReplay([root, single]);

    expect(summary.stoppedBy).toBe('end');
    expect(summary.counts).toMatchObject({ delivered: 7, invalid: 0 });
    expect(eventNames()).toEqual(Array.from({ length: 7 }, (_, i) => `Event ${i}`));
  });

  it('follows symbolic links in an input directory: a linked file is read, a linked loop entered once', async () => {
    const root = join(tmp.dir, 'linked');
    mkdirSync(join(root, 'day'), { recursive: true });
    writeFileSync(join(root, 'day', 'a.jsonl'), lines(tracks(0, 2)));
    const elsewhere = join(tmp.dir, 'elsewhere.jsonl');
    writeFileSync(elsewhere, lines(tracks(2, 4)));
    symlinkSync(elsewhere, join(root, 'day', 'b.jsonl'));
    symlinkSync(root, join(root, 'day', 'loop'));

    const { summary } = await fastReplay([root]);

    expect(summary.counts).toMatchObject({ delivered: 4, invalid: 0 });
    expect(eventNames()).toEqual(['Event 0', 'Event 1', 'Event 2', 'Event 3']);
  });

  it('names the object and S3’s error code when a read is denied, and lists nothing for an unknown bucket', async () => {
    s3.put(BUCKET, 'day=1/a.jsonl', lines(tracks(0, 2)));
    s3.put(BUCKET, 'day=2/b.jsonl', lines(tracks(2, 4)));
    s3.deny(BUCKET, 'day=2/');

    const denied = await run(['replay', `s3://${BUCKET}/day=`, '--checkpoint', join(tmp.dir, 'cp.json')]);

    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(new RegExp(`replay stopped after [\\d.]+s: cannot read s3://${BUCKET}/day=2/b.jsonl: AccessDenied \\(HTTP 403\\)`));
    expect(eventNames()).toEqual(['Event 0', 'Event 1']);

    const unknown = await run(['replay', 's3://no-such-bucket/x', '--checkpoint', join(tmp.dir, 'other.json')]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/error: cannot list s3:\/\/no-such-bucket\/x: NoSuchBucket \(HTTP 404\)/);
  });

  it('turns NoSuchKey and a changed ETag into errors naming the object', async () => {
    const etag = s3.put(BUCKET, 'k.jsonl', lines(tracks(0, 1)));
    const reader = await s3Reader();
    try {
      await expect(reader.get(BUCKET, 'gone.jsonl', { etag: '', offset: 0 })).rejects.toMatchObject({
        name: 'S3SourceError',
        code: 'NoSuchKey',
        message: expect.stringContaining(`cannot read s3://${BUCKET}/gone.jsonl: NoSuchKey (HTTP 404)`),
      });
      s3.put(BUCKET, 'k.jsonl', lines(tracks(0, 2)));
      const changed = reader.get(BUCKET, 'k.jsonl', { etag, offset: 0 });
      await expect(changed).rejects.toBeInstanceOf(S3SourceError);
      await expect(changed).rejects.toMatchObject({ code: 'PreconditionFailed', message: expect.stringContaining('changed since it was listed') });
    } finally {
      reader.close();
    }
  });
});

describe('filters', () => {
  it('sends only the events in the --since/--until window and of the --types, counting the rest as filtered', async () => {
    const at = (iso: string, event: object) => ({ ...event, timestamp: iso });
    const file = join(tmp.dir, 'window.jsonl');
    writeFileSync(
      file,
      lines([
        at('2024-04-30T23:59:59Z', trackEvent(0)),
        at('2024-05-01T00:00:00Z', trackEvent(1)),
        { ...trackEvent(2), timestamp: undefined, originalTimestamp: '2024-05-15T10:00:00Z' },
        at('2024-05-20T00:00:00Z', identifyEvent('u-window')),
        at('2024-06-01T00:00:00Z', trackEvent(3)),
        { ...trackEvent(4), timestamp: undefined },
      ]),
    );

    const result = await run(['replay', file, '--since', '2024-05-01', '--until', '2024-06-01', '--types', 'track,group']);

    expect(result.code).toBe(0);
    expect(eventNames()).toEqual(['Event 1', 'Event 2']);
    expect(px.users.size).toBe(0);
    expect(result.stderr).toMatch(/delivered: +2\n {2}filtered: +4 +\(left out by --since \/ --until \/ --types\)/);
    expect(result.stderr).toContain('only: since 2024-05-01T00:00:00.000Z, until 2024-06-01T00:00:00.000Z, types group,track');

    const wider = await run(['replay', file, '--types', 'track']);
    expect(wider.code).toBe(2);
    expect(wider.stderr).toMatch(/was written for another run .*types group,track.*; this one is .*types track\)/);
  });

  it.each([
    [['--since', 'yesterday'], /--since must be an ISO 8601 date or time/],
    [['--types', 'track,purchase'], /--types takes a comma-separated list of identify, group, track, page, screen, alias/],
    [['--since', '2024-06-01', '--until', '2024-05-01'], /--until must be later than --since/],
  ])('refuses a malformed filter: %j', async (args, message) => {
    const file = join(tmp.dir, 'f.jsonl');
    writeFileSync(file, lines(tracks(0, 1)));
    const result = await run(['replay', file, ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(px.requests).toHaveLength(0);
  });

  it('leaves out events without a usable time when a time filter is set', () => {
    const filter = parseFilter({ since: '2024-05-01T12:00:00+02:00' });
    expect(filter.since).toBe(Date.parse('2024-05-01T10:00:00Z'));
    expect(filter.accepts({ type: 'track', userId: 'u', event: 'x', timestamp: '2024-05-01T10:00:00Z' } as never)).toBe(true);
    expect(filter.accepts({ type: 'track', userId: 'u', event: 'x', timestamp: '2024-05-01T09:59:59Z' } as never)).toBe(false);
    expect(filter.accepts({ type: 'track', userId: 'u', event: 'x' } as never)).toBe(false);
  });
});

describe('quota-aware pacing', () => {
  it('counts Gainsight calls, not events, and waits for the next UTC day when the share is spent', async () => {
    const clock = fakeClock('2026-12-06T23:00:00Z');
    const file = join(tmp.dir, 'quota.jsonl');
    // 3 new users: 2 calls each (PUT answered 404, then POST); 8 custom events: 1 call each.
    writeFileSync(file, lines([identifyEvent('q1'), identifyEvent('q2'), identifyEvent('q3'), ...tracks(0, 8, 'q1')]));

    const { summary, stderr } = await fastReplay([file], { quota: { dailyQuota: 100, share: 0.1, wait: true, now: clock.now, sleep: clock.sleep } });

    expect(summary.stoppedBy).toBe('end');
    expect(px.requests).toHaveLength(14);
    expect(clock.sleeps).toEqual([3_600_000]);
    expect(summary.calls).toEqual({ thisRun: 14, today: 4, limit: 10 });
    expect(stderr).toMatch(/calls today 10\/10, daily share spent, resumes 2026-12-07 00:00 UTC \(in 1h00m\)/);
    const checkpoint = JSON.parse(readFileSync(join(tmp.dir, 'backfill.checkpoint.json'), 'utf8'));
    expect(checkpoint.quota).toEqual({ day: '2026-12-07', calls: 4 });
  });

  it('counts the calls of an earlier run the same day, and stops with a resume hint under --no-wait', async () => {
    const clock = fakeClock('2026-12-06T10:00:00Z');
    const root = join(tmp.dir, 'in');
    mkdirSync(root);
    writeFileSync(join(root, 'a.jsonl'), lines(tracks(0, 6)));
    const checkpoint = join(tmp.dir, 'cp.json');
    const args = ['replay', root, '--checkpoint', checkpoint, '--daily-quota', '100', '--quota-share', '0.1', '--no-wait', '--rate', '200'];

    const first = await run(args, { clock });
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/quota: 10 Gainsight calls per UTC day \(10% of 100\), 0 used today, --no-wait/);

    writeFileSync(join(root, 'b.jsonl'), lines(tracks(6, 12)));
    clock.advance(3_600_000);
    const second = await run(args, { clock });

    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/quota: 10 Gainsight calls per UTC day \(10% of 100\), 6 used today/);
    expect(eventNames()).toEqual(Array.from({ length: 10 }, (_, i) => `Event ${i}`));
    expect(second.stderr).toMatch(
      /replay stopped after [\d.]+s: today's share of Gainsight calls is spent \(10\/10, --no-wait\); rerun the same command after 2026-12-07T00:00:00Z to continue/,
    );
    expect(clock.sleeps).toEqual([]);

    clock.advance(14 * 3_600_000); // the next day
    const third = await run(args, { clock });
    expect(third.code).toBe(0);
    expect(eventNames()).toEqual(Array.from({ length: 12 }, (_, i) => `Event ${i}`));
  });
  it('counts a deployed relay’s calls by their most per event type (identify 2, track 1)', async () => {
    const clock = fakeClock('2026-12-06T10:00:00Z');
    const file = join(tmp.dir, 'relay.jsonl');
    writeFileSync(file, lines([identifyEvent('r1'), identifyEvent('r2'), identifyEvent('r3'), ...tracks(0, 8)]));
    const posted: unknown[] = [];
    const { startLoopbackServer, sendJson } = await import('../support/http.ts');
    const relay = await startLoopbackServer((_req, res, raw) => {
      const events = JSON.parse(raw) as unknown[];
      posted.push(...events);
      sendJson(res, 200, { results: events.map(() => ({ status: 'delivered' })) });
    });
    try {
      const args = ['replay', file, '--url', relay.origin, '--batch-size', '1', '--concurrency', '1', '--daily-quota', '100', '--quota-share', '0.1', '--no-wait'];
      const result = await run(args, { env: { WEBHOOK_SECRET: 's' }, clock });
      expect(result.code).toBe(1);
      expect(posted).toHaveLength(7); // 3 × 2 + 4 × 1 = 10 calls
      expect(result.stderr).toMatch(/today's share of Gainsight calls is spent \(10\/10, --no-wait\)/);
    } finally {
      await relay.close();
    }
  });

  it('keeps the day\'s calls across --restart: starting over does not give the share back', async () => {
    const clock = fakeClock('2026-12-06T10:00:00Z');
    const file = join(tmp.dir, 'restart.jsonl');
    writeFileSync(file, lines(tracks(0, 14)));
    const args = ['replay', file, '--daily-quota', '100', '--quota-share', '0.1', '--no-wait', '--rate', '200'];

    const first = await run(args, { clock });
    expect(first.code).toBe(1);
    expect(px.requests).toHaveLength(10);

    const restarted = await run([...args, '--restart'], { clock });

    expect(restarted.code).toBe(1);
    expect(restarted.stderr).toMatch(/10 used today/);
    expect(px.requests).toHaveLength(10);
  });

  it('through a relay, sizes batches to the day\'s share and counts every resend', async () => {
    const clock = fakeClock('2026-12-06T10:00:00Z');
    const file = join(tmp.dir, 'relay-batches.jsonl');
    writeFileSync(file, lines(tracks(0, 20)));
    const batches: number[] = [];
    let refusals = 0;
    const { startLoopbackServer, sendJson } = await import('../support/http.ts');
    const relay = await startLoopbackServer((_req, res, raw) => {
      const events = JSON.parse(raw) as unknown[];
      // The first post is answered 503 once: the relay may have spent calls on it already.
      if (refusals++ === 0) return sendJson(res, 503, { error: { code: 'upstream_unavailable', message: 'down' } }, { 'retry-after': '0' });
      batches.push(events.length);
      sendJson(res, 200, { results: events.map(() => ({ status: 'delivered' })) });
    });
    try {
      const args = ['replay', file, '--url', relay.origin, '--concurrency', '1', '--daily-quota', '100', '--quota-share', '0.1', '--no-wait'];
      const result = await run(args, { env: { WEBHOOK_SECRET: 's' }, clock });

      // Batches of at most the share (10 calls), not the default 50, so the first one can start;
      // its resend after the 503 counts 10 more calls, and the share is spent after it.
      expect(batches).toEqual([10]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/Gainsight calls: 20 this run/);
    } finally {
      await relay.close();
    }
  });
});

describe('resuming across objects', () => {
  it('resumes a plain S3 object with a ranged GET and a gzipped one by inflating it again, sending nothing twice', async () => {
    s3.put(BUCKET, 'p/1.jsonl', lines(tracks(0, 40)));
    s3.put(BUCKET, 'p/2.jsonl.gz', gzLines(tracks(40, 80)));
    const stopAt = async (count: number) => {
      const stop = new AbortController();
      const watch = setInterval(() => {
        if (px.customEvents.length >= count) stop.abort();
      }, 1);
      const result = await fastReplay([`s3://${BUCKET}/p/`], { rate: 400, signal: stop.signal });
      clearInterval(watch);
      return result;
    };

    const first = await stopAt(20);
    expect(first.summary.stoppedBy).toBe('interrupted');
    const sentFirst = px.customEvents.length;
    expect(sentFirst).toBeLessThan(40);
    const second = await stopAt(60);
    expect(second.summary.stoppedBy).toBe('interrupted');
    const third = await fastReplay([`s3://${BUCKET}/p/`]);

    expect(third.summary.stoppedBy).toBe('end');
    expect(eventNames()).toEqual(Array.from({ length: 80 }, (_, i) => `Event ${i}`));
    const gets = s3.calls.filter((call) => call.operation === 'GetObject');
    // run 2: 1.jsonl again from the first unsent byte (after the head used to detect the format)
    const ranged = gets.filter((call) => call.headers.range !== undefined);
    expect(ranged.map((call) => call.key)).toEqual(['p/1.jsonl']);
    // run 1 read it once; run 2 read its head (gzip? format?) and then the rest; run 3 not at all
    expect(gets.filter((call) => call.key === 'p/1.jsonl')).toHaveLength(3);
    const offset = Number(/bytes=(\d+)-/.exec(ranged[0]?.headers.range ?? '')?.[1]);
    expect(offset).toBe(Buffer.byteLength(lines(tracks(0, sentFirst))));
    // run 3: 1.jsonl is finished and not read again; 2.jsonl.gz is inflated from its start
    expect(third.summary.counts).toMatchObject({ alreadyDone: px.customEvents.length - third.summary.counts.delivered });
    expect(gets.at(-1)).toMatchObject({ key: 'p/2.jsonl.gz' });
    expect(gets.at(-1)?.headers.range).toBeUndefined();
  });

  it('resumes after the process was killed (SIGKILL) in the middle of a gzipped object, from the journal', async () => {
    s3.put(BUCKET, 'k/1.jsonl.gz', gzLines(tracks(0, 50)));
    s3.put(BUCKET, 'k/2.jsonl.gz', gzLines(tracks(50, 250)));
    const checkpoint = join(tmp.dir, 'kill.checkpoint.json');
    const bin = join(import.meta.dirname, '../../bin/gainsight-px-relay.mjs');
    const child = spawn(process.execPath, [bin, 'replay', `s3://${BUCKET}/k/`, '--checkpoint', checkpoint, '--rate', '100', '--concurrency', '1'], {
      env: { ...process.env, ...env() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const watch = setInterval(() => {
      if (px.customEvents.length >= 120) {
        clearInterval(watch);
        child.kill('SIGKILL');
      }
    }, 2);
    expect(await exited).toBe('SIGKILL');
    clearInterval(watch);
    const sentBeforeKill = px.customEvents.length;
    expect(sentBeforeKill).toBeGreaterThanOrEqual(120);
    expect(sentBeforeKill).toBeLessThan(250);

    const rest = await fastReplay([`s3://${BUCKET}/k/`], { checkpointPath: checkpoint });

    expect(rest.summary.stoppedBy).toBe('end');
    const names = eventNames();
    expect(new Set(names).size).toBe(250);
    // Only an event in flight at the kill (concurrency 1: at most one) may have been sent again.
    expect(names.length - 250).toBeLessThanOrEqual(1);
    expect(rest.summary.counts.alreadyDone + rest.summary.counts.delivered).toBeGreaterThanOrEqual(250);
    expect(s3.calls.filter((call) => call.operation === 'GetObject' && call.key === 'k/1.jsonl.gz')).toHaveLength(1);
  }, 30_000);

  it('reports an object that changed since it was read, and sends nothing', async () => {
    s3.put(BUCKET, 'c/1.jsonl', lines(tracks(0, 3)));
    s3.put(BUCKET, 'c/2.jsonl', lines(tracks(3, 6)));
    const checkpoint = join(tmp.dir, 'c.json');
    expect((await run(['replay', `s3://${BUCKET}/c/`, '--checkpoint', checkpoint])).code).toBe(0);
    s3.put(BUCKET, 'c/1.jsonl', lines(tracks(0, 4)));
    s3.put(BUCKET, 'c/3.jsonl', lines(tracks(6, 7)));
    px.reset();

    const rerun = await run(['replay', `s3://${BUCKET}/c/`, '--checkpoint', checkpoint]);

    expect(rerun.code).toBe(2);
    expect(rerun.stderr).toMatch(new RegExp(`Input changed since an earlier run read it: s3://${BUCKET}/c/1.jsonl \\(finished; size \\d+ → \\d+\\)`));
    expect(px.requests).toHaveLength(0);
  });
});

describe('a command line that cannot hurt its user', () => {
  it('refuses a checkpoint or rejected file that is an input, lies in an input directory, or is the other file', async () => {
    const file = join(tmp.dir, 'export.jsonl');
    const text = lines(tracks(0, 2));
    writeFileSync(file, text);
    mkdirSync(join(tmp.dir, 'dir'));
    writeFileSync(join(tmp.dir, 'dir', 'a.jsonl'), text);

    const cases: [string[], RegExp][] = [
      [[file, '--checkpoint', file], /--checkpoint .*export.jsonl is an input file: replay would overwrite the events it reads/],
      [[file, '--rejected', join(tmp.dir, '.', 'export.jsonl')], /--rejected .*export.jsonl is an input file/],
      [[join(tmp.dir, 'dir'), '--checkpoint', join(tmp.dir, 'dir', 'cp.json')], /--checkpoint .*cp.json lies inside the input directory/],
      [[file, '--checkpoint', join(tmp.dir, 'same.json'), '--rejected', join(tmp.dir, 'same.json')], /--rejected .*same.json is the checkpoint's own file/],
      [[file, '--checkpoint', join(tmp.dir, 'cp.json'), '--rejected', join(tmp.dir, 'cp.json.journal')], /--rejected .*cp.json.journal is the checkpoint's own file/],
      // The same file under another name (a hard link), and a link to a file not yet there inside the input directory.
      [[file, '--checkpoint', join(tmp.dir, 'cp2.json'), '--rejected', join(tmp.dir, 'alias.jsonl')], /--rejected .*alias.jsonl is an input file/],
      [[join(tmp.dir, 'dir'), '--checkpoint', join(tmp.dir, 'cp3.json'), '--rejected', join(tmp.dir, 'dangling.jsonl')], /--rejected .*dangling.jsonl lies inside the input directory/],
    ];
    linkSync(file, join(tmp.dir, 'alias.jsonl'));
    symlinkSync(join(tmp.dir, 'dir', 'not-yet.jsonl'), join(tmp.dir, 'dangling.jsonl'));
    for (const [args, message] of cases) {
      const result = await run(['replay', ...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(existsSync(join(tmp.dir, 'dir', 'not-yet.jsonl'))).toBe(false);
    expect(px.requests).toHaveLength(0);
  });

  it('fingerprints the whole file: a re-export with the same first 64 KiB is reported, not skipped', async () => {
    const file = join(tmp.dir, 'big.jsonl');
    const head = lines(tracks(0, 600, 'same-user')); // well over 64 KiB
    expect(Buffer.byteLength(head)).toBeGreaterThan(64 * 1024);
    writeFileSync(file, head);
    const first = await run(['replay', file, '--rate', '200'], {});
    expect(first.code).toBe(0);
    writeFileSync(file, head + lines(tracks(600, 610, 'same-user')));

    const rerun = await run(['replay', file]);

    expect(rerun.code).toBe(2);
    expect(rerun.stderr).toMatch(/Input changed since an earlier run read it: .*big.jsonl \(finished; size \d+ → \d+\)/);
  }, 20_000);

  it('ties the checkpoint to the target: a run for another product key is refused', async () => {
    const file = join(tmp.dir, 't.jsonl');
    writeFileSync(file, lines(tracks(0, 1)));
    expect((await run(['replay', file])).code).toBe(0);
    const other = await run(['replay', file], { env: env({ PX_PRODUCT_KEY: 'AP-OTHER-2' }) });
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/was written for another run \(Gainsight PX .* product AP-BACKFILL-1 .*\); this one is \(Gainsight PX .* product AP-OTHER-2/);
  });

  it('stops a second run on the same checkpoint while the first is running', async () => {
    const file = join(tmp.dir, 'locked.jsonl');
    writeFileSync(file, lines(tracks(0, 40)));
    const stop = new AbortController();
    const first = fastReplay([file], { rate: 50, signal: stop.signal, checkpointPath: `${file}.checkpoint.json` });
    await new Promise((resolve) => setTimeout(resolve, 200));

    const second = await run(['replay', file]);
    stop.abort();
    await first;

    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(new RegExp(`Another replay is using checkpoint .*locked.jsonl.checkpoint.json \\(pid ${process.pid} `));
    expect(new Set(eventNames()).size).toBe(eventNames().length);
  });

  it('refuses --secret on the command line and a cleartext --url, and reads --secret-file', async () => {
    const file = join(tmp.dir, 's.jsonl');
    writeFileSync(file, lines(tracks(0, 2)));
    const onCommandLine = await run(['replay', file, '--url', 'https://relay.example.com', '--secret', 'hunter2']);
    expect(onCommandLine.code).toBe(2);
    expect(onCommandLine.stderr).toMatch(/--secret is no longer accepted: a secret on the command line is visible to every user of this machine .*Set WEBHOOK_SECRET .*--secret-file <path>/);
    const cleartext = await run(['replay', file, '--url', 'http://relay.example.com']);
    expect(cleartext.code).toBe(2);
    expect(cleartext.stderr).toMatch(/--url must be https:\/\/ \(http:\/\/ only for a loopback host\)/);

    const seen: string[] = [];
    const { startLoopbackServer, sendJson } = await import('../support/http.ts');
    const relay = await startLoopbackServer((req, res, raw) => {
      seen.push(req.headers.authorization ?? '');
      const events = JSON.parse(raw) as unknown[];
      sendJson(res, 200, { results: events.map(() => ({ status: 'delivered' })) });
    });
    try {
      const secretFile = join(tmp.dir, 'secret');
      writeFileSync(secretFile, 'from-the-file\n', { mode: 0o600 });
      const result = await run(['replay', file, '--url', relay.origin, '--secret-file', secretFile], { env: {} });
      expect(result.code).toBe(0);
      expect(seen).toEqual(['Bearer from-the-file']);
      expect(result.stderr).not.toContain('warning');
    } finally {
      await relay.close();
    }
  });

  it('creates the rejected file readable by its owner only', async () => {
    const file = join(tmp.dir, 'r.jsonl');
    writeFileSync(file, '{"not json\n');
    const result = await run(['replay', file]);
    expect(result.code).toBe(1);
    expect(statSync(`${file}.rejected.jsonl`).mode & 0o777).toBe(0o600);
    expect(statSync(`${file}.checkpoint.json`).mode & 0o777).toBe(0o600);
  });

  it('needs --checkpoint for a directory or s3:// input (unless a dry run)', async () => {
    s3.put(BUCKET, 'n/1.jsonl', lines(tracks(0, 1)));
    const result = await run(['replay', `s3://${BUCKET}/n/`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('needs --checkpoint <path>');
    const dry = await run(['replay', `s3://${BUCKET}/n/`, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout.trim())).toMatchObject({ object: `s3://${BUCKET}/n/1.jsonl`, line: 1, status: 'dry-run' });
  });
});
