import { describe, expect, it } from 'vitest';
import { Lanes, Pool, RateLimiter, sleep } from '../../src/cli/pacing.ts';
import { ProgressReporter } from '../../src/cli/progress.ts';
import { Collector } from '../support/cli.ts';

describe('pacing', () => {
  it('spaces permits evenly: 21 permits at 100/s take about 200 ms', async () => {
    const limiter = new RateLimiter(100);
    const started = performance.now();
    await Promise.all(Array.from({ length: 21 }, () => limiter.take()));
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(195);
    expect(elapsed).toBeLessThan(400);
  });

  it('keeps one key in order while other keys overtake, with bounded concurrency', async () => {
    const lanes = new Lanes();
    const pool = new Pool(3);
    const order: string[] = [];
    let running = 0;
    let peak = 0;
    const job = (key: string, id: string, ms: number) =>
      pool.add(() =>
        lanes.run([key], async () => {
          running += 1;
          peak = Math.max(peak, running);
          await sleep(ms);
          order.push(id);
          running -= 1;
        }),
      );
    await job('a', 'a1', 40);
    await job('a', 'a2', 1);
    await job('b', 'b1', 1);
    await job('c', 'c1', 1);
    await job('a', 'a3', 1);
    await pool.drain();
    expect(order.filter((id) => id.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    expect(order.indexOf('b1')).toBeLessThan(order.indexOf('a1'));
    expect(peak).toBeLessThanOrEqual(3);
  });
});

describe('progress', () => {
  const snapshot = { done: 500, total: 1000, doneThisRun: 500, failures: 2, rejected: 1, counts: { delivered: 497, rejected: 1 } };

  it('redraws one line in place on a terminal: bar, done/total, rate, ETA, failures', () => {
    const stream = new Collector({ isTTY: true });
    let now = 0;
    const progress = new ProgressReporter({ stream, label: 'replay', unit: 'events', snapshot: () => snapshot, now: () => now });
    now = 10_000;
    progress.render();
    progress.log('line 7: invalid: not valid JSON');
    progress.render();
    expect(stream.text).toBe(
      '\r\x1b[2Kreplay [████████████░░░░░░░░░░░░]  50% 500/1,000 events · 50.0/s · ETA 10s · 2 failed · 1 rejected' +
        '\r\x1b[2Kline 7: invalid: not valid JSON\n' +
        '\r\x1b[2Kreplay [████████████░░░░░░░░░░░░]  50% 500/1,000 events · 50.0/s · ETA 10s · 2 failed · 1 rejected',
    );
  });

  it('writes plain periodic lines when the output is not a terminal', async () => {
    const stream = new Collector({ isTTY: false });
    const progress = new ProgressReporter({ stream, label: 'replay', unit: 'events', snapshot: () => snapshot, intervalMs: 20 });
    progress.start();
    await sleep(110);
    progress.stop();
    const lines = stream.text.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines[0]).toMatch(/^replay: 500\/1000 events \(50%\), [\d.]+\/s, ETA \S+, failed 2, delivered 497, rejected 1$/);
    expect(stream.text).not.toContain('\r');
  });
});
