import { isRelayError } from '../errors.ts';
import { loadCliConfig } from './config.ts';
import { listFailed, purgeFailed } from './failed-list.ts';
import { secretRedactor } from './failed-queue.ts';
import { failedReplayExitCode, formatFailedReplaySummary, replayFailed } from './failed-replay.ts';
import { type CliIo, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, UsageError, integerOption, parse, queueUrlOption, rateOption, runIo } from './options.ts';
import { MAX_RATE } from './pacing.ts';

/**
 * `gainsight-px-relay failed list | replay | purge`: the failed queue (FAILED_QUEUE_URL), worked
 * from the command line. This module reads the command line and dispatches; the passes live in
 * failed-list.ts and failed-replay.ts.
 */

export const FAILED_HELP = `Usage: gainsight-px-relay failed list   [--queue-url <url>] [--limit <n>] [--json [--show-events]]
       gainsight-px-relay failed replay [--queue-url <url>] [options]
       gainsight-px-relay failed purge  --older-than <age|date> [--queue-url <url>] [--dry-run] [--json]

The failed queue holds the events Gainsight PX rejected for good (with the reason), parked
messages that could not be read, and parked messages SQS moved there after too many receives.

  list     prints one line per message: failedAt, event type, messageId, userId, reason code and
           status, reason message ("-" where a message has no such field). Never the event's
           traits, never a secret. SQS can only show a message by receiving it: listing hides each
           message while it runs and makes it visible again when done; nothing is deleted.
  replay   sends each event again, with the relay's own checks, mapping and retries, after you
           fixed the cause (settings, the user's data in Gainsight, the API key). A message is
           deleted once Gainsight accepted its event; one rejected again stays with the new reason
           (a new message is stored, then the old one deleted); one that still fails (5xx, 429,
           timeouts) stays as it was and holds back that user's later messages. Progress on stderr.
  purge    deletes the messages that failed before the given age or date; the others stay.

Options:
  --queue-url <url>          the failed queue (default: FAILED_QUEUE_URL)
  --region <region>          AWS region of the queue and parameters (default: AWS_REGION / profile)
  --json                     list, purge: one JSON object per message instead of a line
  --show-events              list --json: include each whole event (it may carry personal data)
  --limit <n>                list: at most n messages (default 100)
  --older-than <age|date>    purge: 30m, 12h, 7d, 2w, or an ISO date such as 2024-05-01
  --dry-run                  purge: print what would be deleted, delete nothing; replay: print
                             the planned requests (API key redacted), send and delete nothing
  --ssm-prefix <prefix>      replay: configuration from the relay's SSM parameters (default:
                             PX_API_KEY, PX_PRODUCT_KEY, PX_SETTINGS, GAINSIGHT_PX_BASE_URL)
  --rate <n>                 replay: Gainsight requests per second (default 50, at most ${MAX_RATE})
  --concurrency <n>          replay: messages in flight at once (default 4, at most 10)
  --budget-ms <ms>           replay: time one message may spend on retries (default 30000)
  -h, --help                 this help

Exit codes: 0 all good; 1 replay left messages in the queue (rejected again, still failing, not
the relay's, received by someone else meanwhile, or the run stopped early), a purge could not
delete some or stopped before the end of the queue, or SQS failed; 2 usage or configuration error.

The failed queue's policy lets only the relay's role send to it: run replay with that role (or
add yours to the policy), or an event rejected again keeps its old reason.
`;

const COMMON = { 'queue-url': { type: 'string' }, region: { type: 'string' } } as const;

const UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `--older-than`: an age (`30m`, `12h`, `7d`, `2w`) or an ISO date; returns the cutoff, epoch ms. */
export function olderThanOption(value: string | undefined, now = Date.now()): number {
  if (value === undefined) throw new UsageError('purge needs --older-than <age|date>, e.g. --older-than 7d');
  const age = /^(\d+(?:\.\d+)?)(s|m|h|d|w)$/.exec(value.trim());
  if (age) {
    const ms = Number(age[1]) * UNITS_MS[age[2]!]!;
    if (!(ms > 0)) throw new UsageError(`--older-than must be more than nothing (got "${value}")`);
    return now - ms;
  }
  const date = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim()) ? Date.parse(value.trim()) : Number.NaN;
  if (Number.isNaN(date)) {
    throw new UsageError(`--older-than must be an age such as 30m, 12h, 7d, 2w, or an ISO date such as 2024-05-01 (got "${value}")`);
  }
  if (date > now) throw new UsageError(`--older-than ${value} is in the future: that would purge everything`);
  return date;
}

