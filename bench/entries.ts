/**
 * What the benchmark needs from the TypeScript sources, bundled by bench/lib/build.mjs with the
 * production esbuild options: the loopback fakes the integration tests use, and the pure
 * per-event work of the relay (validate → plan → encode) for the mapping throughput.
 */
export { startFakeGainsight } from '../test/support/fake-gainsight.ts';
export { startFakeSsm } from '../test/support/fake-ssm.ts';
export { parseSettings } from '../src/config/settings.ts';
export { parseEvent } from '../src/events/index.ts';
export { planEvent } from '../src/delivery/plan.ts';
