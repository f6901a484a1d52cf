import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CliConfig, loadCliConfig } from '../../src/cli/config.ts';
import { main } from '../../src/cli/main.ts';
import { replay } from '../../src/cli/replay.ts';
import { type FakeGainsight, startFakeGainsight } from '../support/fake-gainsight.ts';
import { type FakeSsm, startFakeSsm } from '../support/fake-ssm.ts';
import { Collector, TIME, identifyEvent, tempDir, trackEvent, writeJsonArray, writeJsonLines } from '../support/cli.ts';

/**
 * `gainsight-px-relay replay` against the loopback fake Gainsight PX: the real mapping, planning,
 * retries and client, through the command's own entry point (or its engine, for runs faster than
 * the command line's 200/s ceiling allows).
 */

const PRODUCT_KEY = 'AP-CLI-1';
let px: FakeGainsight;
let tmp: ReturnType<typeof tempDir>;

const env = (extra: Record<string, string> = {}): Record<string, string | undefined> => ({
  PX_API_KEY: px.apiKey,
  PX_PRODUCT_KEY: PRODUCT_KEY,
  GAINSIGHT_PX_BASE_URL: px.baseUrl,
  ...extra,
});

async function run(args: string[], options: { env?: Record<string, string | undefined>; isTTY?: boolean; progressIntervalMs?: number } = {}) {
  const stdout = new Collector();
  const stderr = new Collector({ isTTY: options.isTTY ?? false });
  const started = performance.now();
  const code = await main(args, {
    stdout,
    stderr,
    env: options.env ?? env(),
    ...(options.progressIntervalMs === undefined ? {} : { progressIntervalMs: options.progressIntervalMs }),
  });
  return { code, stdout: stdout.text, stderr: stderr.text, ms: performance.now() - started, lines: () => stdout.jsonLines() };
}

/** The engine without the command line's rate ceiling (tests move thousands of events). */
async function fastReplay(file: string, extra: Partial<Parameters<typeof replay>[0]> = {}) {
  const config: CliConfig = await loadCliConfig({ env: env() });
  const stderr = new Collector();
  const summary = await replay({
    inputs: [file],
    target: { kind: 'gainsight', config },
    rate: 100_000,
    concurrency: 32,
    budgetMs: 5000,
    stdout: new Collector(),
    stderr,
    ...extra,
  });
  return { summary, stderr: stderr.text };
}

const customEventNames = (): string[] => (px.customEvents as { eventName: string }[]).map((body) => body.eventName);

