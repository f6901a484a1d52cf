import { parseArgs } from 'node:util';
import { MAX_RATE } from './pacing.ts';
import type { OutputStream } from './progress.ts';
import type { WritableOutput } from './replay.ts';

/**
 * What every command of the `gainsight-px-relay` CLI shares: its streams and signals, the exit
 * codes, the usage error, and the checks of the options several commands take (rate, whole
 * numbers, queue URLs), decided here once.
 */

export const EXIT_OK = 0;
export const EXIT_PROBLEMS = 1;
export const EXIT_USAGE = 2;

export interface CliIo {
  stdout: WritableOutput;
  stderr: OutputStream;
  env: Record<string, string | undefined>;
  /** Overrides `stderr.isTTY` for the progress display. */
  isTTY?: boolean;
  /** Graceful stop (first SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** Immediate stop (second SIGINT). */
  abortSignal?: AbortSignal;
  progressIntervalMs?: number;
  /** Tests: the clock and sleep of the quota pacing (a UTC midnight crossed at once). */
  clock?: { now: () => number; sleep: (ms: number, signal?: AbortSignal) => Promise<void> };
}

/**
 * What a long-running command takes from its caller's streams and signals: the progress display
 * (terminal or not, how often) and the graceful and immediate stops. Absent ones are left out.
 */
export function runIo(io: CliIo): Pick<CliIo, 'isTTY' | 'progressIntervalMs' | 'signal' | 'abortSignal'> {
  return {
    ...(io.isTTY === undefined ? {} : { isTTY: io.isTTY }),
    ...(io.progressIntervalMs === undefined ? {} : { progressIntervalMs: io.progressIntervalMs }),
    ...(io.signal ? { signal: io.signal } : {}),
    ...(io.abortSignal ? { abortSignal: io.abortSignal } : {}),
  };
}

/** A wrong command line: exit 2 with the message and a pointer to --help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A whole-number option within [min, max]; `fallback` when it is absent. */
export function integerOption(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isFinite(number) || number < min) throw new UsageError(`${name} must be a number ≥ ${min} (got "${value}")`);
  if (number > max) throw new UsageError(`${name} must be at most ${max} (got ${value})`);
  return number;
}

/** `--rate`: Gainsight requests per second, default 50, at most Gainsight's limit. */
export function rateOption(value: string | undefined): number {
  if (value === undefined) return 50;
  const rate = Number(value);
  if (!Number.isFinite(rate) || rate <= 0) throw new UsageError(`--rate must be a positive number (got "${value}")`);
  if (rate > MAX_RATE) {
    throw new UsageError(
      `--rate ${value} is above Gainsight PX's limit of about ${MAX_RATE} requests per second (shared with the relay's own traffic); use ${MAX_RATE} or less`,
    );
  }
  return rate;
}

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/** Parses a command's arguments (with -h/--help); an unknown or malformed option is a UsageError. */
export const parse = (args: string[], options: OptionSpec): { values: Record<string, string | boolean | undefined>; positionals: string[] } => {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
};

/** A queue URL option: absent stays absent; anything but an http(s) URL is a usage error. */
export function queueUrlOption(value: string | undefined, name: string): string | undefined {
  if (value !== undefined && value !== '' && !/^https?:\/\/\S+$/i.test(value)) throw new UsageError(`${name} must be an SQS queue URL (got "${value}")`);
  return value;
}
