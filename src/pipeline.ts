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
  /** `DELIVERY_MODE=queued`: requests put events on the parking queue; the consumer delivers. */
  queued?: boolean;
  /** `GAINSIGHT_MAX_IN_FLIGHT`: Gainsight calls this process may have in flight at once. */
  maxInFlight?: number;
}

export interface Pipeline {
  ctx: MappingContext;
  /** Requests queue their events instead of delivering them (DELIVERY_MODE=queued). */
  queued: boolean;
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

/**
 * At most `limit` calls in flight (fleet limits, docs/scaling.md): a call waits for a free slot, in
 * arrival order. One per process, shared by every request and message it handles.
 */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    this.#free = limit;
  }

  readonly run = async <T>(task: () => Promise<T>): Promise<T> => {
    if (this.#free > 0) this.#free -= 1;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free += 1;
    }
  };
}

let slots: Slots | undefined;
const slotsFor = (limit: number): Slots => {
  if (slots === undefined || slots.limit !== limit) slots = new Slots(limit);
  return slots;
};

/** The client's `send`, paced (the CLI's rate) and timed (metrics) as asked. */
function transportOf(gainsight: GainsightClient, options: PipelineOptions): Transport {
  const { pace, metrics } = options;
  const timed: Transport = async (request, call) => {
    if (!metrics) return gainsight.send(request, call);
    const started = performance.now();
    try {
      const response = await gainsight.send(request, call);
      recordGainsightCall(performance.now() - started, response.status, request.method);
      return response;
    } catch (error) {
      recordGainsightCall(performance.now() - started, undefined, request.method);
      throw error;
    }
  };
  if (!pace) return timed;
  return async (request, call) => {
    await pace(call.signal);
    return timed(request, call);
  };
}

/**
 * The keyed user hash, remembered for the users seen lately: one HMAC per user rather than one
 * per event (a sender's traffic comes from a working set of users). Bounded: cleared when full.
 */
function userHashes(key: Buffer, max = 10_000): (userId: string | undefined) => string | undefined {
  const known = new Map<string, string>();
  return (userId) => {
    if (userId === undefined) return undefined;
    let hashed = known.get(userId);
    if (hashed === undefined) {
      hashed = userHash(userId, key) as string;
      if (known.size >= max) known.clear();
      known.set(userId, hashed);
    }
    return hashed;
  };
}

export function buildPipeline(config: RelayConfig, options: PipelineOptions): Pipeline {
  const ctx: MappingContext = { settings: config.settings, productKey: config.productKey };
  const gainsight = clientFor(config);
  const transport = gainsight && transportOf(gainsight, options);
  const gate = options.maxInFlight === undefined ? undefined : slotsFor(options.maxInFlight).run;
  return {
    ctx,
    queued: options.queued === true,
    client: gainsight,
    parking: queueFor(options.parkingQueueUrl),
    failed: queueFor(options.failedQueueUrl),
    acknowledged,
    budgetMs: options.budgetMs,
    hashUser: userHashes(config.logKey),
    deps: (deadline, signal) => ({ ctx, baseUrl: config.baseUrl, transport, deadline, ...(signal ? { signal } : {}), ...(gate ? { gate } : {}) }),
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
