#!/usr/bin/env node
/**
 * `npm start`: serves the relay on http://127.0.0.1:3000 through serverless-offline, stage
 * `local` — no SSM, no AWS account. Configuration comes from this shell's environment, which
 * serverless.yml's `local` params hand to the handler (serverless-offline passes only AWS_*
 * variables otherwise):
 *
 *   PX_API_KEY, PX_PRODUCT_KEY, WEBHOOK_SECRET, PX_SETTINGS, GAINSIGHT_PX_BASE_URL, DRY_RUN
 *
 * Without PX_API_KEY the relay runs as a dry run (src/config/relay-config.ts): the answer lists
 * the requests that would have been sent. Extra arguments go to `serverless offline start`
 * (e.g. `npm start -- --httpPort 3100`). Ctrl-C / SIGTERM stop the server.
 */
import { runServerless } from './sls.mjs';

process.exitCode = await runServerless(['offline', 'start', '--stage', 'local', ...process.argv.slice(2)]);
