import { describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/errors.ts';
import type { CallOptions, GainsightResponse } from '../../src/gainsight/client.ts';
import type { GainsightRequest } from '../../src/gainsight/types.ts';
import { type AttemptLog, DEFAULT_RETRY_POLICY, backoffMs, withRetries } from '../../src/delivery/retry.ts';

const REQUEST: GainsightRequest = { method: 'POST', path: '/events/custom', body: {} };

const answer = (status: number, headers: Record<string, string> = {}): GainsightResponse => ({
  status,
  body: undefined,
  headers,
});

/** A transport that plays the given answers in order (an Error entry is thrown). */
function scripted(...answers: (GainsightResponse | Error)[]) {
  const calls: number[] = [];
  const transport = async () => {
    calls.push(Date.now());
    const next = answers.shift();
    if (next === undefined) throw new Error('transport called more often than scripted');
    if (next instanceof Error) throw next;
    return next;
  };
  return { transport, calls };
}

const noSleep = async () => undefined;

describe('which answers are retried', () => {
  it.each([408, 429, 500, 502, 503, 504])('tries %i again', async (status) => {
    // Prepare
    const { transport, calls } = scripted(answer(status), answer(201));
    // Act
    const response = await withRetries(transport, { deadline: Date.now() + 5000, log: { attempts: 0 }, sleep: noSleep })(REQUEST);
    // Assess
    expect(response.status).toBe(201);
    expect(calls).toHaveLength(2);
  });

  it.each([200, 201, 204, 301, 302, 307, 308, 400, 401, 403, 404, 409, 422])(
    'returns %i after one attempt',
    async (status) => {
      // Prepare
      const { transport, calls } = scripted(answer(status), answer(201));
      const log: AttemptLog = { attempts: 0 };
      // Act
      const response = await withRetries(transport, { deadline: Date.now() + 5000, log, sleep: noSleep })(REQUEST);
      // Assess
      expect(response.status).toBe(status);
      expect(calls).toHaveLength(1);
      expect(log.attempts).toBe(1);
    },
  );

  it('rethrows at once what the transport threw that is not a relay error', async () => {
    // Prepare
    const bug = new TypeError('not a transport failure');
    const { transport, calls } = scripted(bug, answer(201));
    // Act
    const attempt = withRetries(transport, { deadline: Date.now() + 5000, log: { attempts: 0 }, sleep: noSleep })(REQUEST);
    // Assess
    await expect(attempt).rejects.toBe(bug);
    expect(calls).toHaveLength(1);
  });
});

describe('backoff', () => {
  it('draws a full-jitter wait below a ceiling that doubles per attempt up to the maximum', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1000 };

    expect(backoffMs(1, policy, () => 0.999)).toBe(99);
    expect(backoffMs(3, policy, () => 0.999)).toBe(399);
    expect(backoffMs(10, policy, () => 0.999)).toBe(999);
    expect(backoffMs(3, policy, () => 0)).toBe(0);
  });
});

describe('withRetries', () => {
  it('returns a success at once, with one attempt logged', async () => {
    const { transport, calls } = scripted(answer(201));
    const log: AttemptLog = { attempts: 0 };

    const response = await withRetries(transport, { deadline: Date.now() + 5000, log, sleep: noSleep })(REQUEST);

    expect(response.status).toBe(201);
    expect(calls).toHaveLength(1);
    expect(log).toEqual({ attempts: 1 });
  });

  it('retries 503s and a connection error until Gainsight answers', async () => {
    const { transport, calls } = scripted(answer(503), new UnavailableError('reset', { code: 'gainsight_unreachable' }), answer(201));
    const log: AttemptLog = { attempts: 0 };

    const response = await withRetries(transport, { deadline: Date.now() + 5000, log, sleep: noSleep })(REQUEST);

    expect(response.status).toBe(201);
    expect(calls).toHaveLength(3);
    expect(log.attempts).toBe(3);
    expect(log.firstFailureAt).toBeTypeOf('number');
  });

  it('waits what Retry-After asks when it fits in the time left', async () => {
    const { transport } = scripted(answer(429, { 'retry-after': '1' }), answer(201));
    const waits: number[] = [];

    const response = await withRetries(transport, {
      deadline: Date.now() + 5000,
      log: { attempts: 0 },
      sleep: async (ms) => void waits.push(ms),
    })(REQUEST);

    expect(response.status).toBe(201);
    expect(waits).toEqual([1000]);
  });

  it('gives up at once, returning the 429, when Retry-After does not fit', async () => {
    const { transport, calls } = scripted(answer(429, { 'retry-after': '30' }), answer(201));

    const response = await withRetries(transport, { deadline: Date.now() + 5000, log: { attempts: 0 }, sleep: noSleep })(REQUEST);

    expect(response.status).toBe(429);
    expect(calls).toHaveLength(1);
  });

  it('stops at the deadline and throws the last transport error', async () => {
    const failure = new UnavailableError('down', { code: 'gainsight_unreachable' });
    const { transport } = scripted(...Array.from({ length: 50 }, () => failure));
    const started = Date.now();

    await expect(
      withRetries(transport, { deadline: started + 300, log: { attempts: 0 }, random: () => 1 })(REQUEST),
    ).rejects.toBe(failure);
    expect(Date.now() - started).toBeLessThan(600);
  });

  it('gives each attempt the attempt timeout, and tries again after a timed-out attempt', async () => {
    // Prepare: a transport that times out its first call as the client does (after call.timeoutMs)
    const timeouts: number[] = [];
    const signals: (AbortSignal | undefined)[] = [];
    const outer = new AbortController().signal;
    const transport = (_request: GainsightRequest, call: CallOptions) =>
      new Promise<GainsightResponse>((resolve, reject) => {
        timeouts.push(call.timeoutMs);
        signals.push(call.signal);
        if (timeouts.length > 1) return resolve(answer(201));
        setTimeout(() => reject(new UnavailableError('timeout', { code: 'gainsight_timeout' })), call.timeoutMs);
      });
    const started = Date.now();
    // Act
    const response = await withRetries(transport, {
      deadline: started + 3000,
      log: { attempts: 0 },
      policy: { ...DEFAULT_RETRY_POLICY, attemptTimeoutMs: 200 },
      signal: outer,
      sleep: noSleep,
    })(REQUEST);
    // Assess
    expect(response.status).toBe(201);
    expect(timeouts).toEqual([200, 200]);
    expect(signals).toEqual([outer, outer]);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('gives an attempt no more than the time left before the deadline', async () => {
    // Prepare
    const timeouts: number[] = [];
    const transport = async (_request: GainsightRequest, call: CallOptions) => {
      timeouts.push(call.timeoutMs);
      return answer(201);
    };
    // Act
    await withRetries(transport, { deadline: Date.now() + 1000, log: { attempts: 0 }, sleep: noSleep })(REQUEST);
    // Assess
    expect(timeouts).toHaveLength(1);
    expect(timeouts[0]).toBeGreaterThan(900);
    expect(timeouts[0]).toBeLessThanOrEqual(1000);
  });
});

describe('withRetries near the deadline', () => {
  it('puts no request on the wire when less than minAttemptMs is left, and fails retryably', async () => {
    const { transport, calls } = scripted(answer(201));
    const log: AttemptLog = { attempts: 0 };

    const attempt = withRetries(transport, { deadline: Date.now() + 100, log, sleep: noSleep })(REQUEST);

    await expect(attempt).rejects.toMatchObject({ retryable: true, code: 'gainsight_timeout' });
    expect(calls).toEqual([]);
    expect(log.firstFailureAt).toBeTypeOf('number');
  });
});
