import { isHttpsOrLoopback } from '../config/relay-config.ts';
import { ConfigurationError, isRelayError } from '../errors.ts';
import { logger } from '../observability.ts';
import { VERSION } from '../version.ts';
import { CheckpointError } from './checkpoint.ts';
import { type CliConfig, loadCliConfig, readSsmParameters } from './config.ts';
import { runFailed } from './failed.ts';
import { parseFilter } from './filters.ts';
import { SECRET_ON_COMMAND_LINE, readSecretFile } from './guards.ts';
import { MAX_RATE } from './pacing.ts';
import { formatRedriveSummary, redriveCommand, redriveExitCode } from './redrive.ts';
import {
  type CliIo,
  EXIT_OK,
  EXIT_USAGE,
  UsageError,
  integerOption,
  parse,
  queueUrlOption,
  rateOption,
  runIo,
} from './options.ts';
import { type ReplayTarget, replay } from './replay.ts';
import { DEFAULT_QUOTA } from './replay-setup.ts';
import { exitCodeOf, formatSummary } from './replay-summary.ts';
import { S3SourceError } from './s3.ts';
import { InputError } from './sources.ts';

/**
 * The `gainsight-px-relay` command: `replay`, `redrive` and `failed`. {@link main} takes its
 * arguments and streams as parameters and returns the exit code, so tests run it in-process:
 * 0 all good, 1 some events rejected, invalid or failed (or the run stopped early), 2 usage or
 * configuration error (nothing was sent).
 */

export { type CliIo, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, UsageError } from './options.ts';

const MAIN_HELP = `gainsight-px-relay ${VERSION}: load history and parked events into Gainsight PX with the relay's own mapping

Usage:
  gainsight-px-relay replay <input>... [options] deliver exports: files, directories, s3://bucket/prefix
                                                 (JSON Lines or JSON arrays, gzipped or not)
  gainsight-px-relay redrive --queue-url <url>   drain the parking queue now
  gainsight-px-relay failed list|replay|purge    look at, resend or clear the failed queue
  gainsight-px-relay <command> --help            options of a command

Exit codes: 0 all good; 1 some events rejected, invalid or failed, or the run stopped early
(rerun to continue); 2 usage or configuration error (nothing was sent).
`;