/** Runs `failed <subcommand> ...` and returns the exit code. */
export async function runFailed(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(FAILED_HELP);
    return sub === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (sub !== 'list' && sub !== 'replay' && sub !== 'purge') throw new UsageError(`unknown failed command "${sub}" (list, replay or purge)`);
  const { values, positionals } = parse(
    rest,
    sub === 'list'
      ? { ...COMMON, json: { type: 'boolean' }, 'show-events': { type: 'boolean' }, limit: { type: 'string' } }
      : sub === 'purge'
        ? { ...COMMON, json: { type: 'boolean' }, 'older-than': { type: 'string' }, 'dry-run': { type: 'boolean' } }
        : { ...COMMON, 'ssm-prefix': { type: 'string' }, rate: { type: 'string' }, concurrency: { type: 'string' }, 'budget-ms': { type: 'string' }, 'dry-run': { type: 'boolean' } },
  );
  if (values.help) {
    io.stdout.write(FAILED_HELP);
    return EXIT_OK;
  }
  const str = (name: string): string | undefined => values[name] as string | undefined;
  if (positionals.length > 0) throw new UsageError(`failed ${sub} takes no arguments (got ${positionals.join(', ')})`);
  const queueUrl = queueUrlOption(str('queue-url') ?? io.env.FAILED_QUEUE_URL, '--queue-url');
  if (!queueUrl) throw new UsageError(`failed ${sub} needs --queue-url (or FAILED_QUEUE_URL)`);
  if (str('region')) process.env.AWS_REGION = str('region');
  const redact = secretRedactor(io.env);
  const pass = { queueUrl, json: values.json === true, stdout: io.stdout, stderr: io.stderr, redact, ...(io.signal ? { signal: io.signal } : {}) };
  try {
    if (sub === 'list') {
      if (values['show-events'] && !values.json) throw new UsageError('--show-events goes with --json');
      const limit = integerOption(str('limit'), '--limit', 100, 1, 100_000);
      return await listFailed({ ...pass, limit, showEvents: values['show-events'] === true });
    }
    if (sub === 'purge') {
      const cutoff = olderThanOption(str('older-than'));
      return await purgeFailed({ ...pass, cutoff, dryRun: values['dry-run'] === true });
    }
    const rate = rateOption(str('rate'));
    const concurrency = integerOption(str('concurrency'), '--concurrency', 4, 1, 10);
    const budgetMs = integerOption(str('budget-ms'), '--budget-ms', 30_000, 1000, 600_000);
    const config = await loadCliConfig({
      env: io.env,
      dryRun: values['dry-run'] === true,
      ...(str('ssm-prefix') === undefined ? {} : { ssmPrefix: str('ssm-prefix') as string }),
    });
    for (const warning of config.warnings) io.stderr.write(`warning: ${warning}\n`);
    const summary = await replayFailed({
      config,
      queueUrl,
      rate,
      // No more in flight than the rate lets start within an attempt's timeout (as redrive does).
      concurrency: Math.max(1, Math.min(concurrency, Math.floor(rate * 2))),
      budgetMs,
      dryRun: config.dryRun,
      stdout: io.stdout,
      stderr: io.stderr,
      redact,
      ...runIo(io),
    });
    io.stderr.write(`${formatFailedReplaySummary(summary)}\n`);
    return failedReplayExitCode(summary);
  } catch (error) {
    if (!isRelayError(error) || error.code !== 'queue_unavailable') throw error;
    // The SDK's own words say what is wrong (no such queue, access denied, no credentials).
    const cause = error.cause instanceof Error ? `: ${error.cause.name}: ${error.cause.message}` : '';
    io.stderr.write(redact(`error: ${error.message}${cause}\n`));
    return EXIT_PROBLEMS;
  }
}
