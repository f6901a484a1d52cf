import type { RelayConfig } from './config/relay-config.ts';
import { AcknowledgedEvents } from './delivery/dedupe.ts';
import type { ProcessDeps } from './delivery/process.ts';
import { Queue } from './delivery/queue.ts';
import type { Transport } from './delivery/retry.ts';
import { GainsightClient } from './gainsight/client.ts';
import type { MappingContext } from './mapping/index.ts';
import { recordGainsightCall, userHash } from './observability.ts';

/**
 * The one factory of the delivery pipeline: from a loaded configuration to the Gainsight client,
 * the queues, the memory of delivered events and the budget. The Lambda handler, the scheduled
 * run, the deep health check and the CLI all build what they send with here.
 */

export interface PipelineOptions {
  /** Time one request (or one parked message) may spend delivering. */
  budgetMs: number;
  /** `DEAD_LETTER_QUEUE_URL`: where events that could not be delivered in time are parked. */
  parkingQueueUrl?: string | undefined;
  /** `FAILED_QUEUE_URL`: where events Gainsight rejected for good are copied, with the reason. */
  failedQueueUrl?: string | undefined;
  /** Waits for a turn before every Gainsight attempt, retries included (the CLI's `--rate`). */
  pace?: (signal?: AbortSignal) => Promise<void>;
  /** Record every call as metrics (the Lambda; the CLI publishes none). */
  metrics?: boolean;
}

export interface Pipeline {
  ctx: MappingContext;
  /** Undefined in a dry run: nothing is sent. */
  client: GainsightClient | undefined;
  parking: Queue | undefined;
  failed: Queue | undefined;
  /** Events this container delivered or parked lately: a resend is not written twice. */
  acknowledged: AcknowledgedEvents;
  budgetMs: number;
  /** A user as logs name them: a keyed hash, never the id. */
  hashUser: (userId: string | undefined) => string | undefined;
  /** What delivering needs, with no Gainsight attempt starting after `deadline`. */
  deps: (deadline: number, signal?: AbortSignal) => ProcessDeps;
}

/** One client per container and per key and base URL, so keep-alive connections are reused. */
let client: GainsightClient | undefined;
function clientFor(config: RelayConfig): GainsightClient | undefined {
  if (config.dryRun || config.apiKey === undefined) return undefined;
  if (client === undefined || client.baseUrl !== config.baseUrl || !client.hasKey(config.apiKey)) {
    client = new GainsightClient({ baseUrl: config.baseUrl, apiKey: config.apiKey });
  }
  return client;
}

const queues = new Map<string, Queue>();
const queueFor = (url: string | undefined): Queue | undefined => {
  if (!url) return undefined;
  let queue = queues.get(url);
  if (queue === undefined) {
    queue = new Queue(url);
    queues.set(url, queue);
  }
  return queue;
};

/** The container's memory of acknowledged events, whatever the configuration. */
const acknowledged = new AcknowledgedEvents();

/** The client's `send`, paced (the CLI's rate) and timed (the Lambda's metrics) as asked. */
function transportOf(gainsight: GainsightClient, options: PipelineOptions): Transport {
  const { pace, metrics } = options;
  return async (request, signal) => {
    if (pace) await pace(signal);
    if (!metrics) return gainsight.send(request, signal);
    const started = performance.now();
    try {
      const response = await gainsight.send(request, signal);
      recordGainsightCall(performance.now() - started, response.status);
      return response;
    } catch (error) {
      recordGainsightCall(performance.now() - started, undefined);
      throw error;
    }
  };
}

export function buildPipeline(config: RelayConfig, options: PipelineOptions): Pipeline {
  const ctx: MappingContext = { settings: config.settings, productKey: config.productKey };
  const gainsight = clientFor(config);
  const transport = gainsight && transportOf(gainsight, options);
  return {
    ctx,
    client: gainsight,
    parking: queueFor(options.parkingQueueUrl),
    failed: queueFor(options.failedQueueUrl),
    acknowledged,
    budgetMs: options.budgetMs,
    hashUser: (userId) => userHash(userId, config.logKey),
    deps: (deadline, signal) => ({ ctx, baseUrl: config.baseUrl, transport, deadline, ...(signal ? { signal } : {}) }),
  };
}

const built = new WeakMap<RelayConfig, Pipeline>();

/** The pipeline of a configuration, built once per loaded configuration (warm requests reuse it). */
export function pipelineFor(config: RelayConfig, options: PipelineOptions): Pipeline {
  let pipeline = built.get(config);
  if (pipeline === undefined) {
    pipeline = buildPipeline(config, options);
    built.set(config, pipeline);
  }
  return pipeline;
}
