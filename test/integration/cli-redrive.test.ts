import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { Collector, TIME, parkedRecord, useQueueFakes } from '../support/cli.ts';
import type { FakeGainsight } from '../support/fake-gainsight.ts';
import type { FakeSqs } from '../support/fake-sqs.ts';

/**
 * `gainsight-px-relay redrive`: drains a loopback fake SQS parking queue with the relay's own
 * redrive, round after round, until it is empty.
 */

let px: FakeGainsight;
let sqs: FakeSqs;
let parkingUrl: string;
let failedUrl: string;

const parked = (event: Record<string, unknown>, resumeAtStep = 0): string => JSON.stringify(parkedRecord(event, resumeAtStep));

const track = (i: number) => ({ type: 'track', messageId: `p-${i}`, userId: `u${i}`, event: `Parked ${i}`, timestamp: TIME });

async function redrive(args: string[] = [], options: { isTTY?: boolean } = {}) {
  const stderr = new Collector({ isTTY: options.isTTY ?? false });
  const code = await main(['redrive', '--queue-url', parkingUrl, ...args], {
    stdout: new Collector(),
    stderr,
    env: { PX_API_KEY: px.apiKey, PX_PRODUCT_KEY: 'AP-REDRIVE-1', GAINSIGHT_PX_BASE_URL: px.baseUrl },
  });
  return { code, stderr: stderr.text };
}

useQueueFakes((fakes) => {
  ({ px, sqs } = fakes);
  failedUrl = sqs.createQueue('cli-failed');
  parkingUrl = sqs.createQueue('cli-parking', { visibilityTimeoutSeconds: 30 });
});

describe('redrive', () => {
  it('drains the parking queue over several receives, moving what Gainsight rejects to the failed queue', async () => {
    for (let i = 0; i < 25; i += 1) sqs.send(parkingUrl, parked(track(i)));
    sqs.send(parkingUrl, parked({ type: 'identify', userId: 'rejected-user', traits: { email: 'x@example.test' }, timestamp: TIME }));
    px.script({ method: 'PUT', path: '/users/rejected-user', status: 422, body: { externalapierror: { message: 'email: invalid' } } });

    const result = await redrive(['--failed-queue-url', failedUrl, '--rate', '200']);

    expect(result.code).toBe(1);
    expect(sqs.messages(parkingUrl)).toEqual([]);
    expect(px.customEvents).toHaveLength(25);
    const failed = sqs.messages(failedUrl).map((message) => JSON.parse(message.body));
    expect(failed).toEqual([expect.objectContaining({ reason: expect.objectContaining({ code: 'gainsight_rejected' }) })]);
    expect(result.stderr).toMatch(/redrive finished in [\d.]+s: the parking queue is empty/);
    expect(result.stderr).toMatch(/received: +26\n {2}delivered: +25 .*\n {2}rejected: +1 /);
  });

  it('exits 0 with a progress bar on a terminal when every parked event is delivered', async () => {
    for (let i = 0; i < 5; i += 1) sqs.send(parkingUrl, parked(track(i)));
    const result = await redrive([], { isTTY: true });
    expect(result.code).toBe(0);
    expect(sqs.messages(parkingUrl)).toEqual([]);
    expect(result.stderr).toMatch(/\r\x1b\[2Kredrive 5 messages · [\d.]+\/s · ETA \? · 0 failed\n/);
  });

  it('needs a queue URL (exit code 2)', async () => {
    const stderr = new Collector();
    const code = await main(['redrive'], { stdout: new Collector(), stderr, env: { PX_API_KEY: 'k', PX_PRODUCT_KEY: 'p' } });
    expect(code).toBe(2);
    expect(stderr.text).toContain('redrive needs --queue-url (or DEAD_LETTER_QUEUE_URL)');
  });
});
