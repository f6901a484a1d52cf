import { Buffer } from 'node:buffer';
import { inspect } from 'node:util';
import { vi } from 'vitest';

/**
 * Captures everything the process writes — stdout, stderr and every console method — so tests
 * can read the relay's JSON log lines and embedded-metric-format (EMF) blobs.
 */
export interface Capture {
  /** Every write or console call since the last `clear()`. */
  readonly texts: string[];
  /** The JSON objects written (one per line). */
  entries(): Record<string, unknown>[];
  clear(): void;
  restore(): void;
}

const textOf = (chunk: unknown): string =>
  typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString('utf8') : inspect(chunk);

export function captureOutput(): Capture {
  const texts: string[] = [];
  const spies = [
    ...[process.stdout, process.stderr].map((stream) =>
      vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
        texts.push(textOf(chunk));
        (rest.find((arg) => typeof arg === 'function') as (() => void) | undefined)?.();
        return true;
      }) as typeof stream.write),
    ),
    ...(['log', 'info', 'warn', 'error', 'debug', 'trace'] as const).map((method) =>
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        texts.push(args.map((arg) => (typeof arg === 'string' ? arg : inspect(arg, { depth: 10 }))).join(' '));
      }),
    ),
  ];
  return {
    texts,
    entries: () =>
      texts
        .flatMap((text) => text.split('\n'))
        .filter((line) => line.trim().startsWith('{'))
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    clear: () => {
      texts.length = 0;
    },
    restore: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}

/**
 * Runs `act` with everything the process writes captured (the capture is handed to `act` for
 * reads while it runs), stops capturing when `act` settles — also when it throws — and returns
 * the capture, whose texts and entries stay readable.
 */
export async function captureWhile(act: (capture: Capture) => Promise<void>): Promise<Capture> {
  const capture = captureOutput();
  try {
    await act(capture);
  } finally {
    capture.restore();
  }
  return capture;
}

/**
 * Remembers the environment variables `names` as they are now (typically the logger's and the
 * metrics' switches, which decide what the relay writes) and returns the function that puts them
 * back: a variable that was unset is deleted again.
 */
export function saveEnv(names: readonly string[]): () => void {
  const saved = names.map((name) => [name, process.env[name]] as const);
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/** An EMF blob's metric names, dimension sets and values, for assertions. */
export interface EmittedMetric {
  name: string;
  unit: string | undefined;
  dimensions: Record<string, string>;
  value: unknown;
}

/** Every metric in the captured EMF blobs (namespace checked by the caller). */
export function emittedMetrics(entries: Record<string, unknown>[], namespace: string): EmittedMetric[] {
  return entries.flatMap((entry) => {
    const meta = entry._aws as { CloudWatchMetrics?: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit?: string }[] }[] } | undefined;
    return (meta?.CloudWatchMetrics ?? [])
      .filter((directive) => directive.Namespace === namespace)
      .flatMap((directive) =>
        directive.Metrics.map((metric) => ({
          name: metric.Name,
          unit: metric.Unit,
          dimensions: Object.fromEntries((directive.Dimensions[0] ?? []).map((name) => [name, String(entry[name])])),
          value: entry[metric.Name],
        })),
      );
  });
}
