import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { type FakeGainsight, startFakeGainsight } from './fake-gainsight.ts';
import { type FakeSqs, startFakeSqs } from './fake-sqs.ts';

/**
 * Helpers for the command-line tools' tests: a stream that collects what is written (with a
 * settable isTTY), temporary folders, event files in both input formats, and the loopback fakes
 * (Gainsight PX, SQS) the queue commands run against.
 */

export class Collector extends Writable {
  text = '';
  isTTY: boolean | undefined;
  columns = 200;

  constructor(options: { isTTY?: boolean } = {}) {
    super();
    this.isTTY = options.isTTY;
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    callback();
  }

  /** Parsed JSON lines (dry-run output). */
  jsonLines(): any[] {
    return this.text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line));
  }
}

/** A temporary folder, removed by the returned cleanup. */
export function tempDir(prefix = 'cli-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes events (or raw lines) as JSON Lines; strings are written as they are. */
export function writeJsonLines(path: string, lines: readonly unknown[]): string {
  writeFileSync(path, `${lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n')}\n`);
  return path;
}

/** Writes events as one pretty-printed JSON array. */
export function writeJsonArray(path: string, events: readonly unknown[]): string {
  writeFileSync(path, JSON.stringify(events, null, 2));
  return path;
}

export const TIME = '2024-05-06T07:08:09.000Z';

export const trackEvent = (index: number, userId = `u${index % 50}`) => ({
  type: 'track',
  messageId: `t-${index}`,
  userId,
  event: `Event ${index}`,
  properties: { n: index, nested: { a: [1, 2] } },
  timestamp: TIME,
});

export const identifyEvent = (userId: string) => ({
  type: 'identify',
  messageId: `i-${userId}`,
  userId,
  traits: { email: `${userId}@example.test`, name: 'Ada Lovelace' },
  timestamp: TIME,
});

/**
 * The fake Gainsight PX and fake SQS a queue command runs against, with the relay's SQS client
 * pointed at the fake (the queue wrapper's client reads these once, like the relay in Lambda).
 */
async function startQueueFakes(): Promise<{ px: FakeGainsight; sqs: FakeSqs }> {
  const px = await startFakeGainsight();
  const sqs = await startFakeSqs();
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDUMMY',
    AWS_SECRET_ACCESS_KEY: 'dummy-secret',
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
  });
  return { px, sqs };
}

/**
 * The suite's fakes: started before its tests (handed to `started`), closed after them, and the
 * Gainsight fake reset before each test.
 */
export function useQueueFakes(started: (fakes: { px: FakeGainsight; sqs: FakeSqs }) => void): void {
  let fakes: { px: FakeGainsight; sqs: FakeSqs } | undefined;
  beforeAll(async () => {
    fakes = await startQueueFakes();
    started(fakes);
  });
  afterAll(async () => {
    await fakes?.sqs.close();
    await fakes?.px.close();
  });
  beforeEach(() => fakes?.px.reset());
}

/** A parking-queue message as the relay writes it, parked after a 503. */
export const parkedRecord = (event: Record<string, unknown>, resumeAtStep = 0) => ({
  kind: 'gainsight-px-relay.parked-event',
  version: 1,
  event,
  reason: { code: 'upstream_unavailable', message: 'Gainsight PX answered 503', status: 503 },
  firstFailureAt: TIME,
  parkedAt: TIME,
  attempts: 3,
  resumeAtStep,
});