beforeAll(async () => {
  px = await startFakeGainsight();
});
afterAll(() => px.close());
beforeEach(() => {
  px.reset();
  tmp?.cleanup();
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

describe('replaying a file', () => {
  it('delivers a 10 000-event JSON Lines file with the right Gainsight calls', async () => {
    const users = Array.from({ length: 50 }, (_, i) => `u${i}`);
    const lines = [...users.map(identifyEvent), ...Array.from({ length: 9950 }, (_, i) => trackEvent(i))];
    const file = writeJsonLines(join(tmp.dir, 'history.jsonl'), lines);

    const { summary } = await fastReplay(file);

    expect(summary.stoppedBy).toBe('end');
    expect(summary.counts).toMatchObject({ delivered: 10_000, rejected: 0, invalid: 0, failed: 0 });
    const calls = px.calls();
    expect(calls.filter((c) => c === 'POST /events/custom')).toHaveLength(9950);
    expect(calls.filter((c) => c.startsWith('PUT /users/'))).toHaveLength(50);
    expect(calls.filter((c) => c === 'POST /users')).toHaveLength(50);
    expect(calls).toHaveLength(9950 + 100);
    expect(new Set(customEventNames()).size).toBe(9950);
    expect(px.users.get('u7')).toMatchObject({ identifyId: 'u7', email: 'u7@example.test', firstName: 'Ada', lastName: 'Lovelace', propertyKeys: [PRODUCT_KEY] });
    for (const index of [0, 1234, 9949]) {
      expect(px.customEvents.find((body) => (body as { eventName: string }).eventName === `Event ${index}`)).toEqual({
        eventName: `Event ${index}`,
        identifyId: `u${index % 50}`,
        date: Date.parse(TIME),
        attributes: { n: index, nested: '{"a":[1,2]}' },
        propertyKey: PRODUCT_KEY,
        userType: 'USER',
      });
    }
    const checkpoint = JSON.parse(readFileSync(`${file}.checkpoint.json`, 'utf8'));
    expect(checkpoint).toMatchObject({ complete: true, objects: { [file]: { finished: true, records: 10_000 } }, retry: [] });
  });

  it('keeps one user’s events in file order while users run in parallel', async () => {
    const file = writeJsonLines(join(tmp.dir, 'order.jsonl'), [
      identifyEvent('solo'),
      { type: 'group', userId: 'solo', groupId: 'acme', traits: { name: 'Acme' }, timestamp: TIME },
      ...Array.from({ length: 20 }, (_, i) => trackEvent(i, 'solo')),
    ]);
    await fastReplay(file);
    expect(px.calls().slice(0, 2)).toEqual(['PUT /users/solo', 'POST /users']);
    expect(customEventNames()).toEqual(Array.from({ length: 20 }, (_, i) => `Event ${i}`));
    expect(px.users.get('solo')).toMatchObject({ accountId: 'acme' });
  });

  it('holds the rate: 200 events at --rate 100 take at least 1.9 s, with plain progress lines off a terminal', async () => {
    const file = writeJsonLines(join(tmp.dir, 'rate.jsonl'), Array.from({ length: 200 }, (_, i) => trackEvent(i)));

    const result = await run(['replay', file, '--rate', '100'], { progressIntervalMs: 400 });

    expect(result.code).toBe(0);
    expect(px.customEvents).toHaveLength(200);
    expect(result.ms).toBeGreaterThanOrEqual(1900);
    expect(result.ms).toBeLessThan(4000);
    const progress = result.stderr.split('\n').filter((line) => line.startsWith('replay: '));
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress[1]).toMatch(/^replay: \d+\/200 events \(\d+%\), \d+\.\d\/s, calls today \d+\/500000, ETA \S+, failed 0, delivered \d+$/);
    expect(result.stderr).not.toContain('\r');
    expect(result.stderr).toMatch(/replay finished in \d+\.\ds\n {2}delivered: +200\n/);
  });

  it('draws a single-line progress bar in place on a terminal', async () => {
    const file = writeJsonLines(join(tmp.dir, 'tty.jsonl'), Array.from({ length: 30 }, (_, i) => trackEvent(i)));
    const result = await run(['replay', file, '--rate', '50'], { isTTY: true });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('\r\x1b[2Kreplay [');
    expect(result.stderr).toMatch(/\r\x1b\[2Kreplay \[█+\] 100% 30\/30 events · [\d.]+\/s · calls today 30\/500,000 · ETA 0s · 0 failed\n/);
  });

  it('refuses a rate above Gainsight’s 200/s, with exit code 2', async () => {
    const file = writeJsonLines(join(tmp.dir, 'x.jsonl'), [trackEvent(1)]);
    const result = await run(['replay', file, '--rate', '250']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--rate 250 is above Gainsight PX's limit of about 200 requests per second/);
    expect(px.requests).toHaveLength(0);
  });

  it('reports bad lines with their line numbers, writes them to the rejected file and goes on', async () => {
    const file = writeJsonLines(join(tmp.dir, 'bad.jsonl'), [
      trackEvent(1),
      '{"type":"track", oops}',
      '',
      { type: 'shout', userId: 'u1' },
      { type: 'track', event: 'No user' },
      trackEvent(2),
    ]);
    px.script({ method: 'POST', path: '/events/custom', status: 422, body: { externalapierror: { message: 'eventName: invalid' } }, times: 1 });

    const result = await run(['replay', file, '--concurrency', '1']);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('line 1: rejected: Gainsight PX rejected POST /events/custom with 422: eventName: invalid');
    expect(result.stderr).toMatch(/line 2: invalid: not valid JSON \(/);
    expect(result.stderr).toContain('line 4: invalid: Event type is not supported');
    expect(result.stderr).toContain('line 5: invalid: track needs a user');
    expect(customEventNames()).toEqual(['Event 2']);
    const rejected = readFileSync(`${file}.rejected.jsonl`, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
      .sort((a, b) => a.line - b.line);
    expect(rejected.map((entry) => [entry.line, entry.outcome, entry.reason.code])).toEqual([
      [1, 'rejected', 'gainsight_rejected'],
      [2, 'invalid', 'malformed_json'],
      [4, 'invalid', 'unsupported_type'],
      [5, 'invalid', 'invalid_event'],
    ]);
    expect(rejected[0]).toMatchObject({ event: trackEvent(1), reason: { gainsightStatus: 422 } });
    expect(rejected[1]).toMatchObject({ text: '{"type":"track", oops}' });
    expect(result.stderr).toMatch(/delivered: +1\n {2}rejected: +1 .*\n {2}invalid: +3 /);

    // A rerun sends nothing again: everything is settled.
    const rerun = await run(['replay', file]);
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toMatch(/already done: +5 /);
    expect(customEventNames()).toEqual(['Event 2']);
  });

  it('streams a JSON array whose strings hold brackets and escapes', async () => {
    const events = [
      { ...trackEvent(1), properties: { text: '] }, [ {"x": "\\"' } },
      identifyEvent('u-array'),
      { ...trackEvent(2), event: 'Quote " and ]' },
    ];
    const file = writeJsonArray(join(tmp.dir, 'export.json'), events);

    const result = await run(['replay', file]);

    expect(result.code).toBe(0);
    expect(result.stderr).toContain('(JSON array)');
    expect(customEventNames()).toEqual(['Event 1', 'Quote " and ]']);
    expect(px.customEvents[0]).toMatchObject({ attributes: { text: '] }, [ {"x": "\\"' } });
  });

  it('stops with a clear error at a malformed array, after delivering what came before', async () => {
    const file = join(tmp.dir, 'broken.json');
    writeJsonLines(file, ['[', `${JSON.stringify(trackEvent(1))},`, JSON.stringify(trackEvent(2)), JSON.stringify(trackEvent(3)), ']']);

    const result = await run(['replay', file]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/replay stopped after [\d.]+s: Malformed JSON array at line 4, column 1: expected ',' or '\]' after an element but found '\{'/);
    expect(customEventNames()).toEqual(['Event 1', 'Event 2']);
  });
});

describe('resuming', () => {
  it('continues an interrupted run without sending any event twice', async () => {
    const file = writeJsonLines(join(tmp.dir, 'resume.jsonl'), Array.from({ length: 1000 }, (_, i) => trackEvent(i)));
    const stop = new AbortController();
    const watch = setInterval(() => {
      if (px.customEvents.length >= 300) stop.abort();
    }, 2);

    const first = await fastReplay(file, { rate: 2000, concurrency: 8, signal: stop.signal });
    clearInterval(watch);

    expect(first.summary.stoppedBy).toBe('interrupted');
    const sentFirst = px.customEvents.length;
    expect(sentFirst).toBeGreaterThanOrEqual(300);
    expect(sentFirst).toBeLessThan(1000);
    expect(first.summary.counts.delivered).toBe(sentFirst);
    const checkpoint = JSON.parse(readFileSync(`${file}.checkpoint.json`, 'utf8'));
    expect(checkpoint.complete).toBe(false);
    const progress = checkpoint.objects[file];
    expect(progress.next.index + progress.done.length).toBe(sentFirst);

    const second = await fastReplay(file, { rate: 2000, concurrency: 8 });

    expect(second.summary.stoppedBy).toBe('end');
    expect(second.summary.counts).toMatchObject({ alreadyDone: sentFirst, delivered: 1000 - sentFirst });
    expect(px.customEvents).toHaveLength(1000);
    expect(new Set(customEventNames()).size).toBe(1000);
    expect(existsSync(`${file}.checkpoint.json.journal`)).toBe(false);

    const third = await fastReplay(file);
    expect(third.summary.counts).toMatchObject({ alreadyDone: 1000, delivered: 0 });
    expect(px.customEvents).toHaveLength(1000);
  });

  it('retries on the next run the events that still failed after the retries, and only those', async () => {
    const file = writeJsonLines(join(tmp.dir, 'flaky.jsonl'), [trackEvent(1), identifyEvent('down'), trackEvent(2)]);
    px.script({ method: 'PUT', path: '/users/down', status: 503, times: 1000 });

    const first = await fastReplay(file, { budgetMs: 600, concurrency: 1 });

    expect(first.summary.counts).toMatchObject({ delivered: 2, failed: 1 });
    expect(first.stderr).toMatch(/line 2: failed \(retried by the next run\): Gainsight PX answered 503 to PUT \/users\/\{id\}/);
    expect(customEventNames()).toEqual(['Event 1', 'Event 2']);
    px.reset();

    const second = await fastReplay(file);

    expect(second.summary.counts).toMatchObject({ alreadyDone: 2, delivered: 1, failed: 0 });
    expect(px.calls()).toEqual(['PUT /users/down', 'POST /users']);
  });

  it('stops at once when Gainsight refuses the API key, and resumes from there', async () => {
    const file = writeJsonLines(join(tmp.dir, 'key.jsonl'), Array.from({ length: 20 }, (_, i) => trackEvent(i)));
    const refused = await run(['replay', file, '--concurrency', '1'], { env: env({ PX_API_KEY: 'wrong-key' }) });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/replay stopped after [\d.]+s: Gainsight PX refused the relay's API key \(401/);
    expect(px.requests.length).toBeLessThanOrEqual(2);

    const fixed = await run(['replay', file]);
    expect(fixed.code).toBe(0);
    expect(new Set(customEventNames()).size).toBe(20);
    expect(px.customEvents).toHaveLength(20);
  });

  it('finishes the events in flight and saves the checkpoint on SIGTERM (the bin, as a child process)', async () => {
    const file = writeJsonLines(join(tmp.dir, 'signal.jsonl'), Array.from({ length: 400 }, (_, i) => trackEvent(i)));
    const bin = join(import.meta.dirname, '../../bin/gainsight-px-relay.mjs');
    const child = spawn(process.execPath, [bin, 'replay', file, '--rate', '200'], {
      env: { ...process.env, ...env() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const watch = setInterval(() => {
      if (px.customEvents.length >= 50) {
        clearInterval(watch);
        child.kill('SIGTERM');
      }
    }, 5);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearInterval(watch);

    expect(code).toBe(1);
    expect(stderr).toContain('SIGTERM: finishing the events in flight and saving the checkpoint');
    expect(stderr).toMatch(/replay stopped after [\d.]+s: interrupted/);
    const sent = px.customEvents.length;
    expect(sent).toBeLessThan(400);

    const rest = await fastReplay(file);
    expect(rest.summary.counts).toMatchObject({ alreadyDone: sent, delivered: 400 - sent });
    expect(px.customEvents).toHaveLength(400);
    expect(new Set(customEventNames()).size).toBe(400);
  });
});

describe('dry run and configuration', () => {
  it('prints the planned requests with the API key redacted, and sends nothing', async () => {
    const file = writeJsonLines(join(tmp.dir, 'dry.jsonl'), [identifyEvent('u1'), trackEvent(3), { type: 'alias', userId: 'u1', previousId: 'x' }]);

    const result = await run(['replay', file, '--dry-run'], { env: env({ PX_API_KEY: 'super-secret-key' }) });

    expect(result.code).toBe(0);
    expect(px.requests).toHaveLength(0);
    expect(result.stdout).not.toContain('super-secret-key');
    const [identify, track, alias] = result.lines();
    expect(identify).toMatchObject({ line: 1, type: 'identify', status: 'dry-run' });
    expect(identify.requests.map((r: { method: string; url: string; onlyIf?: string }) => [r.method, r.url, r.onlyIf])).toEqual([
      ['PUT', `${px.baseUrl}/users/u1`, undefined],
      ['POST', `${px.baseUrl}/users`, 'update answered 404'],
    ]);
    expect(track.requests[0]).toEqual({
      method: 'POST',
      url: `${px.baseUrl}/events/custom`,
      headers: { 'X-APTRINSIC-API-KEY': '[redacted]', 'Content-Type': 'application/json' },
      body: expect.objectContaining({ eventName: 'Event 3', identifyId: 'u3', propertyKey: PRODUCT_KEY }),
    });
    expect(alias).toMatchObject({ line: 3, status: 'skipped' });
    expect(result.stderr).toMatch(/planned: +2 /);
    expect(existsSync(`${file}.checkpoint.json`)).toBe(false);
  });

  it('needs an API key unless it is a dry run (exit code 2, nothing sent)', async () => {
    const file = writeJsonLines(join(tmp.dir, 'nokey.jsonl'), [trackEvent(1)]);
    const result = await run(['replay', file], { env: { GAINSIGHT_PX_BASE_URL: px.baseUrl } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('PX_API_KEY is not set');
  });

  it.each([
    [['replay'], /replay needs a <file>/],
    [['replay', 'missing.jsonl'], /no such file: missing.jsonl/],
    [['replay', 'x', '--bogus'], /Unknown option '--bogus'/],
    [['launch'], /unknown command "launch"/],
  ])('answers a usage error with exit code 2: %j', async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('prints help for each command', async () => {
    const replayHelp = await run(['replay', '--help']);
    const redriveHelp = await run(['redrive', '--help']);
    expect(replayHelp.code).toBe(0);
    expect(replayHelp.stdout).toContain('Usage: gainsight-px-relay replay <file> [options]');
    expect(replayHelp.stdout).toContain('--checkpoint <path>');
    expect(redriveHelp.stdout).toContain('Usage: gainsight-px-relay redrive --queue-url <url> [options]');
  });

  describe('from SSM', () => {
    const PREFIX = '/gainsight-px-relay/cli';
    let ssm: FakeSsm;
    beforeAll(async () => {
      ssm = await startFakeSsm({
        parameters: {
          [`${PREFIX}/api-key`]: { value: px.apiKey, type: 'SecureString' },
          [`${PREFIX}/product-key`]: { value: 'AP-SSM-CLI', type: 'String' },
          [`${PREFIX}/webhook-secret`]: { value: 'unused', type: 'SecureString' },
          [`${PREFIX}/settings`]: { value: '{"pageEvents":true}', type: 'String' },
        },
      });
    });
    afterAll(() => ssm.close());

    it('reads the relay’s five parameters (write-keys optional and absent here) in one decrypting GetParameters call', async () => {
      const file = writeJsonLines(join(tmp.dir, 'ssm.jsonl'), [{ type: 'page', userId: 'u1', name: 'Home', timestamp: TIME }]);
      const awsEnv = {
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'AKIDUMMY',
        AWS_SECRET_ACCESS_KEY: 'dummy-secret',
        AWS_ENDPOINT_URL_SSM: ssm.endpoint,
      };
      const saved = { ...process.env };
      Object.assign(process.env, awsEnv);
      try {
        const result = await run(['replay', file, '--ssm-prefix', PREFIX], { env: { GAINSIGHT_PX_BASE_URL: px.baseUrl } });
        expect(result.code).toBe(0);
      } finally {
        for (const key of Object.keys(awsEnv)) if (saved[key] === undefined) delete process.env[key];
      }
      expect(ssm.calls).toHaveLength(1);
      expect(ssm.calls[0]?.body).toEqual({
        Names: [`${PREFIX}/api-key`, `${PREFIX}/product-key`, `${PREFIX}/webhook-secret`, `${PREFIX}/write-keys`, `${PREFIX}/settings`],
        WithDecryption: true,
      });
      expect(px.customEvents).toEqual([expect.objectContaining({ eventName: 'Viewed Home Page', propertyKey: 'AP-SSM-CLI' })]);
    });
  });
});
