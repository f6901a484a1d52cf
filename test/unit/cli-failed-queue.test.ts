import { describe, expect, it } from 'vitest';
import type { AdminQueue, HideAnswer } from '../../src/cli/admin-queue.ts';
import { Sweep } from '../../src/cli/failed-queue.ts';
import { type FailedReplaySummary, failedReplayExitCode, formatFailedReplaySummary, replayVisibilitySeconds } from '../../src/cli/failed-replay.ts';
import type { ReceivedMessage } from '../../src/delivery/queue.ts';

/** A queue that hands out `answers` in turn, then repeats the last one; records what it is asked. */
function stubQueue(answers: ReceivedMessage[][], hideAnswer: Partial<HideAnswer> = {}) {
  const calls = { receives: 0, hideAll: [] as [string[], number][], deletes: [] as string[] };
  const queue = {
    receive: async () => answers[Math.min(calls.receives++, answers.length - 1)]!,
    hideAll: async (handles: string[], seconds: number) => {
      calls.hideAll.push([handles, seconds]);
      return { done: handles.length, notHeld: [], visible: [], ...hideAnswer };
    },
    releaseAll: async (handles: string[]) => handles.length,
    hide: async () => undefined,
    delete: async (handle: string) => void calls.deletes.push(handle),
  };
  return { queue: queue as unknown as AdminQueue, calls };
}

const message = (id: string, handle = `h-${id}`): ReceivedMessage => ({ messageId: id, body: '{}', receiptHandle: handle, receiveCount: 1 });

describe('Sweep', () => {
  it('gives up when receives keep bringing back only messages already handed out, and says the pass is not complete', async () => {
    const { queue, calls } = stubQueue([[message('a')], [message('a', 'h-a2')]]);
    const sweep = new Sweep(queue, { visibilitySeconds: 600 });

    expect(await sweep.next(4)).toEqual([message('a')]);
    expect(sweep.complete).toBe(true);
    expect(await sweep.next(4)).toEqual([]);

    expect(sweep.complete).toBe(false);
    expect(calls.receives).toBe(1 + 50 + 1); // 50 idle receives, and one for the message seen
    await sweep.release();
  });

  it('renews the visibility of what it handed out while the pass lasts, and deletes nothing that is no longer its own', async () => {
    const { queue, calls } = stubQueue([[message('a'), message('b')]], { notHeld: ['h-a'] });
    const sweep = new Sweep(queue, { visibilitySeconds: 900, renewEveryMs: 5 });

    const [a, b] = await sweep.next(4);
    sweep.hold(b!);
    while (calls.hideAll.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));

    expect(calls.hideAll[0]).toEqual([['h-a', 'h-b'], 900]);
    expect(await sweep.delete(a!)).toBe(false);
    expect(calls.deletes).toEqual([]);
    await sweep.release();
  });
});

describe('failed replay', () => {
  it('hides a batch long enough for all of its messages to use their whole budget one after another (10 minutes at least, 12 hours at most)', () => {
    expect(replayVisibilitySeconds(30_000, 4)).toBe(600);
    expect(replayVisibilitySeconds(600_000, 1)).toBe(690);
    expect(replayVisibilitySeconds(600_000, 10)).toBe(6360);
    expect(replayVisibilitySeconds(600_000_000, 10)).toBe(43_200);
  });

  it('says when a pass stopped before the end of the queue, and exits 1', () => {
    const summary: FailedReplaySummary = {
      dryRun: false,
      received: 3,
      counts: { delivered: 3, skipped: 0, planned: 0, rejected: 0, kept: 0, failing: 0, waiting: 0, foreign: 0, lost: 0 },
      stoppedBy: 'incomplete',
      visibleLeft: 4,
      elapsedMs: 1000,
    };

    expect(formatFailedReplaySummary(summary).split('\n')[0]).toBe(
      'failed replay finished in 1.0s: stopped before the end of the failed queue: SQS kept handing back only messages already seen (their visibility ran out); about 4 messages were visible, some maybe never tried; run again',
    );
    expect(failedReplayExitCode(summary)).toBe(1);
    expect(failedReplayExitCode({ ...summary, stoppedBy: 'empty' })).toBe(0);
  });
});
