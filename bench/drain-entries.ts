/**
 * What bench/drain.mjs needs from the TypeScript sources, bundled by bench/lib/build.mjs with the
 * production esbuild options: the loopback fakes of Gainsight PX, SSM and SQS (FIFO queues
 * included) the integration tests use.
 */
export { startFakeGainsight } from '../test/support/fake-gainsight.ts';
export { startFakeSqs } from '../test/support/fake-sqs.ts';
export { startFakeSsm } from '../test/support/fake-ssm.ts';
