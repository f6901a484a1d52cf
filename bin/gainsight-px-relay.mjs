#!/usr/bin/env node
/**
 * `gainsight-px-relay replay`, `redrive` and `failed list / replay / purge`: see src/cli/main.ts.
 *
 * Runs the TypeScript sources directly through tsx's loader (a dependency), so the tools work
 * from a fresh clone after `npm ci`, with no build step, and always use the relay's current code.
 *
 * Signals: the first SIGINT/SIGTERM stops gracefully (nothing new starts, events in flight
 * finish, the checkpoint is saved); a second SIGINT aborts the calls in flight too.
 */
import { register } from 'tsx/esm/api';

// The SDK's "future versions need Node 22" notice would break the progress line; the deployed
// relay runs on Node 22. Set the variable to "false" to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('../src/cli/main.ts');

const graceful = new AbortController();
const immediate = new AbortController();
let signals = 0;
const onSignal = (name) => {
  signals += 1;
  if (signals === 1) {
    process.stderr.write(`\n${name}: finishing the events in flight and saving the checkpoint (again to abort them)\n`);
    graceful.abort();
  } else {
    immediate.abort();
  }
};
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: graceful.signal,
  abortSignal: immediate.signal,
});
