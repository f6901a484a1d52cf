/**
 * The relay under load, in its own process (as in Lambda, the fake Gainsight PX runs elsewhere:
 * in the parent process, on the other core). Started by bench/run.mjs with the production
 * environment and `--expose-gc`; driven over IPC:
 *
 *   { cmd: 'invoke', body }                    one POST /events; answers { status, body }
 *   { cmd: 'overhead', events, requests, ... } relay vs plain fetch, alternating; answers timings
 *   { cmd: 'soak', events, ... }               RSS before/after N events through the relay
 *   { cmd: 'run', events, ... }                N events through the relay (e.g. SSM counting)
 *
 * stdout carries the relay's own log and metric lines (the parent counts their bytes); results
 * go back over IPC only.
 */
import { pathToFileURL } from 'node:url';
import { BUILDERS, httpApiEvent, lambdaContext } from './lib/events.mjs';

const [bundle, exportName = 'handler'] = process.argv.slice(2);
const handler = (await import(pathToFileURL(bundle).href))[exportName];
const secret = process.env.BENCH_WEBHOOK_SECRET;

let invocations = 0;
async function invoke(body) {
  invocations += 1;
  const answer = await handler(httpApiEvent(body, secret, invocations), lambdaContext(invocations));
  return answer;
}

/** Runs `task(i)` for i in [0, n) with `concurrency` in flight; resolves with the elapsed ms. */
async function pool(n, concurrency, task) {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      for (let index = next++; index < n; index = next++) await task(index);
    }),
  );
  return performance.now() - started;
}

/**
 * `{ type, start, count }` events made on the fly (no array of them is held, so memory figures
 * are the relay's), each through the relay; throws on the first answer that is not 200.
 */
async function relayAll({ type = 'track', start, count }, concurrency) {
  const build = BUILDERS[type];
  return pool(count, concurrency, async (index) => {
    const answer = await invoke(build(start + index));
    if (answer?.statusCode !== 200) throw new Error(`relay answered ${answer?.statusCode}: ${String(answer?.body).slice(0, 300)}`);
  });
}

/** The same Gainsight calls the relay would make, sent with plain fetch (the floor). */
async function fetchAll(requests, concurrency, apiKey) {
  return pool(requests.length, concurrency, async (index) => {
    const request = requests[index];
    const response = await fetch(request.url, {
      method: request.method,
      headers: { 'X-APTRINSIC-API-KEY': apiKey, Accept: 'application/json', 'Content-Type': 'application/json' },
      body: request.json,
    });
    await response.text();
    if (response.status >= 300) throw new Error(`baseline got ${response.status}`);
  });
}

/**
 * Memory after full garbage collections and a pause for V8's concurrent sweeper to hand pages
 * back: what the process keeps, not what it has yet to free.
 */
const settled = async () => {
  for (let round = 0; round < 2; round += 1) {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const { rss, heapUsed, external } = process.memoryUsage();
  return { rss, heapUsed, external };
};

const commands = {
  async invoke({ body }) {
    const answer = await invoke(body);
    return { status: answer?.statusCode, body: answer?.body };
  },
  async run({ events, concurrency }) {
    return { ms: await relayAll(events, concurrency) };
  },
  async overhead({ events, requests, concurrency, apiKey, warmup }) {
    if (warmup > 0) {
      await relayAll({ ...events, start: events.start - warmup, count: warmup }, concurrency);
      await fetchAll(requests.slice(0, warmup), concurrency, apiKey);
    }
    // Baseline first, then the relay, so drift (GC, CPU frequency) hits both sides alike.
    const cpu0 = process.cpuUsage();
    const fetchMs = await fetchAll(requests, concurrency, apiKey);
    const cpu1 = process.cpuUsage();
    const relayMs = await relayAll(events, concurrency);
    const cpu2 = process.cpuUsage();
    const cpuMs = (from, to) => (to.user - from.user + to.system - from.system) / 1000;
    return { relayMs, fetchMs, relayCpuMs: cpuMs(cpu1, cpu2), fetchCpuMs: cpuMs(cpu0, cpu1) };
  },
  async soak({ events, concurrency, warmup }) {
    await relayAll({ ...events, start: events.start - warmup, count: warmup }, concurrency);
    const before = await settled();
    const samples = [];
    const chunk = Math.max(1, Math.ceil(events.count / 10));
    let ms = 0;
    for (let done = 0; done < events.count; done += chunk) {
      ms += await relayAll({ ...events, start: events.start + done, count: Math.min(chunk, events.count - done) }, concurrency);
      samples.push((await settled()).rss);
    }
    const after = await settled();
    return { before, after, samples, peak: process.resourceUsage().maxRSS * 1024, ms };
  },
};

process.on('message', async (message) => {
  try {
    const result = await commands[message.cmd](message);
    process.send({ id: message.id, ok: true, result });
  } catch (error) {
    process.send({ id: message.id, ok: false, error: error instanceof Error ? error.stack : String(error) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true, rss: process.memoryUsage().rss });
