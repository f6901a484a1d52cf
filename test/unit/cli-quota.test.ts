import { describe, expect, it } from 'vitest';
import { ProgressReporter } from '../../src/cli/progress.ts';
import { DailyQuota, QuotaSpentError, nextUtcMidnight } from '../../src/cli/quota.ts';
import { Collector } from '../support/cli.ts';

/** A quota on a fake clock whose sleep moves the clock at once. */
function quotaAt(iso: string, options: { dailyQuota?: number; share?: number; wait?: boolean; state?: { day: string; calls: number } } = {}) {
  let now = Date.parse(iso);
  const sleeps: number[] = [];
  const quota = new DailyQuota({
    dailyQuota: options.dailyQuota ?? 100,
    share: options.share ?? 0.5,
    wait: options.wait ?? true,
    ...(options.state ? { state: options.state } : {}),
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  });
  return { quota, sleeps, clock: () => now };
}

describe('the daily quota', () => {
  it('allows dailyQuota × share calls per UTC day, counting an earlier run’s calls of the same day', async () => {
    const { quota } = quotaAt('2026-12-06T12:00:00Z', { state: { day: '2026-12-06', calls: 45 } });
    expect(quota.limit).toBe(50);
    expect(quota.used).toBe(45);
    expect(await quota.admit(5)).toBe(true);
    for (let i = 0; i < 5; i += 1) await quota.spend();
    expect(quota.state).toEqual({ day: '2026-12-06', calls: 50 });
  });

  it('forgets the calls of another day', () => {
    const { quota } = quotaAt('2026-12-07T00:00:00Z', { state: { day: '2026-12-06', calls: 50 } });
    expect(quota.used).toBe(0);
  });

  it('waits until the next UTC midnight when an event’s calls do not fit, then starts a new count', async () => {
    const { quota, sleeps, clock } = quotaAt('2026-12-06T22:30:00Z', { dailyQuota: 10, share: 1 });
    expect(await quota.admit(8)).toBe(true);
    for (let i = 0; i < 8; i += 1) await quota.spend();
    quota.release(0);

    expect(await quota.admit(4)).toBe(true); // 8 + 4 > 10: waits for 2026-12-07

    expect(sleeps).toEqual([90 * 60_000]);
    expect(new Date(clock()).toISOString()).toBe('2026-12-07T00:00:00.000Z');
    expect(quota.state).toEqual({ day: '2026-12-07', calls: 0 });
  });

  it('never lets a call past the share: a retry beyond the reservation waits too, or throws under --no-wait', async () => {
    const noWait = quotaAt('2026-12-06T10:00:00Z', { dailyQuota: 10, share: 1, wait: false }).quota;
    expect(await noWait.admit(10)).toBe(true);
    for (let i = 0; i < 10; i += 1) await noWait.spend();
    await expect(noWait.spend()).rejects.toBeInstanceOf(QuotaSpentError);
    await expect(noWait.spend()).rejects.toThrow('renews at 2026-12-07T00:00:00.000Z');
    expect(await noWait.admit(1)).toBe(false);
    expect(noWait.used).toBe(10);

    const waiting = quotaAt('2026-12-06T10:00:00Z', { dailyQuota: 10, share: 1 });
    for (let i = 0; i < 11; i += 1) await waiting.quota.spend();
    expect(waiting.sleeps).toEqual([14 * 3_600_000]);
    expect(waiting.quota.state).toEqual({ day: '2026-12-07', calls: 1 });
  });

  it('keeps room for the calls events in flight reserved', async () => {
    const { quota } = quotaAt('2026-12-06T10:00:00Z', { dailyQuota: 10, share: 1, wait: false });
    expect(await quota.admit(4)).toBe(true);
    expect(await quota.admit(4)).toBe(true);
    expect(await quota.admit(4)).toBe(false); // 8 reserved + 4 > 10
    await quota.spend(); // the first event's PUT answered 200: it needed one call of its two
    quota.release(1);
    await quota.spend();
    await quota.spend();
    quota.release(2);
    expect(await quota.admit(4)).toBe(true); // 3 used + 0 reserved + 4 ≤ 10
    expect(await quota.admit(4)).toBe(false); // 3 + 4 + 4 > 10
  });

  it('finds the next UTC midnight across a month and a year', () => {
    expect(new Date(nextUtcMidnight(Date.parse('2026-12-31T23:59:59Z'))).toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(new Date(nextUtcMidnight(Date.parse('2024-02-28T00:00:00Z'))).toISOString()).toBe('2024-02-29T00:00:00.000Z');
  });
});

describe('progress with a quota', () => {
  const base = { done: 500_000, doneThisRun: 500_000, failures: 0, fraction: 0.25 };

  it('shows calls today against the share and the ETA in days when the quota is the limit', () => {
    const snapshot = { ...base, quota: { used: 312_400, limit: 500_000, etaDays: 3.24 } };
    const progress = new ProgressReporter({ stream: new Collector({ isTTY: false }), label: 'replay', unit: 'events', snapshot: () => snapshot });
    expect(progress.plainLine(snapshot)).toMatch(
      /^replay: 500000 events \(25%\), [\d.]+\/s, calls today 312400\/500000, ETA 3\.2 days \(daily quota\), failed 0$/,
    );
  });

  it('says when a run waiting for the next day resumes', () => {
    const stream = new Collector({ isTTY: true });
    const resumesAt = Date.parse('2026-12-07T00:00:00Z');
    const snapshot = { ...base, quota: { used: 500_000, limit: 500_000, resumesAt, resumesInMs: 3 * 3_600_000 + 12 * 60_000, etaDays: 2.5 } };
    const progress = new ProgressReporter({ stream, label: 'replay', unit: 'events', snapshot: () => snapshot });
    expect(progress.barLine(snapshot)).toContain(
      'calls today 500,000/500,000 · daily share spent, resumes 2026-12-07 00:00 UTC (in 3h12m), ETA 2.5 days · 0 failed',
    );
  });
});