const REPLAY_HELP = `Usage: gainsight-px-relay replay <file> [options]
       gainsight-px-relay replay <input>... [options]       (files, directories, s3://bucket/prefix)
       npm run replay -- <input>... [options]

Delivers past events with the relay's validation, mapping, retries and Gainsight PX client.
An <input> is a file, a directory (every file below it, in name order) or s3://bucket/prefix
(every object under it, listed with ListObjectsV2, read with streaming GetObject). Each file or
object holds JSON Lines (one event per line) or one JSON array, gzipped or not (recognised by
its first bytes); all are streamed, never loaded whole.

Where events go (one of):
  (default)                  Gainsight PX, configured from PX_API_KEY, PX_PRODUCT_KEY,
                             PX_SETTINGS and GAINSIGHT_PX_BASE_URL
  --ssm-prefix <prefix>      Gainsight PX, configured from the relay's SSM parameters
                             (<prefix>/api-key, product-key, settings), e.g. /gainsight-px-relay/prod
  --url <relay url>          a deployed relay (https://, or http:// on a loopback host): POST
                             <url>/events in batches, with the webhook secret from WEBHOOK_SECRET,
                             --secret-file <path> (first line), or the webhook-secret parameter
                             with --ssm-prefix. A secret is never taken on the command line.
  --dry-run                  print the planned Gainsight requests (API key redacted), send nothing

Which events:
  --since <time>             only events at or after it (ISO 8601: 2024-05-01, 2024-05-01T12:00Z);
                             the time is timestamp, else originalTimestamp
  --until <time>             only events before it
  --types <list>             only these types, e.g. identify,group,track

Pacing (Gainsight PX allows about ${MAX_RATE} requests/s and 1 000 000 a day, shared with the relay):
  --rate <n>                 Gainsight requests per second, retries included; with --url, events
                             per second (default 50, at most ${MAX_RATE})
  --daily-quota <n>          Gainsight calls per UTC day of the subscription (default 1000000)
  --quota-share <f>          the share of it this run may use, with earlier runs of the same day
                             on this checkpoint (default 0.5: the rest is left to live traffic)
  --no-wait                  when the day's share is spent, stop (rerun after 00:00 UTC) instead
                             of waiting for the next day
  --concurrency <n>          events (with --url: batches) in flight at once (default 8, at most
                             64 and 2 × rate); one user's events always keep their order
  --batch-size <n>           events per request with --url (default 50, at most 100)
  --budget-ms <ms>           time one event (batch) may spend on retries (default 30000)

Progress and resuming:
  --checkpoint <path>        progress file (default <file>.checkpoint.json for one file; required
                             for several inputs, a directory or s3://); one run at a time per
                             checkpoint (<path>.lock)
  --restart                  ignore an existing checkpoint and start from the first event
  --rejected <path>          where rejected and invalid events go (default <file>.rejected.jsonl,
                             or <checkpoint>.rejected.jsonl)
  --region <region>          AWS region for s3:// and --ssm-prefix (default: AWS_REGION / profile)
  -h, --help                 this help

Rerunning the same command continues after the last settled event, skipping finished objects;
acknowledged events are never sent again. Events still failing after the retries are retried by
the next run. An input that changed since it was read is reported, and nothing is sent.
Checkpoint, journal and rejected files are created readable by their owner only.

Examples:
  PX_API_KEY=... PX_PRODUCT_KEY=AP-XXXXXXXXXX-2 gainsight-px-relay replay export.jsonl --rate 100
  gainsight-px-relay replay s3://my-cdp-archive/rudder/2024/ --ssm-prefix /gainsight-px-relay/prod \\
    --checkpoint backfill-2024.json --since 2024-01-01 --types identify,group,track
  WEBHOOK_SECRET=... gainsight-px-relay replay export.jsonl --url https://abc.execute-api.eu-west-1.amazonaws.com
  gainsight-px-relay replay exports/ --dry-run | head
`;

const REDRIVE_HELP = `Usage: gainsight-px-relay redrive --queue-url <url> [options]

Drains the relay's parking queue now, with the relay's own redrive: each parked event is sent
again and deleted only once Gainsight PX accepted it; one Gainsight rejects for good goes to the
failed queue with the reason; one that still fails is hidden with backoff for a later run.
Runs until the queue is empty, Gainsight keeps failing, or Ctrl-C.

Options:
  --queue-url <url>          the parking queue (default: DEAD_LETTER_QUEUE_URL)
  --failed-queue-url <url>   the failed queue (default: FAILED_QUEUE_URL); without one, rejected
                             events stay parked, hidden for an hour
  --ssm-prefix <prefix>      configuration from the relay's SSM parameters (default: PX_API_KEY,
                             PX_PRODUCT_KEY, PX_SETTINGS, GAINSIGHT_PX_BASE_URL)
  --region <region>          AWS region of the queues and parameters (default: AWS_REGION / profile)
  --rate <n>                 Gainsight requests per second (default 50, at most ${MAX_RATE})
  --concurrency <n>          messages in flight at once (default 4, at most 10)
  -h, --help                 this help

Example:
  gainsight-px-relay redrive --ssm-prefix /gainsight-px-relay/prod \\
    --queue-url https://sqs.us-east-1.amazonaws.com/123456789012/gainsight-px-relay-prod-parking.fifo \\
    --failed-queue-url https://sqs.us-east-1.amazonaws.com/123456789012/gainsight-px-relay-prod-failed.fifo
`;

