import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureWhile, saveEnv } from '../support/capture.ts';
import { type FakeGainsight, startFakeGainsight } from '../support/fake-gainsight.ts';
import { type Handler, call, httpApiEvent, lambdaContext, loadHandler, scheduledEvent } from '../support/lambda.ts';

/**
 * Quiet, useful logs (issue 15): no invocation writes a line that says nothing, and each failed
 * invocation writes one line an operator can act on (its code and reason). Lines are the real
 * handler's stdout and stderr; `_aws` lines are metrics (EMF), not log lines.
 */

const SECRET = 'quiet-secret';
const OUTPUT_ENV = { POWERTOOLS_DEV: 'false', POWERTOOLS_LOG_LEVEL: 'INFO', POWERTOOLS_METRICS_DISABLED: 'false' };
const restoreEnv = saveEnv(Object.keys(OUTPUT_ENV));
const track = { type: 'track', userId: 'u1', event: 'Report Viewed' };

let px: FakeGainsight;
let dryRun: Handler;
let live: Handler;

/** What one invocation wrote: its log lines and its metric lines, apart. */
async function written(act: () => Promise<unknown>) {
  const capture = await captureWhile(async () => {
    await act();
  });
  const entries = capture.entries();
  return {
    logs: entries.filter((entry) => entry._aws === undefined),
    metricLines: entries.filter((entry) => entry._aws !== undefined),
    text: capture.texts.join(''),
  };
}

beforeAll(async () => {
  px = await startFakeGainsight();
  const common = { ...OUTPUT_ENV, IS_OFFLINE: 'true', WEBHOOK_SECRET: SECRET, WRITE_KEYS: 'quiet-write-key', PX_PRODUCT_KEY: 'AP-QUIET-1' };
  dryRun = await loadHandler(common);
  live = await loadHandler({ ...common, PX_API_KEY: px.apiKey, GAINSIGHT_PX_BASE_URL: px.baseUrl, DELIVERY_BUDGET_MS: '600' });
  // Each container's one-time notes (a dry run, no parking queue) are written by its first invocation.
  await written(() => call(dryRun, httpApiEvent({ secret: SECRET, body: track })));
  await written(() => call(live, httpApiEvent({ secret: SECRET, body: track })));
});
afterAll(async () => {
  restoreEnv();
  await px.close();
});

describe('invocations that went well', () => {
  it('plain GET /health writes nothing at all', async () => {
    const { text } = await written(() => call(dryRun, httpApiEvent({ method: 'GET', path: '/health', secret: null })));
    expect(text).toBe('');
  });

  it('a warm dry-run event writes its one event line and one metrics line, and no warning', async () => {
    const { logs, metricLines, text } = await written(() => call(dryRun, httpApiEvent({ secret: SECRET, body: track })));
    expect(logs.map((entry) => [entry.level, entry.message])).toEqual([['INFO', 'event dry-run']]);
    expect(metricLines).toHaveLength(1);
    expect(text).not.toContain('No application metrics');
  });

  it('a scheduled run with nothing to redrive writes metrics only', async () => {
    const { logs, metricLines } = await written(() => dryRun(scheduledEvent(), lambdaContext()));
    expect(logs).toEqual([]);
    expect(metricLines).toHaveLength(1);
  });
});

describe('each failed invocation writes one line an operator can act on', () => {
  it.each([
    ['a wrong secret', () => call(dryRun, httpApiEvent({ secret: 'wrong', body: track })), 'unauthorized'],
    ['an unsupported event type', () => call(dryRun, httpApiEvent({ secret: SECRET, body: { type: 'nope', userId: 'u1' } })), 'unsupported_type'],
    ['a body that is not JSON', () => call(dryRun, httpApiEvent({ secret: SECRET, rawBody: '{"type":' })), 'malformed_json'],
  ])('%s', async (_label, act, code) => {
    const { logs } = await written(act);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ level: 'WARN', code });
    expect(typeof logs[0]?.reason === 'string' || typeof logs[0]?.message === 'string').toBe(true);
  });

  it('Gainsight down past the budget, with no queue', async () => {
    px.script({ method: 'POST', path: '/events/custom', status: 503, times: 100 });
    const { logs } = await written(() => call(live, httpApiEvent({ secret: SECRET, body: track })));
    px.reset();
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ level: 'WARN', message: 'event failed', code: 'upstream_unavailable' });
  });
});
