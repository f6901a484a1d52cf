import { describe, expect, it } from 'vitest';
import { GAINSIGHT_CALL_METRICS, callMetricOf } from '../../src/observability.ts';

describe('callMetricOf: the one count each Gainsight call goes to', () => {
  it.each([
    [200, 'GainsightCalls2xx'],
    [204, 'GainsightCalls2xx'],
    [307, 'GainsightCalls3xx'],
    [404, 'GainsightCalls4xx'],
    [429, 'GainsightCalls4xx'],
    [503, 'GainsightCalls5xx'],
    [undefined, 'GainsightCallsErrors'],
    [101, 'GainsightCallsErrors'],
    [600, 'GainsightCallsErrors'],
  ])('counts status %s as %s', (status, name) => {
    expect(callMetricOf(status)).toBe(name);
  });

  it('never names a metric outside GAINSIGHT_CALL_METRICS', () => {
    const named = new Set(Array.from({ length: 700 }, (_, status) => callMetricOf(status)));
    expect([...named].sort()).toEqual([...GAINSIGHT_CALL_METRICS].sort());
  });
});