async function runReplay(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    'ssm-prefix': { type: 'string' },
    url: { type: 'string' },
    secret: { type: 'string' },
    'secret-file': { type: 'string' },
    'dry-run': { type: 'boolean' },
    rate: { type: 'string' },
    concurrency: { type: 'string' },
    'batch-size': { type: 'string' },
    'budget-ms': { type: 'string' },
    checkpoint: { type: 'string' },
    restart: { type: 'boolean' },
    rejected: { type: 'string' },
    region: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    types: { type: 'string' },
    'daily-quota': { type: 'string' },
    'quota-share': { type: 'string' },
    'no-wait': { type: 'boolean' },
  });
  if (values.help) {
    io.stdout.write(REPLAY_HELP);
    return EXIT_OK;
  }
  const opt = values;
  const str = (name: string): string | undefined => opt[name] as string | undefined;
  if (str('secret') !== undefined) throw new UsageError(SECRET_ON_COMMAND_LINE);
  if (positionals.length === 0) throw new UsageError('replay needs a <file> (or several; a directory; s3://bucket/prefix)');
  const filter = parseFilter({
    ...(str('since') === undefined ? {} : { since: str('since') as string }),
    ...(str('until') === undefined ? {} : { until: str('until') as string }),
    ...(str('types') === undefined ? {} : { types: str('types') as string }),
  });
  const dailyQuota = integerOption(str('daily-quota'), '--daily-quota', DEFAULT_QUOTA.dailyQuota, 100, 1e9);
  const share = str('quota-share') === undefined ? DEFAULT_QUOTA.share : Number(str('quota-share'));
  if (!(share > 0 && share <= 1)) throw new UsageError(`--quota-share must be a fraction above 0 and at most 1, e.g. 0.5 (got "${str('quota-share')}")`);
  if (Math.floor(dailyQuota * share) < 10) throw new UsageError('--daily-quota × --quota-share must allow at least 10 calls a day');
  const rate = rateOption(str('rate'));
  const concurrency = integerOption(str('concurrency'), '--concurrency', 8, 1, 64);
  const batchSize = integerOption(str('batch-size'), '--batch-size', 50, 1, 100);
  const budgetMs = integerOption(str('budget-ms'), '--budget-ms', 30_000, 1000, 3_600_000);
  const dryRun = opt['dry-run'] === true;
  const url = str('url');
  if (url !== undefined && dryRun) throw new UsageError('--dry-run plans Gainsight requests itself; it cannot be combined with --url');
  if (url === undefined && str('secret-file') !== undefined) throw new UsageError('--secret-file is only used with --url');
  if (str('region')) process.env.AWS_REGION = str('region');

  let target: ReplayTarget;
  if (url !== undefined) {
    if (!/^https?:\/\/\S+$/i.test(url)) throw new UsageError(`--url must be an http(s) URL (got "${url}")`);
    if (!isHttpsOrLoopback(url)) {
      throw new UsageError(`--url must be https:// (http:// only for a loopback host): the webhook secret would travel in clear text (got "${url}")`);
    }
    const fromFile = str('secret-file') === undefined ? undefined : readSecretFile(str('secret-file') as string);
    if (fromFile?.warning) io.stderr.write(`warning: ${fromFile.warning}\n`);
    let secret = fromFile?.secret ?? io.env.WEBHOOK_SECRET?.split(',')[0]?.trim();
    const prefix = str('ssm-prefix');
    if (secret === undefined && prefix !== undefined) {
      const name = `${prefix.replace(/\/+$/, '')}/webhook-secret`;
      secret = (await readSsmParameters([name]))[name]?.split(',')[0]?.trim();
      if (!secret) throw new ConfigurationError(`SSM parameter not found or empty: ${name}`);
    }
    if (!secret) io.stderr.write('warning: no WEBHOOK_SECRET (or --secret-file): posting without Authorization\n');
    target = { kind: 'relay', url, secret: secret || undefined, batchSize };
  } else {
    const config = await loadCliConfig({
      env: io.env,
      dryRun,
      ...(str('ssm-prefix') === undefined ? {} : { ssmPrefix: str('ssm-prefix') as string }),
    });
    for (const warning of config.warnings) io.stderr.write(`warning: ${warning}\n`);
    target = { kind: 'gainsight', config };
  }

  const summary = await replay({
    inputs: positionals,
    target,
    filter,
    quota: { dailyQuota, share, wait: opt['no-wait'] !== true, ...(io.clock ?? {}) },
    rate,
    concurrency,
    budgetMs,
    ...(str('checkpoint') === undefined ? {} : { checkpointPath: str('checkpoint') as string }),
    ...(str('rejected') === undefined ? {} : { rejectedPath: str('rejected') as string }),
    restart: opt.restart === true,
    stdout: io.stdout,
    stderr: io.stderr,
    ...runIo(io),
  });
  io.stderr.write(`${formatSummary(summary)}\n`);
  return exitCodeOf(summary);
}

