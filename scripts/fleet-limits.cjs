'use strict';
/**
 * Fleet limits for serverless.yml, derived from one stage parameter: the Gainsight rate this
 * stage may use. osls loads this file for `${file(./scripts/fleet-limits.cjs):<name>}`, calls
 * the exported function with `{ resolveVariable }` and reads `<name>` from the returned object.
 *
 * The arithmetic (stage params; docs/scaling.md states the same):
 *
 *   gainsightRequestsPerSecond  rate     Gainsight calls/s the whole fleet may make (default 150 of
 *                                        Gainsight's ~200 per subscription: room for other clients)
 *   gainsightMaxInFlight        inFlight calls one invocation keeps in flight at most (default 4;
 *                                        also the function's GAINSIGHT_MAX_IN_FLIGHT)
 *   gainsightCallMs             callMs   the shortest a Gainsight call takes (default 100 ms, the fast
 *                                        end of its latency, so the bound below is an upper bound)
 *
 *   one invocation makes at most      inFlight × 1000 / callMs calls/s
 *   the fleet makes at most           reservedConcurrency × inFlight × 1000 / callMs calls/s
 *   so  reservedConcurrency = max(2, floor(rate × callMs / (1000 × inFlight)))
 *       maximumConcurrency  = max(2, reservedConcurrency − 1)      (the SQS consumer's share)
 *
 * The split: the consumer (the SQS event source mapping) may use every slot but one, so that a
 * backlog drains at nearly the fleet's whole share of the rate while at least one slot is always
 * left for HTTP requests (and the scheduled sweep) whenever reservedConcurrency > 2. At 2 both are
 * 2, SQS's minimum for maximumConcurrency: a draining consumer may then hold both slots. HTTP
 * requests are not capped separately: with the queue empty they may use every slot; the cap that
 * protects Gainsight is reservedConcurrency, shared by everything the function does.
 *
 * Defaults (every stage, prod included): 150 × 100 / (1000 × 4) = 3.75 → reservedConcurrency 3,
 * maximumConcurrency 2; at most 3 × 4 × 1000 / 100 = 120 calls/s ≤ 150 (the floor costs 30).
 *
 * Only the two numbers are computed here; serverless.yml passes the same gainsightMaxInFlight to
 * the function, so the cap the code enforces and the one this sizing assumes cannot drift apart.
 */

/** SQS event source mappings accept maximumConcurrency from 2 to 1000. */
const SQS_MIN_CONCURRENCY = 2;
const SQS_MAX_CONCURRENCY = 1000;

/**
 * The two limits from the three parameters; throws (with the parameter's name) on a value that
 * is not a positive number, so a typo fails the package rather than producing a bad template.
 */
function fleetLimits({ gainsightRequestsPerSecond, gainsightMaxInFlight, gainsightCallMs }) {
  const rate = positive('gainsightRequestsPerSecond', gainsightRequestsPerSecond);
  const inFlight = positive('gainsightMaxInFlight', gainsightMaxInFlight, { integer: true });
  const callMs = positive('gainsightCallMs', gainsightCallMs);

  const reservedConcurrency = Math.max(SQS_MIN_CONCURRENCY, Math.floor((rate * callMs) / (1000 * inFlight)));
  const maximumConcurrency = Math.min(SQS_MAX_CONCURRENCY, Math.max(SQS_MIN_CONCURRENCY, reservedConcurrency - 1));
  return { reservedConcurrency, maximumConcurrency };
}

function positive(name, raw, { integer = false } = {}) {
  // --param values arrive as strings, serverless.yml's params as numbers.
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`stage parameter ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

module.exports = async ({ resolveVariable }) =>
  fleetLimits({
    gainsightRequestsPerSecond: await resolveVariable('param:gainsightRequestsPerSecond'),
    gainsightMaxInFlight: await resolveVariable('param:gainsightMaxInFlight'),
    gainsightCallMs: await resolveVariable('param:gainsightCallMs'),
  });
module.exports.fleetLimits = fleetLimits;