async function runRedrive(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    'ssm-prefix': { type: 'string' },
    'queue-url': { type: 'string' },
    'failed-queue-url': { type: 'string' },
    region: { type: 'string' },
    rate: { type: 'string' },
    concurrency: { type: 'string' },
  });
  if (values.help) {
    io.stdout.write(REDRIVE_HELP);
    return EXIT_OK;
  }
  const opt = values;
  const str = (name: string): string | undefined => opt[name] as string | undefined;
  if (positionals.length > 0) throw new UsageError(`redrive takes no arguments (got ${positionals.join(', ')})`);
  const queueUrl = str('queue-url') ?? io.env.DEAD_LETTER_QUEUE_URL;
  if (!queueUrl) throw new UsageError('redrive needs --queue-url (or DEAD_LETTER_QUEUE_URL)');
  const failedQueueUrl = str('failed-queue-url') ?? io.env.FAILED_QUEUE_URL;
  queueUrlOption(queueUrl, '--queue-url');
  queueUrlOption(failedQueueUrl, '--failed-queue-url');
  const rate = rateOption(str('rate'));
  const concurrency = integerOption(str('concurrency'), '--concurrency', 4, 1, 10);
  if (str('region')) process.env.AWS_REGION = str('region');
  const config: CliConfig = await loadCliConfig({
    env: io.env,
    ...(str('ssm-prefix') === undefined ? {} : { ssmPrefix: str('ssm-prefix') as string }),
  });
  if (config.dryRun) throw new UsageError('redrive has no dry run: it would receive parked events without sending them (unset DRY_RUN)');
  for (const warning of config.warnings) io.stderr.write(`warning: ${warning}\n`);
  const summary = await redriveCommand({
    config,
    queueUrl,
    ...(failedQueueUrl ? { failedQueueUrl } : {}),
    rate,
    concurrency,
    stderr: io.stderr,
    ...runIo(io),
  });
  io.stderr.write(`${formatRedriveSummary(summary)}\n`);
  return redriveExitCode(summary);
}

/** Runs one command line (without `node` and the script) and returns the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  // The relay's structured logs are for CloudWatch; the tools report in plain text.
  logger.setLogLevel('SILENT');
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'replay':
        return await runReplay(rest, io);
      case 'redrive':
        return await runRedrive(rest, io);
      case 'failed':
        return await runFailed(rest, io);
      case '--version':
      case '-v':
        io.stdout.write(`${VERSION}\n`);
        return EXIT_OK;
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        io.stdout.write(MAIN_HELP);
        return command === undefined ? EXIT_USAGE : EXIT_OK;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      const help = command === 'replay' || command === 'redrive' || command === 'failed' ? `gainsight-px-relay ${command} --help` : 'gainsight-px-relay --help';
      io.stderr.write(`error: ${error.message}\nRun "${help}" for the options.\n`);
      return EXIT_USAGE;
    }
    if (
      error instanceof CheckpointError ||
      error instanceof InputError ||
      error instanceof S3SourceError ||
      (isRelayError(error) && (error.code === 'configuration_error' || error.code === 'ssm_unavailable'))
    ) {
      io.stderr.write(`error: ${(error as Error).message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}
